import CGzip
import Foundation
import Torch

/// Extracts a .tar.gz safely and atomically: entries with absolute paths or `..`, links whose target
/// leaves the destination, and entries written through a link are refused (the whole archive is rejected,
/// naming the entry); everything is written into a staging folder beside `destination` that is renamed
/// into place only when the archive ended cleanly — a half-extracted dataset is never seen.
public enum TarGz {
  public static func extract(_ archive: String, to destination: String) throws {
    guard !FileManager.default.fileExists(atPath: destination) else {
      throw DatasetError(path: destination, "already exists")
    }
    let staging = destination + ".partial-\(getpid())"
    try? FileManager.default.removeItem(atPath: staging)
    try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
    do {
      try extractEntries(archive, into: staging)
      try FileManager.default.moveItem(atPath: staging, toPath: destination)
    } catch {
      try? FileManager.default.removeItem(atPath: staging)
      throw error
    }
  }

  static func extractEntries(_ archive: String, into root: String) throws {
    let input = try GzipReader(path: archive)
    var links = Set<String>()  // symlinks made so far: nothing may be written through them
    var paxPath: String?, longName: String?, longLink: String?
    while true {
      let header = try input.read(512)
      guard header.count == 512 else { throw DatasetError(path: archive, "truncated tar archive (no end marker)") }
      if header.allSatisfy({ $0 == 0 }) { return }  // end of archive
      guard checksumOK(header) else { throw DatasetError(path: archive, "corrupt tar header (bad checksum)") }
      let type = header[156]
      let size = try octal(header[124..<136], archive)
      var name = paxPath ?? longName ?? joinName(prefix: string(header[345..<500]), name: string(header[0..<100]))
      let link = longLink ?? string(header[157..<257])
      (paxPath, longName, longLink) = (nil, nil, nil)
      switch type {
      case UInt8(ascii: "x"):
        paxPath = try paxRecords(input.read(size), archive)["path"]
        try input.skip(padding(size))
        continue
      case UInt8(ascii: "g"):
        try input.skip(size + padding(size))
        continue
      case UInt8(ascii: "L"):
        longName = string(try input.read(size)[...])
        try input.skip(padding(size))
        continue
      case UInt8(ascii: "K"):
        longLink = string(try input.read(size)[...])
        try input.skip(padding(size))
        continue
      default: break
      }
      name = try safeRelative(name, archive)
      if name.isEmpty { try input.skip(size + padding(size)); continue }  // "./"
      let components = name.split(separator: "/").map(String.init)
      for i in 1..<components.count where links.contains(components[..<i].joined(separator: "/")) {
        throw DatasetError(path: archive, "entry '\(name)' would be written through the link '\(components[..<i].joined(separator: "/"))'")
      }
      let target = root + "/" + name
      switch type {
      case UInt8(ascii: "5"):
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
      case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
        try FileManager.default.createDirectory(atPath: parentPath(target), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: target, contents: nil), let out = FileHandle(forWritingAtPath: target) else {
          throw DatasetError(path: target, "cannot be created")
        }
        var left = size
        while left > 0 {
          let chunk = try input.read(Swift.min(left, 1 << 20))
          guard !chunk.isEmpty else { throw DatasetError(path: archive, "truncated: '\(name)' ends early") }
          try out.write(contentsOf: chunk)
          left -= chunk.count
        }
        try out.close()
        try input.skip(padding(size))
      case UInt8(ascii: "2"), UInt8(ascii: "1"):
        // A link must resolve inside the destination (symlinks relative to their folder, hard links to root).
        guard !link.hasPrefix("/") else { throw DatasetError(path: archive, "link '\(name)' points to the absolute path '\(link)'") }
        let base = type == UInt8(ascii: "2") ? Array(components.dropLast()) : []
        var resolved: [String] = base
        for part in link.split(separator: "/") {
          if part == ".." {
            guard !resolved.isEmpty else { throw DatasetError(path: archive, "link '\(name)' → '\(link)' leaves the destination") }
            resolved.removeLast()
          } else if part != "." {
            resolved.append(String(part))
          }
        }
        try FileManager.default.createDirectory(atPath: parentPath(target), withIntermediateDirectories: true)
        if type == UInt8(ascii: "2") {
          try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: link)
          links.insert(name)
        } else {
          try FileManager.default.linkItem(atPath: root + "/" + resolved.joined(separator: "/"), toPath: target)
        }
        try input.skip(size + padding(size))
      default:
        throw DatasetError(path: archive, "entry '\(name)' has an unsupported type '\(Character(UnicodeScalar(type)))' (devices and fifos are refused)")
      }
    }
  }

  /// `name` without a leading "./", refusing absolute paths and `..`.
  static func safeRelative(_ name: String, _ archive: String) throws -> String {
    guard !name.hasPrefix("/") else { throw DatasetError(path: archive, "entry '\(name)' has an absolute path") }
    let parts = name.split(separator: "/").filter { $0 != "." }
    guard !parts.contains("..") else { throw DatasetError(path: archive, "entry '\(name)' climbs out with '..'") }
    return parts.joined(separator: "/")
  }

  static func padding(_ size: Int) -> Int { (512 - size % 512) % 512 }

  static func string(_ bytes: ArraySlice<UInt8>) -> String {
    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
  }

  static func joinName(prefix: String, name: String) -> String { prefix.isEmpty ? name : prefix + "/" + name }

  static func octal(_ field: ArraySlice<UInt8>, _ archive: String) throws -> Int {
    if let first = field.first, first & 0x80 != 0 {  // GNU base-256 for large sizes
      return field.dropFirst().reduce(Int(first & 0x7f)) { $0 << 8 | Int($1) }
    }
    let text = string(field).trimmingCharacters(in: .whitespaces)
    guard let v = Int(text.isEmpty ? "0" : text, radix: 8), v >= 0 else {
      throw DatasetError(path: archive, "corrupt tar header (size field '\(text)')")
    }
    return v
  }

  static func checksumOK(_ h: [UInt8]) -> Bool {
    let stored = Int(string(h[148..<156]).trimmingCharacters(in: .whitespaces), radix: 8) ?? -1
    let sum = h.enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
    return stored == sum
  }

  static func paxRecords(_ data: [UInt8], _ archive: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
      guard let space = line.firstIndex(of: " "), let eq = line[space...].firstIndex(of: "=") else { continue }
      out[String(line[line.index(after: space)..<eq])] = String(line[line.index(after: eq)...])
    }
    return out
  }
}

