import CTorch

/// Element types, with libtorch's ScalarType codes.
public enum DType: Int32, CaseIterable, Sendable, CustomStringConvertible {
  case uint8 = 0
  case int8 = 1
  case int16 = 2
  case int32 = 3
  case int64 = 4
  case float16 = 5
  case float32 = 6
  case float64 = 7
  case bool = 11
  case bfloat16 = 15

  public var elementSize: Int {
    switch self {
    case .uint8, .int8, .bool: 1
    case .int16, .float16, .bfloat16: 2
    case .int32, .float32: 4
    case .int64, .float64: 8
    }
  }

  public var isFloatingPoint: Bool {
    switch self {
    case .float16, .float32, .float64, .bfloat16: true
    default: false
    }
  }

  public var description: String {
    switch self {
    case .uint8: "uint8"
    case .int8: "int8"
    case .int16: "int16"
    case .int32: "int32"
    case .int64: "int64"
    case .float16: "float16"
    case .float32: "float32"
    case .float64: "float64"
    case .bool: "bool"
    case .bfloat16: "bfloat16"
    }
  }
}

/// Where a tensor lives.
public enum Device: Hashable, Sendable, CustomStringConvertible {
  case cpu
  case cuda(Int)

  public static var cuda: Device { .cuda(0) }

  var typeCode: Int32 {
    switch self {
    case .cpu: Int32(PT_CPU)
    case .cuda: Int32(PT_CUDA)
    }
  }

  var index: Int32 {
    switch self {
    case .cpu: -1
    case .cuda(let i): Int32(i)
    }
  }

  /// Parses "cpu", "cuda" or "cuda:N".
  public init?(_ text: String) {
    if text == "cpu" {
      self = .cpu
    } else if text == "cuda" {
      self = .cuda(0)
    } else if text.hasPrefix("cuda:"), let i = Int(text.dropFirst(5)), i >= 0 {
      self = .cuda(i)
    } else {
      return nil
    }
  }

  public var description: String {
    switch self {
    case .cpu: "cpu"
    case .cuda(let i): "cuda:\(i)"
    }
  }
}

/// How a 4-d tensor's elements are laid out in memory.
public enum MemoryFormat: Int32, Sendable {
  case contiguous = 0
  case channelsLast = 1
  case preserve = 2
}

/// A number passed to libtorch, keeping Python's distinction between ints, floats and bools
/// (it decides type promotion: int tensor + 1 stays int, int tensor + 1.0 becomes float).
public enum Scalar: Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
  ExpressibleByBooleanLiteral, CustomStringConvertible
{
  case float(Double)
  case int(Int)
  case bool(Bool)

  public init(integerLiteral value: Int) { self = .int(value) }
  public init(floatLiteral value: Double) { self = .float(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }

  public var doubleValue: Double {
    switch self {
    case .float(let f): f
    case .int(let i): Double(i)
    case .bool(let b): b ? 1 : 0
    }
  }

  public var description: String {
    switch self {
    case .float(let f): "\(f)"
    case .int(let i): "\(i)"
    case .bool(let b): "\(b)"
    }
  }

  var c: pt_scalar {
    switch self {
    case .float(let f): pt_scalar(f: f, i: 0, kind: 0)
    case .int(let i): pt_scalar(f: 0, i: i, kind: 1)
    case .bool(let b): pt_scalar(f: 0, i: b ? 1 : 0, kind: 2)
    }
  }

  init(_ c: pt_scalar) {
    switch c.kind {
    case 1: self = .int(c.i)
    case 2: self = .bool(c.i != 0)
    default: self = .float(c.f)
    }
  }
}

/// Swift types that map one to one onto a tensor dtype.
public protocol TensorElement {
  static var dtype: DType { get }
}
extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension Int16: TensorElement { public static var dtype: DType { .int16 } }
extension Int8: TensorElement { public static var dtype: DType { .int8 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
#if arch(x86_64) || arch(arm64)
extension Float16: TensorElement { public static var dtype: DType { .float16 } }
#endif
