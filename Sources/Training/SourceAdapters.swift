/// A source's first `count` batches of every pass: an epoch of a larger set cut to the optimizer steps of a smaller
/// one (the self-trained student takes as many steps as random init). Each epoch is a new shuffle of the whole set.
public struct FirstBatches: BatchSource {
  public let source: BatchSource
  public let count: Int
  public init(_ source: BatchSource, count: Int) { (self.source, self.count) = (source, Swift.min(count, source.batchCount)) }
  public var batchCount: Int { count }
  public func batches(epoch: Int) throws -> BatchStream {
    let stream = try source.batches(epoch: epoch)
    var taken = 0
    let count = count
    return BatchStream {
      guard taken < count else { return nil }
      taken += 1
      return try stream.next()
    }
  }
}

/// A source's batches with tensors renamed (`label` → `row`: a loader's integer slot read as something else).
public struct Renamed: BatchSource {
  public let source: BatchSource
  public let names: [String: String]
  public init(_ source: BatchSource, _ names: [String: String]) { (self.source, self.names) = (source, names) }
  public var batchCount: Int { source.batchCount }
  public func batches(epoch: Int) throws -> BatchStream {
    let names = names
    return try source.batches(epoch: epoch).map { batch in
      Batch(Dictionary(uniqueKeysWithValues: batch.tensors.map { (names[$0.key] ?? $0.key, $0.value) }))
    }
  }
}
