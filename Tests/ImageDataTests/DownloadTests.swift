import Foundation
import Testing
@testable import ImageData
#if canImport(Glibc)
import Glibc
#endif

/// A one-file HTTP server on 127.0.0.1 (an ephemeral port), for download tests: honours `Range` (or not),
/// and can cut its first response short to simulate a dropped connection.
final class LoopbackServer: @unchecked Sendable {
  let body: [UInt8]
  let honourRange: Bool
  var cutFirstResponseAfter: Int?
  private(set) var ranges: [String] = []
  let fd: Int32
  let port: UInt16
  private let lock = NSLock()

  init(body: [UInt8], honourRange: Bool = true, cutFirstResponseAfter: Int? = nil) throws {
    (self.body, self.honourRange, self.cutFirstResponseAfter) = (body, honourRange, cutFirstResponseAfter)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    guard bound == 0, listen(fd, 8) == 0 else { throw DatasetError(path: "127.0.0.1", "cannot listen") }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    self.fd = fd
    port = UInt16(bigEndian: addr.sin_port)
    Thread { [self] in serve() }.start()
  }

  var url: URL { URL(string: "http://127.0.0.1:\(port)/imagewang-test.tgz")! }

  func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }

  private func serve() {
    var served = 0
    while true {
      let c = accept(fd, nil, nil)
      if c < 0 { return }
      var request = [UInt8]()
      var buf = [UInt8](repeating: 0, count: 4096)
      while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
        let n = recv(c, &buf, buf.count, 0)
        if n <= 0 { break }
        request += buf[..<n]
      }
      let text = String(decoding: request, as: UTF8.self)
      let range = text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("range:") }
      lock.withLock { ranges.append(range.map(String.init) ?? "") }
      var start = 0
      if honourRange, let r = range, let eq = r.firstIndex(of: "="), let dash = r.firstIndex(of: "-") {
        start = Int(r[r.index(after: eq)..<dash]) ?? 0
      }
      let part = Array(body[start...])
      var head = start > 0 ? "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(start)-\(body.count - 1)/\(body.count)\r\n"
        : "HTTP/1.1 200 OK\r\n"
      head += "Content-Length: \(part.count)\r\nConnection: close\r\n\r\n"
      var out = Array(head.utf8)
      let cut = served == 0 ? cutFirstResponseAfter : nil
      out += cut.map { Array(part.prefix($0)) } ?? part
      _ = out.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      close(c)
      served += 1
    }
  }
}

func tinyDataset() throws -> [UInt8] {
  var t = TarBuilder()
  let jpeg = try ImageCodec.encodeJPEG(gradient())
  for (split, classes) in [("train", ["a", "b"]), ("val", ["a"])] {
    for c in classes { for i in 0..<2 { t.add("imagewang-test/\(split)/\(c)/\(i).jpg", data: jpeg) } }
  }
  for i in 0..<3 { t.add("imagewang-test/unsup/u\(i).jpg", data: jpeg) }
  return t.gzipped()
}

func md5(_ b: [UInt8]) -> String {
  var m = MD5()
  m.update(b)
  return m.hexDigest()
}

@Suite struct DownloadTests {
  @Test func downloadResumesAfterADroppedConnectionThenVerifiesAndExtracts() throws {
    let archive = try tinyDataset()
    let server = try LoopbackServer(body: archive, cutFirstResponseAfter: archive.count / 3)
    defer { server.stop() }
    let root = NSTemporaryDirectory() + "pretext-cache-\(UUID().uuidString)"
    let source = DatasetSource(name: "imagewang-test", url: server.url, md5: md5(archive))
    do {
      try DataCache.get(source, root: root)
      Issue.record("a dropped connection went unnoticed")
    } catch let e as DatasetError {
      #expect(e.message.contains("run again to resume"))
    }
    let kept = try FileManager.default.attributesOfItem(atPath: root + "/imagewang-test.tgz.partial")[.size] as! Int
    #expect(kept == archive.count / 3)
    let folder = try DataCache.get(source, root: root)  // resumes
    #expect(server.ranges.last == "Range: bytes=\(kept)-")
    let ds = try ImageWangLayout(root: folder)
    #expect(ds.train.count == 4 && ds.valid.count == 2 && ds.unsup?.count == 3)
    #expect(try DataCache.get(source, root: root) == folder)  // cached: no new request
    #expect(server.ranges.count == 2)
  }

  @Test func serverIgnoringRangeRestartsCleanly() throws {
    let archive = try tinyDataset()
    let server = try LoopbackServer(body: archive, honourRange: false, cutFirstResponseAfter: archive.count / 2)
    defer { server.stop() }
    let path = NSTemporaryDirectory() + "pretext-dl-\(UUID().uuidString).tgz"
    #expect(throws: DatasetError.self) { try Download.fetch(server.url, to: path, md5: md5(archive)) }
    try Download.fetch(server.url, to: path, md5: md5(archive))  // asks for a range, gets the whole file: starts over
    #expect(FileManager.default.contents(atPath: path) == Data(archive))
  }

  @Test func checksumMismatchIsRefusedAndDeleted() throws {
    let archive = try tinyDataset()
    let server = try LoopbackServer(body: archive)
    defer { server.stop() }
    let path = NSTemporaryDirectory() + "pretext-md5-\(UUID().uuidString).tgz"
    do {
      try Download.fetch(server.url, to: path, md5: "00000000000000000000000000000000")
      Issue.record("a wrong checksum was accepted")
    } catch let e as DatasetError {
      #expect(e.message.contains("checksum mismatch"))
    }
    #expect(!FileManager.default.fileExists(atPath: path) && !FileManager.default.fileExists(atPath: path + ".partial"))
  }

  @Test func publishedSources() {
    #expect(DatasetSource.named("imagewang-160")?.md5 == "1dc388d37d1dc52836c06749e14e37bc")
    #expect(DatasetSource.named("imagewang-320")?.url.absoluteString == "https://s3.amazonaws.com/fast-ai-imageclas/imagewang-320.tgz")
    #expect(DatasetSource.named("imagewang")?.md5 == "46f9749616a29837e7cd67b103396f6e")
  }
}
