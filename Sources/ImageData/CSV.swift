import Foundation

/// A comma-separated table as RFC 4180 writes it (quoted fields may hold commas, doubled quotes and line
/// breaks; CRLF or LF; a UTF-8 byte-order mark ignored). The first row is the header.
public struct CSVTable: Sendable {
  public let path: String
  public let header: [String]
  /// Data rows, each with its 1-based line number in the file (for messages).
  public let rows: [(line: Int, fields: [String])]

  public init(contentsOf path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError(path: path, "cannot be read") }
    guard let text = String(data: data, encoding: .utf8) else { throw DatasetError(path: path, "is not UTF-8 text") }
    try self.init(text: text, path: path)
  }

  public init(text: String, path: String) throws {
    var records: [(Int, [String])] = []
    var field = "", fields: [String] = [], line = 1, recordLine = 1, quoted = false, atFieldStart = true
    var chars = Array(text.unicodeScalars)
    if chars.first == "\u{FEFF}" { chars.removeFirst() }
    var i = 0
    func endRecord() {
      fields.append(field)
      if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }  // blank lines skipped
      (field, fields, atFieldStart) = ("", [], true)
    }
    while i < chars.count {
      let c = chars[i]
      if quoted {
        if c == "\"" {
          if i + 1 < chars.count && chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { quoted = false }
        } else {
          if c == "\n" { line += 1 }
          field.unicodeScalars.append(c)
        }
      } else if c == "\"" && atFieldStart {
        quoted = true
        atFieldStart = false
      } else if c == "," {
        fields.append(field)
        (field, atFieldStart) = ("", true)
      } else if c == "\n" || c == "\r" {
        if c == "\r" && i + 1 < chars.count && chars[i + 1] == "\n" { i += 1 }
        endRecord()
        line += 1
        recordLine = line
      } else {
        field.unicodeScalars.append(c)
        atFieldStart = false
      }
      i += 1
    }
    guard !quoted else { throw DatasetError(path: path, "line \(recordLine): a quoted field is never closed") }
    if !field.isEmpty || !fields.isEmpty { endRecord() }
    guard let first = records.first else { throw DatasetError(path: path, "is empty (a CSV of labels needs a header row)") }
    let header = first.1.map { $0.trimmingCharacters(in: .whitespaces) }
    for r in records.dropFirst() where r.1.count != header.count {
      throw DatasetError(path: path, "line \(r.0): \(r.1.count) fields where the header has \(header.count)")
    }
    (self.path, self.header, self.rows) = (path, header, records.dropFirst().map { ($0.0, $0.1) })
  }

  /// The index of the column named `name` (case-insensitive), or nil.
  public func column(_ name: String) -> Int? {
    header.firstIndex { $0.caseInsensitiveCompare(name) == .orderedSame }
  }
}