/// Reads a gzip file's decompressed bytes on demand.
final class GzipReader {
  let handle: FileHandle
  let path: String
  let z: OpaquePointer
  var pending: [UInt8] = []  // decompressed; bytes before `start` were already read
  var start = 0
  var input: [UInt8] = []
  var inputUsed = 0
  var finished = false

  init(path: String) throws {
    guard let h = FileHandle(forReadingAtPath: path) else { throw DatasetError(path: path, "cannot be read") }
    guard let z = cg_inflater_new() else { throw DatasetError(path: path, "cannot start gzip decompression") }
    (self.handle, self.path, self.z) = (h, path, z)
  }

  deinit {
    cg_inflater_free(z)
    try? handle.close()
  }

  /// Up to `n` bytes (fewer only at the end of the stream).
  func read(_ n: Int) throws -> [UInt8] {
    while pending.count - start < n && !finished { try fill() }
    let end = Swift.min(pending.count, start + n)
    let out = Array(pending[start..<end])
    start = end
    return out
  }

  func skip(_ n: Int) throws {
    var left = n
    while left > 0 {
      let got = try read(Swift.min(left, 1 << 20)).count
      guard got > 0 else { throw DatasetError(path: path, "truncated archive") }
      left -= got
    }
  }

  func fill() throws {
    if inputUsed == input.count {
      guard let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty else {
        throw DatasetError(path: path, "truncated gzip data")
      }
      input = [UInt8](chunk)
      inputUsed = 0
    }
    var out = [UInt8](repeating: 0, count: 1 << 20)
    var consumed = 0
    var done: Int32 = 0
    var err = [CChar](repeating: 0, count: 200)
    let produced = input.withUnsafeBufferPointer { inp in
      out.withUnsafeMutableBufferPointer { o in
        cg_inflate(z, inp.baseAddress! + inputUsed, inp.count - inputUsed, &consumed, o.baseAddress, o.count, &done, &err, err.count)
      }
    }
    guard produced >= 0 else { throw DatasetError(path: path, String(cString: err)) }
    inputUsed += consumed
    if start > 0 {  // drop what was read before appending (amortised: one move per fill)
      pending.removeFirst(start)
      start = 0
    }
    pending += out.prefix(produced)
    finished = done != 0
  }
}
