import CTorch

/// A fast 64-bit checksum (the shim's `pt_checksum64`) as hex: checkpoint integrity and config digests.
/// Detects corruption and edits; not a cryptographic hash.
public enum Checksum {
  public static func hex(_ bytes: [UInt8], seed: UInt64 = 0) -> String {
    String(bytes.withUnsafeBufferPointer { pt_checksum64($0.baseAddress, $0.count, seed) }, radix: 16)
  }
  public static func hex(_ text: String) -> String { hex(Array(text.utf8)) }
}
