import CTorch

/// An n-dimensional array owned by libtorch. The handle is released exactly once, in `deinit`.
///
/// A `Tensor` is a reference to libtorch's tensor, as a Python `torch.Tensor` is: views share storage,
/// in-place operations (names ending in `_`) are seen through every reference.
public final class Tensor: @unchecked Sendable {
  let handle: pt_tensor

  init(owning handle: pt_tensor) { self.handle = handle }

  deinit { pt_free(handle) }

  /// Wraps a handle returned by the shim, or throws the thread's libtorch error.
  @inline(__always)
  static func wrap(_ handle: pt_tensor?, _ operation: @autoclosure () -> String) throws -> Tensor {
    guard let handle else { throw TorchError.last(operation()) }
    return Tensor(owning: handle)
  }

  // MARK: Metadata (cannot fail on a live tensor)

  public var rank: Int { pt_dim(handle) }

  public var shape: [Int] {
    let n = pt_dim(handle)
    return [Int](unsafeUninitializedCapacity: n) { buf, count in
      _ = pt_sizes(handle, buf.baseAddress, n)
      count = n
    }
  }

  public var strides: [Int] {
    let n = pt_dim(handle)
    return [Int](unsafeUninitializedCapacity: n) { buf, count in
      _ = pt_strides(handle, buf.baseAddress, n)
      count = n
    }
  }

  public var count: Int { pt_numel(handle) }

  public var dtype: DType {
    let code = pt_dtype(handle)
    guard let d = DType(rawValue: code) else { fatalError("Tensor has a dtype Pretext does not model (code \(code))") }
    return d
  }

  public var device: Device {
    pt_device_type(handle) == PT_CUDA ? .cuda(Int(pt_device_index(handle))) : .cpu
  }

  public func isContiguous(_ format: MemoryFormat = .contiguous) -> Bool {
    pt_is_contiguous(handle, format.rawValue) == 1
  }

  /// Whether the two tensors have the same shape and lay their elements out in the same order in memory
  /// (the strides of size-1 dimensions do not matter: nothing steps along them).
  public func hasSameLayout(as other: Tensor) -> Bool {
    let (shape, otherShape) = (self.shape, other.shape)
    guard shape == otherShape else { return false }
    let (a, b) = (strides, other.strides)
    return shape.indices.allSatisfy { shape[$0] == 1 || a[$0] == b[$0] }
  }

  /// Size in bytes of the elements (not of the storage a view may share).
  public var byteCount: Int { count * dtype.elementSize }

  // MARK: Creation

