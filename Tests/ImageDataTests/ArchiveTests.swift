import CGzip
import Foundation
import Testing
@testable import ImageData

/// A tar archive built entry by entry (ustar headers written by hand), gzipped.
struct TarBuilder {
  var bytes: [UInt8] = []

  mutating func add(_ name: String, type: UInt8 = UInt8(ascii: "0"), data: [UInt8] = [], link: String = "") {
    var h = [UInt8](repeating: 0, count: 512)
    func put(_ s: String, _ at: Int, _ len: Int) { for (i, b) in s.utf8.prefix(len).enumerated() { h[at + i] = b } }
    put(name, 0, 100)
    put("0000644", 100, 8)
    put("0000000", 108, 8)
    put("0000000", 116, 8)
    put(String(format: "%011o", data.count), 124, 12)
    put("00000000000", 136, 12)
    h[156] = type
    put(link, 157, 100)
    put("ustar", 257, 6)
    put("00", 263, 2)
    for i in 148..<156 { h[i] = 32 }
    put(String(format: "%06o", h.reduce(0) { $0 + Int($1) }) + "\0 ", 148, 8)
    bytes += h + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
  }

  func gzipped(end: Bool = true) -> [UInt8] {
    let tar = bytes + (end ? [UInt8](repeating: 0, count: 1024) : [])
    var n = 0
    let out = tar.withUnsafeBufferPointer { cg_gzip($0.baseAddress, $0.count, &n) }!
    defer { free(out) }
    return Array(UnsafeBufferPointer(start: out, count: n))
  }
}

func archiveFile(_ t: TarBuilder, end: Bool = true) -> String {
  let path = NSTemporaryDirectory() + "pretext-\(UUID().uuidString).tgz"
  FileManager.default.createFile(atPath: path, contents: Data(t.gzipped(end: end)))
  return path
}

@Suite struct ArchiveTests {
  @Test func md5MatchesKnownDigests() {
    var a = MD5(), b = MD5(), c = MD5()
    #expect(a.hexDigest() == "d41d8cd98f00b204e9800998ecf8427e")
    b.update(Array("The quick brown fox jumps over the lazy dog".utf8))
    #expect(b.hexDigest() == "9e107d9d372bb6826bd81d3542a419d6")
    // Split across updates and past one 64-byte block.
    let text = Array(String(repeating: "pretext", count: 50).utf8)
    c.update(Array(text[..<13])); c.update(Array(text[13..<200])); c.update(Array(text[200...]))
    var whole = MD5()
    whole.update(text)
    #expect(c.hexDigest() == whole.hexDigest())
  }

  @Test func extractsFilesFoldersAndSafeLinks() throws {
    var t = TarBuilder()
    t.add("imagewang/", type: UInt8(ascii: "5"))
    t.add("imagewang/train/a/1.jpg", data: Array("one".utf8))
    t.add("./imagewang/train/a/2.jpg", data: [UInt8](repeating: 7, count: 1500))
    t.add("imagewang/latest", type: UInt8(ascii: "2"), link: "train/a/1.jpg")
    let dest = NSTemporaryDirectory() + "pretext-x-\(UUID().uuidString)"
    try TarGz.extract(archiveFile(t), to: dest)
    #expect(FileManager.default.contents(atPath: dest + "/imagewang/train/a/1.jpg") == Data("one".utf8))
    #expect(FileManager.default.contents(atPath: dest + "/imagewang/train/a/2.jpg")?.count == 1500)
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dest + "/imagewang/latest") == "train/a/1.jpg")
    #expect(throws: DatasetError.self) { try TarGz.extract(archiveFile(t), to: dest) }  // never overwrites
  }

  @Test func hostileEntriesAreRefusedAndNothingIsWritten() throws {
    let outside = NSTemporaryDirectory() + "pretext-escape-\(UUID().uuidString)"
    let cases: [(String, (inout TarBuilder) -> Void, String)] = [
      ("dotdot", { $0.add("data/../../\((outside as NSString).lastPathComponent)", data: [1]) }, "climbs out"),
      ("absolute", { $0.add(outside, data: [1]) }, "absolute path"),
      ("symlink out", { $0.add("data/evil", type: UInt8(ascii: "2"), link: "../../x") }, "leaves the destination"),
      ("symlink absolute", { $0.add("data/evil", type: UInt8(ascii: "2"), link: "/etc") }, "absolute path"),
      ("write through link", {
        $0.add("data/ok", type: UInt8(ascii: "2"), link: "sub")
        $0.add("data/ok/file", data: [1])
      }, "through the link"),
      ("hard link out", { $0.add("data/h", type: UInt8(ascii: "1"), link: "../../etc/passwd") }, "leaves the destination"),
      ("device", { $0.add("data/dev", type: UInt8(ascii: "3")) }, "unsupported type"),
    ]
    for (label, build, expected) in cases {
      var t = TarBuilder()
      t.add("data/fine.txt", data: Array("fine".utf8))
      build(&t)
      let dest = NSTemporaryDirectory() + "pretext-h-\(UUID().uuidString)"
      do {
        try TarGz.extract(archiveFile(t), to: dest)
        Issue.record("\(label): accepted")
      } catch let e as DatasetError {
        #expect(e.message.contains(expected), "\(label): \(e.message)")
      }
      #expect(!FileManager.default.fileExists(atPath: dest), "\(label): destination exists")
      #expect(!FileManager.default.fileExists(atPath: outside), "\(label): wrote outside")
      let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
        .filter { $0.hasPrefix((dest as NSString).lastPathComponent) }
      #expect(leftovers.isEmpty, "\(label): staging left behind")
    }
  }

  @Test func truncatedArchivesFailCleanly() throws {
    var t = TarBuilder()
    t.add("d/a.bin", data: [UInt8](repeating: 3, count: 5000))
    let noEnd = archiveFile(t, end: false)
    let dest = NSTemporaryDirectory() + "pretext-t-\(UUID().uuidString)"
    #expect(throws: DatasetError.self) { try TarGz.extract(noEnd, to: dest) }
    let whole = t.gzipped()
    let cut = NSTemporaryDirectory() + "pretext-cut-\(UUID().uuidString).tgz"
    FileManager.default.createFile(atPath: cut, contents: Data(whole.prefix(whole.count / 2)))
    #expect(throws: DatasetError.self) { try TarGz.extract(cut, to: dest) }
    #expect(!FileManager.default.fileExists(atPath: dest))
  }
}
