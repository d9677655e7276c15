import CTorch
import Foundation

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw data.
///
/// The reader trusts nothing in a file: the header is checked against the file (length, JSON shape, dtype
/// names, shape × dtype size = byte length, ranges in bounds, neither overlapping nor leaving gaps) before any
/// tensor is made, so a truncated or hostile file gives a `SafeTensorsError`, never a crash or a read out of
/// bounds. Tensors are made over a copy-on-write mapping of the file: no extra full copy.
public enum SafeTensors {
  /// The largest header accepted (the reference implementation's limit).
  public static let maxHeaderSize = 100_000_000

  public struct Entry: Equatable, Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let range: Range<Int>
  }

  public struct Header: Sendable {
    /// Tensors in file (data offset) order.
    public let entries: [Entry]
    public let metadata: [String: String]
    /// Where the data section starts in the file.
    public let dataStart: Int
  }

  /// Parses and validates the header of a safetensors image held in `bytes`.
  public static func parseHeader(_ bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) -> Header {
    guard bytes.count >= 8 else { throw .init("file is \(bytes.count) bytes, too short for the 8-byte header length") }
    var n: UInt64 = 0
    for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
    guard n <= UInt64(maxHeaderSize) else { throw .init("header length \(n) exceeds the limit of \(maxHeaderSize) bytes") }
    let headerLength = Int(n)
    guard headerLength <= bytes.count - 8 else {
      throw .init("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes): truncated?")
    }
    guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else { throw .init("header is not a JSON object") }
    let json = Data(bytes[8..<(8 + headerLength)])
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: json, options: [])
    } catch {
      throw .init("header is not valid JSON")
    }
    guard let dict = object as? [String: Any] else { throw .init("header is not a JSON object") }

    var metadata: [String: String] = [:]
    var entries: [Entry] = []
    for (name, value) in dict {
      if name == "__metadata__" {
        guard let m = value as? [String: Any] else { throw .init("__metadata__ is not an object of strings") }
        for (k, v) in m {
          guard let s = v as? String else { throw .init("__metadata__[\(k)] is not a string") }
          metadata[k] = s
        }
        continue
      }
      entries.append(try entry(name, value))
    }

    let dataLength = bytes.count - 8 - headerLength
    entries.sort { ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name) }
    var end = 0
    for e in entries {
      if e.range.lowerBound < end { throw .init("tensor '\(e.name)' overlaps the tensor before it (bytes \(e.range))") }
      if e.range.lowerBound > end { throw .init("gap before tensor '\(e.name)': data bytes \(end)..<\(e.range.lowerBound) belong to no tensor") }
      end = e.range.upperBound
    }
    if end > dataLength {
      throw .init("tensor data needs \(end) bytes but the file holds \(dataLength) after the header: truncated?")
    }
    if end < dataLength { throw .init("\(dataLength - end) bytes after the last tensor belong to no tensor") }
    return Header(entries: entries, metadata: metadata, dataStart: 8 + headerLength)
  }

  static func entry(_ name: String, _ value: Any) throws(SafeTensorsError) -> Entry {
    guard let info = value as? [String: Any] else { throw .init("tensor '\(name)': description is not an object") }
    guard let code = info["dtype"] as? String else { throw .init("tensor '\(name)': missing dtype") }
    guard let dtype = DType(safetensorsName: code) else { throw .init("tensor '\(name)': unsupported dtype '\(code)'") }
    guard let shapeValues = info["shape"] as? [Any] else { throw .init("tensor '\(name)': missing shape") }
    guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2 else {
      throw .init("tensor '\(name)': data_offsets must be two integers")
    }
    guard info.count == 3 else { throw .init("tensor '\(name)': unexpected fields \(info.keys.sorted())") }
    var shape: [Int] = []
    var elements = 1
    for v in shapeValues {
      guard let d = exactInt(v), d >= 0 else { throw .init("tensor '\(name)': shape \(shapeValues) is not a list of sizes") }
      shape.append(d)
      let (p, overflow) = elements.multipliedReportingOverflow(by: d)
      guard !overflow else { throw .init("tensor '\(name)': shape \(shape) is too large") }
      elements = p
    }
    guard let begin = exactInt(offsets[0]), let end = exactInt(offsets[1]), begin >= 0, begin <= end else {
      throw .init("tensor '\(name)': data_offsets \(offsets) are not an ordered pair of byte offsets")
    }
    let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.elementSize)
    guard !overflow, bytes == end - begin else {
      throw .init("tensor '\(name)': shape \(shape) of \(dtype) needs \(overflow ? "too many" : "\(bytes)") bytes, data_offsets give \(end - begin)")
    }
    return Entry(name: name, dtype: dtype, shape: shape, range: begin..<end)
  }

  /// An integer JSON value (rejects fractions, booleans and out-of-range numbers).
  static func exactInt(_ v: Any) -> Int? {
    guard let n = v as? NSNumber else { return nil }
    // Integer encodings only: "c" is a boolean, "d"/"f" a number written with a fraction or exponent.
    switch String(cString: n.objCType) {
    case "i", "s", "l", "q", "Q": return n as? Int
    default: return nil
    }
  }

  // MARK: Files

  /// A safetensors file opened for reading: header validated, data mapped.
  public final class File: @unchecked Sendable {
    public let path: String
    public let header: Header
    let mapping: MappedFile

    public init(path: String) throws {
      self.path = path
      mapping = try MappedFile(path: path)
      do {
        header = try SafeTensors.parseHeader(mapping.bytes)
      } catch {
        throw FileError(path: path, "not a valid safetensors file: \(error.message)")
      }
    }

    public var names: [String] { header.entries.map(\.name) }
    public var metadata: [String: String] { header.metadata }

    /// The named tensor (CPU), sharing the file's mapped pages while it can (copied when misaligned).
    public func tensor(_ name: String) throws -> Tensor {
      guard let e = header.entries.first(where: { $0.name == name }) else {
        throw FileError(path: path, "no tensor named '\(name)'")
      }
      return try tensor(e)
    }

    func tensor(_ e: Entry) throws -> Tensor {
      let start = header.dataStart + e.range.lowerBound
      guard let base = mapping.base, e.range.count > 0 else {
        return try Tensor.zeros(e.shape, dtype: e.dtype)
      }
      let address = base + start
      if Int(bitPattern: address) % e.dtype.elementSize != 0 {
        return try Tensor(rawBytes: UnsafeRawBufferPointer(start: address, count: e.range.count), shape: e.shape, dtype: e.dtype)
      }
      let owner = mapping
      return try Tensor(bytesNoCopy: address, shape: e.shape, dtype: e.dtype) { withExtendedLifetime(owner) {} }
    }

    /// Every tensor, in file order.
    public func tensors() throws -> [(name: String, tensor: Tensor)] {
      try header.entries.map { ($0.name, try tensor($0)) }
    }

    /// This file, its checksum checked when it has one (`verifyChecksum`): an encoder a run saved is checked, one
    /// from elsewhere (PyTorch, another tool) has none and is taken as it is.
    public func checked() throws -> File {
      if metadata[SafeTensors.checksumKey] != nil { try verifyChecksum() }
      return self
    }

    /// Checks the checksum written by `save(…, checksum: true)`: any changed tensor byte, name, dtype, shape
    /// or metadata value is an error, as is a file without a checksum.
    public func verifyChecksum() throws {
      guard let stored = metadata[SafeTensors.checksumKey] else {
        throw FileError(path: path, "has no checksum (\(SafeTensors.checksumKey)): not written by Pretext, or damaged")
      }
      let data = mapping.bytes
      let actual = SafeTensors.checksum(header.entries, metadata: metadata) { e in
        UnsafeRawBufferPointer(rebasing: data[(header.dataStart + e.range.lowerBound)..<(header.dataStart + e.range.upperBound)])
      }
      guard actual == stored else {
        throw FileError(path: path, "checksum mismatch (stored \(stored), contents give \(actual)): the file was changed or damaged after it was written")
      }
    }
  }

  /// The metadata key of the checksum that `save(…, checksum: true)` writes and `File.verifyChecksum()` checks.
  public static let checksumKey = "pretext.checksum"

  /// A checksum over every entry (name, dtype, shape, bytes, in file order) and every metadata value but the
  /// checksum's own.
  static func checksum(_ entries: [Entry], metadata: [String: String], bytes: (Entry) -> UnsafeRawBufferPointer) -> String {
    var h: UInt64 = 0x5072_6574_6578_7431  // "Pretext1"
    func add(_ s: String) { var s = s; h = s.withUTF8 { pt_checksum64($0.baseAddress, $0.count, h) } }
    for e in entries {
      add("\(e.name)\u{0}\(e.dtype.safetensorsName)\u{0}\(e.shape)\u{0}")
      let b = bytes(e)
      h = pt_checksum64(b.baseAddress, b.count, h)
    }
    for key in metadata.keys.sorted() where key != checksumKey { add("\(key)\u{0}\(metadata[key]!)\u{0}") }
    return String(h, radix: 16)
  }

  /// Reads every tensor of a file, in file order.
  public static func load(path: String) throws -> [(name: String, tensor: Tensor)] {
    try File(path: path).tensors()
  }

  /// Writes `tensors` (any device, any layout) atomically, in the order given. `checksum`: adds a checksum of
  /// the contents to the metadata (`File.verifyChecksum()` checks it).
  public static func save(
    _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], checksum: Bool = false, to path: String
  ) throws {
    var seen = Set<String>()
    var entries: [(String, Tensor, Entry)] = []
    var offset = 0
    for (name, t) in tensors {
      guard name != "__metadata__", seen.insert(name).inserted else {
        throw FileError(path: path, "tensor name '\(name)' is reserved or repeated")
      }
      let c = try t.to(device: .cpu).contiguous()
      let n = c.byteCount
      entries.append((name, c, Entry(name: name, dtype: c.dtype, shape: c.shape, range: offset..<(offset + n))))
      offset += n
    }
    var metadata = metadata
    if checksum {
      let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.0, $0.1) })
      metadata[checksumKey] = SafeTensors.checksum(entries.map(\.2), metadata: metadata) { e in
        UnsafeRawBufferPointer(start: byName[e.name]!.dataPointer, count: e.range.count)
      }
    }
    var json = "{"
    if !metadata.isEmpty {
      json += "\"__metadata__\":{"
      json += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
      json += "},"
    }
    json += entries.map { _, _, e in
      "\(jsonString(e.name)):{\"dtype\":\"\(e.dtype.safetensorsName)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(e.range.lowerBound),\(e.range.upperBound)]}"
    }.joined(separator: ",")
    json += "}"
    var header = Array(json.utf8)
    while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }  // keeps the data 8-byte aligned
    var prefix = [UInt8](repeating: 0, count: 8)
    for i in 0..<8 { prefix[i] = UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(i))) }

    var out = try AtomicFileWriter(path: path)
    try out.write(prefix)
    try out.write(header)
    for (_, c, e) in entries where e.range.count > 0 {
      try withExtendedLifetime(c) {
        try out.write(UnsafeRawBufferPointer(start: c.dataPointer, count: e.range.count))
      }
    }
    try out.commit()
  }

  static func jsonString(_ s: String) -> String {
    var r = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": r += "\\\""
      case "\\": r += "\\\\"
      case _ where u.value < 0x20: r += String(format: "\\u%04x", u.value)
      default: r.unicodeScalars.append(u)
      }
    }
    return r + "\""
  }
}

public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
  public let message: String
  init(_ message: String) { self.message = message }
  public var description: String { message }
}

extension DType {
  public init?(safetensorsName: String) {
    switch safetensorsName {
    case "F64": self = .float64
    case "F32": self = .float32
    case "F16": self = .float16
    case "BF16": self = .bfloat16
    case "I64": self = .int64
    case "I32": self = .int32
    case "I16": self = .int16
    case "I8": self = .int8
    case "U8": self = .uint8
    case "BOOL": self = .bool
    default: return nil
    }
  }

  public var safetensorsName: String {
    switch self {
    case .float64: "F64"
    case .float32: "F32"
    case .float16: "F16"
    case .bfloat16: "BF16"
    case .int64: "I64"
    case .int32: "I32"
    case .int16: "I16"
    case .int8: "I8"
    case .uint8: "U8"
    case .bool: "BOOL"
    }
  }
}
