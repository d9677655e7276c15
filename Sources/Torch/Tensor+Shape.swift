import CTorch

// Views, reshaping, joining and indexing. Negative dims count from the end, as in PyTorch.

extension Tensor {
  public func reshape(_ shape: [Int]) throws -> Tensor { try .wrap(pt_reshape(handle, shape, shape.count), "reshape") }
  /// A view with a new shape; fails when the strides do not allow one (use `reshape`).
  public func view(_ shape: [Int]) throws -> Tensor { try .wrap(pt_view(handle, shape, shape.count), "view") }
  public func permute(_ dims: [Int]) throws -> Tensor { try .wrap(pt_permute(handle, dims, dims.count), "permute") }
  public func transpose(_ d0: Int, _ d1: Int) throws -> Tensor { try .wrap(pt_transpose(handle, d0, d1), "transpose") }
  public func expand(_ shape: [Int]) throws -> Tensor { try .wrap(pt_expand(handle, shape, shape.count), "expand") }
  public func `repeat`(_ repeats: [Int]) throws -> Tensor { try .wrap(pt_repeat(handle, repeats, repeats.count), "repeat") }
  public func flip(_ dims: [Int]) throws -> Tensor { try .wrap(pt_flip(handle, dims, dims.count), "flip") }
  public func squeeze(dim: Int) throws -> Tensor { try .wrap(pt_squeeze(handle, dim), "squeeze") }
  public func unsqueeze(dim: Int) throws -> Tensor { try .wrap(pt_unsqueeze(handle, dim), "unsqueeze") }
  public func flatten(start: Int = 0, end: Int = -1) throws -> Tensor { try .wrap(pt_flatten(handle, start, end), "flatten") }
  public func narrow(dim: Int, start: Int, length: Int) throws -> Tensor {
    try .wrap(pt_narrow(handle, dim, start, length), "narrow")
  }
  /// Elements start..<end (clipped to the size) by `step` along `dim`.
  public func slice(dim: Int, start: Int = 0, end: Int = Int.max, step: Int = 1) throws -> Tensor {
    try .wrap(pt_slice(handle, dim, start, end, step), "slice")
  }
  /// The sub-tensor at `index` along `dim`, with that dim removed.
  public func select(dim: Int, index: Int) throws -> Tensor { try .wrap(pt_select(handle, dim, index), "select") }
  public subscript(index: Int) -> Tensor {
    get throws { try select(dim: 0, index: index) }
  }
  public func indexSelect(dim: Int, index: Tensor) throws -> Tensor {
    try .wrap(pt_index_select(handle, dim, index.handle), "index_select")
  }
  public func gather(dim: Int, index: Tensor) throws -> Tensor { try .wrap(pt_gather(handle, dim, index.handle), "gather") }
  public func chunk(_ chunks: Int, dim: Int = 0) throws -> [Tensor] {
    guard chunks > 0 else { throw TorchError(operation: "chunk", message: "chunk expects chunks > 0, got \(chunks)") }
    var out = [pt_tensor?](repeating: nil, count: chunks)
    let n = try check(pt_chunk(handle, chunks, dim, &out, chunks), "chunk")
    return (0..<n).map { Tensor(owning: out[$0]!) }
  }
  /// Padding as F.pad: `pad` lists (before, after) pairs starting from the last dim.
  public func pad(_ pad: [Int], mode: PaddingMode = .constant, value: Double = 0) throws -> Tensor {
    try .wrap(pt_pad(handle, pad, pad.count, mode.rawValue, value), "pad")
  }
  public func oneHot(_ numClasses: Int) throws -> Tensor { try .wrap(pt_one_hot(handle, numClasses), "one_hot") }

  public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
    try withHandles(tensors) { try .wrap(pt_cat($0, tensors.count, dim), "cat") }
  }
  public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
    try withHandles(tensors) { try .wrap(pt_stack($0, tensors.count, dim), "stack") }
  }
}

/// Passes the tensors' handles as a C array; the array keeps the tensors alive for the call.
func withHandles<R>(_ tensors: [Tensor], _ body: (UnsafePointer<pt_tensor?>) throws -> R) rethrows -> R {
  let handles: [pt_tensor?] = tensors.map { $0.handle }
  return try withExtendedLifetime(tensors) { try handles.withUnsafeBufferPointer { buf in
      // An empty array may have no storage; libtorch reads no element then, but wants a pointer.
      try body(buf.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<pt_tensor?>.alignment)!)
    } }
}

public enum PaddingMode: Int32, Sendable {
  case constant = 0
  case reflect = 1
  case replicate = 2
}