  public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try wrap(pt_empty(shape, shape.count, dtype.rawValue, device.typeCode, device.index), "empty")
  }

  public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try wrap(pt_zeros(shape, shape.count, dtype.rawValue, device.typeCode, device.index), "zeros")
  }

  public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
    try wrap(pt_ones(shape, shape.count, dtype.rawValue, device.typeCode, device.index), "ones")
  }

  public static func full(_ shape: [Int], _ value: Scalar, dtype: DType = .float32, device: Device = .cpu) throws
    -> Tensor
  {
    try wrap(pt_full(shape, shape.count, value.c, dtype.rawValue, device.typeCode, device.index), "full")
  }

  /// Values from `start` up to (not including) `end` by `step`.
  public static func arange(
    _ start: Scalar = 0, _ end: Scalar, step: Scalar = 1, dtype: DType = .int64, device: Device = .cpu
  ) throws -> Tensor {
    try wrap(pt_arange(start.c, end.c, step.c, dtype.rawValue, device.typeCode, device.index), "arange")
  }

  public static func linspace(
    _ start: Double, _ end: Double, steps: Int, dtype: DType = .float32, device: Device = .cpu
  ) throws -> Tensor {
    try wrap(pt_linspace(start, end, steps, dtype.rawValue, device.typeCode, device.index), "linspace")
  }

  /// Uniform samples in [0, 1), drawn from `generator` (the device's default generator when nil).
  public static func rand(
    _ shape: [Int], generator: Generator? = nil, dtype: DType = .float32, device: Device = .cpu
  ) throws -> Tensor {
    try wrap(
      pt_rand(shape, shape.count, generator?.handle, dtype.rawValue, device.typeCode, device.index), "rand")
  }

  /// Standard normal samples, drawn from `generator` (the device's default generator when nil).
  public static func randn(
    _ shape: [Int], generator: Generator? = nil, dtype: DType = .float32, device: Device = .cpu
  ) throws -> Tensor {
    try wrap(
      pt_randn(shape, shape.count, generator?.handle, dtype.rawValue, device.typeCode, device.index), "randn")
  }

  /// Integers uniform in low..<high.
  public static func randint(
    _ low: Int, _ high: Int, _ shape: [Int], generator: Generator? = nil, dtype: DType = .int64,
    device: Device = .cpu
  ) throws -> Tensor {
    try wrap(
      pt_randint(low, high, shape, shape.count, generator?.handle, dtype.rawValue, device.typeCode, device.index),
      "randint")
  }

  /// A random permutation of 0..<n (int64).
  public static func randperm(_ n: Int, generator: Generator? = nil, device: Device = .cpu) throws -> Tensor {
    try wrap(pt_randperm(n, generator?.handle, device.typeCode, device.index), "randperm")
  }

  public func uniform_(_ from: Double = 0, _ to: Double = 1, generator: Generator? = nil) throws {
    try check(pt_uniform_(handle, from, to, generator?.handle), "uniform_")
  }

  public func normal_(mean: Double = 0, std: Double = 1, generator: Generator? = nil) throws {
    try check(pt_normal_(handle, mean, std, generator?.handle), "normal_")
  }

  // MARK: Swift arrays and buffers

  /// A CPU tensor holding a copy of `values` (row-major), shaped `shape` (default: 1-d).
  public convenience init<T: TensorElement>(_ values: [T], shape: [Int]? = nil) throws {
    let shape = shape ?? [values.count]
    guard shape.reduce(1, *) == values.count, shape.allSatisfy({ $0 >= 0 }) else {
      throw TorchError(operation: "Tensor.init", message: "\(values.count) values cannot have shape \(shape)")
    }
    let h = values.withUnsafeBytes { pt_from_data($0.baseAddress, shape, shape.count, T.dtype.rawValue) }
    guard let h else { throw TorchError.last("Tensor.init") }
    self.init(owning: h)
  }

  /// A 0-d tensor.
  public convenience init<T: TensorElement>(scalar value: T) throws {
    let h = withUnsafeBytes(of: value) { pt_from_data($0.baseAddress, [], 0, T.dtype.rawValue) }
    guard let h else { throw TorchError.last("Tensor.init(scalar:)") }
    self.init(owning: h)
  }

  /// A CPU tensor holding a copy of `rawBytes` (row-major elements of `dtype`).
  public convenience init(rawBytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) throws {
    guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) * dtype.elementSize == rawBytes.count else {
      throw TorchError(
        operation: "Tensor.init(rawBytes:)", message: "\(rawBytes.count) bytes cannot hold shape \(shape) of \(dtype)")
    }
    guard let h = pt_from_data(rawBytes.baseAddress, shape, shape.count, dtype.rawValue) else {
      throw TorchError.last("Tensor.init(rawBytes:)")
    }
    self.init(owning: h)
  }

  /// A CPU tensor over `bytes` *without copying*. `deallocate` runs exactly once, when libtorch frees the
  /// storage (which may be long after this tensor is gone, if views of it live on).
  public convenience init(
    bytesNoCopy bytes: UnsafeMutableRawPointer, shape: [Int], dtype: DType,
    deallocate: @escaping () -> Void
  ) throws {
    let owner = Unmanaged.passRetained(Deallocator(deallocate)).toOpaque()
    let h = pt_from_blob(bytes, shape, shape.count, dtype.rawValue, { ctx in
      Unmanaged<Deallocator>.fromOpaque(ctx!).takeRetainedValue().run()
    }, owner)
    guard let h else { throw TorchError.last("Tensor.init(bytesNoCopy:)") }
    self.init(owning: h)
  }

  /// The elements as a Swift array (copied to the CPU and made contiguous first if needed).
  public func toArray<T: TensorElement>(of type: T.Type = T.self) throws -> [T] {
    guard dtype == T.dtype else {
      throw TorchError(operation: "toArray", message: "tensor is \(dtype), asked for \(T.self) (\(T.dtype))")
    }
    let n = count
    return try [T](unsafeUninitializedCapacity: n) { buf, initialized in
      try check(pt_copy_to(handle, buf.baseAddress, n * MemoryLayout<T>.stride), "toArray")
      initialized = n
    }
  }

  /// Copies the elements (row-major, contiguous) into `buffer`, which must be exactly `byteCount` long.
  public func copyBytes(to buffer: UnsafeMutableRawBufferPointer) throws {
    try check(pt_copy_to(handle, buffer.baseAddress, buffer.count), "copyBytes")
  }

  /// Pointer to the first element of a CPU tensor. Valid while the tensor (and its storage) lives.
  public var dataPointer: UnsafeMutableRawPointer? { pt_data_ptr(handle) }

  /// The value of a one-element tensor.
  public func item() throws -> Scalar {
    var s = pt_scalar()
    try check(pt_item(handle, &s), "item")
    return Scalar(s)
  }

  public func item<T: BinaryFloatingPoint>(_: T.Type = Double.self) throws -> T { T(try item().doubleValue) }

  // MARK: Conversion

  public func to(
    dtype: DType? = nil, device: Device? = nil, nonBlocking: Bool = false, copy: Bool = false
  ) throws -> Tensor {
    let d = device ?? self.device
    return try .wrap(
      pt_to(handle, (dtype ?? self.dtype).rawValue, d.typeCode, d.index, nonBlocking, copy), "to")
  }

  public func to(_ device: Device) throws -> Tensor { try to(device: device) }

  public func contiguous(_ format: MemoryFormat = .contiguous) throws -> Tensor {
    try .wrap(pt_contiguous(handle, format.rawValue), "contiguous")
  }

  public func clone(_ format: MemoryFormat = .preserve) throws -> Tensor {
    try .wrap(pt_clone(handle, format.rawValue), "clone")
  }
}

extension Tensor: CustomStringConvertible {
  /// libtorch's printed form of the tensor.
  public var description: String {
    guard let s = pt_to_string(handle) else { return "Tensor(<unprintable: \(TorchError.last("print").message)>)" }
    defer { free(s) }
    return String(cString: s)
  }
}

/// Carries a Swift deallocation closure through libtorch's C deleter.
/// (It may run on any thread: whichever frees the storage.)
private final class Deallocator: @unchecked Sendable {
  let run: () -> Void
  init(_ run: @escaping () -> Void) { self.run = run }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
