/// MD5 (RFC 1321), streaming: for verifying downloads against fastai's published checksums.
public struct MD5: Sendable {
  private var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
  private var buffer: [UInt8] = []
  private var length: UInt64 = 0

  static let s: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                            5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
  static let k: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64((abs(sin(Double($0 + 1))) * 4_294_967_296).rounded(.down))) }

  public init() {}

  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    length &+= UInt64(bytes.count)
    var rest = bytes[...]
    if !buffer.isEmpty {
      let take = Swift.min(64 - buffer.count, rest.count)
      buffer += rest.prefix(take)
      rest = rest.dropFirst(take)
      if buffer.count == 64 {
        buffer.withUnsafeBytes { block($0) }
        buffer.removeAll(keepingCapacity: true)
      }
    }
    while rest.count >= 64 {
      block(UnsafeRawBufferPointer(rebasing: rest.prefix(64)))
      rest = rest.dropFirst(64)
    }
    buffer += rest
  }

  public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

  /// The digest as 32 lowercase hex digits.
  public mutating func hexDigest() -> String {
    let bits = length &* 8
    var pad: [UInt8] = [0x80] + [UInt8](repeating: 0, count: (55 - Int(length % 64) + 64) % 64)
    for i in 0..<8 { pad.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
    let saved = length
    update(pad)
    length = saved
    return [state.0, state.1, state.2, state.3].map { v in
      (0..<4).map { String(format: "%02x", (v >> (8 * UInt32($0))) & 0xff) }.joined()
    }.joined()
  }

  private mutating func block(_ p: UnsafeRawBufferPointer) {
    var m = [UInt32](repeating: 0, count: 16)
    for i in 0..<16 { m[i] = p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian }
    var (a, b, c, d) = state
    for i in 0..<64 {
      var f: UInt32, g: Int
      switch i {
      case 0..<16: (f, g) = ((b & c) | (~b & d), i)
      case 16..<32: (f, g) = ((d & b) | (~d & c), (5 * i + 1) % 16)
      case 32..<48: (f, g) = (b ^ c ^ d, (3 * i + 5) % 16)
      default: (f, g) = (c ^ (b | ~d), (7 * i) % 16)
      }
      f = f &+ a &+ Self.k[i] &+ m[g]
      a = d; d = c; c = b
      b = b &+ ((f << Self.s[i]) | (f >> (32 - Self.s[i])))
    }
    state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
  }
}

import Foundation

extension MD5 {
  /// The MD5 of a file, read in 1 MiB pieces.
  public static func hexDigest(ofFile path: String) throws -> String {
    guard let h = FileHandle(forReadingAtPath: path) else { throw DatasetError(path: path, "cannot be read") }
    defer { try? h.close() }
    var md5 = MD5()
    while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty { chunk.withUnsafeBytes { md5.update($0) } }
    return md5.hexDigest()
  }
}
