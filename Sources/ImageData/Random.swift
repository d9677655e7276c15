/// SplitMix64: a small, fast, seedable generator. Every random choice of the data pipeline comes from
/// one of these, seeded from (seed, epoch, item), so results never depend on thread timing.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// The generator for one item of one epoch.
  public static func forItem(seed: UInt64, epoch: Int, item: Int) -> SplitMix64 {
    var g = SplitMix64(seed: seed ^ (UInt64(bitPattern: Int64(epoch)) &* 0xD1B5_4A32_D192_ED03) ^ (UInt64(bitPattern: Int64(item)) &* 0x8CB9_2BA7_2F3D_8DD7))
    _ = g.next()
    return g
  }
}
