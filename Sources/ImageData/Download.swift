import Foundation
import Torch
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A dataset archive to fetch: where from, its published MD5, and the folder it unpacks to.
public struct DatasetSource: Sendable, Equatable {
  public let name: String
  public let url: URL
  public let md5: String

  /// fastai's ImageWang archives (full size, and shortest side 320 / 160 px).
  public static let imagewang = DatasetSource(
    name: "imagewang", url: URL(string: "https://s3.amazonaws.com/fast-ai-imageclas/imagewang.tgz")!,
    md5: "46f9749616a29837e7cd67b103396f6e")
  public static let imagewang320 = DatasetSource(
    name: "imagewang-320", url: URL(string: "https://s3.amazonaws.com/fast-ai-imageclas/imagewang-320.tgz")!,
    md5: "ff01d7c126230afce776bdf72bda87e6")
  public static let imagewang160 = DatasetSource(
    name: "imagewang-160", url: URL(string: "https://s3.amazonaws.com/fast-ai-imageclas/imagewang-160.tgz")!,
    md5: "1dc388d37d1dc52836c06749e14e37bc")
  public static let all = [imagewang, imagewang320, imagewang160]

  public static func named(_ name: String) -> DatasetSource? { all.first { $0.name == name } }
}

/// The data cache (`$PRETEXT_DATA`, else ~/.cache/pretext/data): archives are downloaded there with resume,
/// verified, and extracted atomically into `<cache>/<name>`.
public enum DataCache {
  public static var root: String {
    ProcessInfo.processInfo.environment["PRETEXT_DATA"]
      ?? CacheRoot.path + "/data"
  }

  /// The dataset's folder, fetching, verifying and extracting it first when absent.
  @discardableResult
  public static func get(
    _ source: DatasetSource, root: String = DataCache.root, progress: ((Int64, Int64?) -> Void)? = nil
  ) throws -> String {
    let dest = root + "/" + source.name
    if FileManager.default.fileExists(atPath: dest) { return datasetFolder(dest, source.name) }
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let archive = root + "/" + source.name + ".tgz"
    if !FileManager.default.fileExists(atPath: archive) {
      try Download.fetch(source.url, to: archive, md5: source.md5, progress: progress)
    } else if try MD5.hexDigest(ofFile: archive) != source.md5 {
      try FileManager.default.removeItem(atPath: archive)
      try Download.fetch(source.url, to: archive, md5: source.md5, progress: progress)
    }
    try TarGz.extract(archive, to: dest)
    return datasetFolder(dest, source.name)
  }

  /// fastai's archives hold one top folder named like the archive; use it when present.
  public static func datasetFolder(_ dest: String, _ name: String) -> String {
    FileManager.default.fileExists(atPath: dest + "/" + name + "/train") ? dest + "/" + name : dest
  }
}

/// HTTP(S) download to a file, resumable: bytes land in `<path>.partial`; a later call asks the server for
/// the rest (Range) and appends, or starts over when the server sends the whole file. The finished file is
/// checked against `md5` and only then renamed to `path`; a mismatch deletes it and says so.
public enum Download {
  public static func fetch(_ url: URL, to path: String, md5: String?, progress: ((Int64, Int64?) -> Void)? = nil) throws {
    let partial = path + ".partial"
    let have = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int64) ?? 0
    var request = URLRequest(url: url)
    if have > 0 { request.setValue("bytes=\(have)-", forHTTPHeaderField: "Range") }
    let job = Job(partial: partial, existing: have, progress: progress)
    let session = URLSession(configuration: .ephemeral, delegate: job, delegateQueue: nil)
    session.dataTask(with: request).resume()
    job.done.wait()
    session.finishTasksAndInvalidate()
    if let error = job.error {
      let kept = job.written > 0 ? " (\(job.written) bytes kept in \(partial); run again to resume)" : ""
      throw DatasetError(path: url.absoluteString, "download failed: \(error)\(kept)")
    }
    if let md5 {
      let got = try MD5.hexDigest(ofFile: partial)
      guard got == md5 else {
        try? FileManager.default.removeItem(atPath: partial)
        throw DatasetError(path: url.absoluteString, "checksum mismatch: MD5 \(got), expected \(md5); the download was deleted")
      }
    }
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.moveItem(atPath: partial, toPath: path)
  }

  final class Job: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let partial: String
    let existing: Int64
    let progress: ((Int64, Int64?) -> Void)?
    let done = DispatchSemaphore(value: 0)
    var handle: FileHandle?
    var written: Int64 = 0
    var total: Int64?
    var error: String?

    init(partial: String, existing: Int64, progress: ((Int64, Int64?) -> Void)?) {
      (self.partial, self.existing, self.progress) = (partial, existing, progress)
    }

    func urlSession(_ s: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
      let status = (response as? HTTPURLResponse)?.statusCode ?? 200
      let resumed = status == 206 && existing > 0
      guard status == 200 || resumed else {
        error = "HTTP status \(status)"
        completionHandler(.cancel)
        return
      }
      if !resumed || !FileManager.default.fileExists(atPath: partial) {
        FileManager.default.createFile(atPath: partial, contents: nil)  // the whole file again: start over
      }
      handle = FileHandle(forWritingAtPath: partial)
      if resumed { _ = try? handle?.seekToEnd() }
      written = resumed ? existing : 0
      let expected = response.expectedContentLength
      total = expected > 0 ? expected + (resumed ? existing : 0) : nil
      completionHandler(handle == nil ? .cancel : .allow)
    }

    func urlSession(_ s: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
      do {
        try handle?.write(contentsOf: data)
        written += Int64(data.count)
        progress?(written, total)
      } catch {
        self.error = "cannot write \(partial): \(error)"
        dataTask.cancel()
      }
    }

    func urlSession(_ s: URLSession, task: URLSessionTask, didCompleteWithError e: Error?) {
      try? handle?.synchronize()
      try? handle?.close()
      if let e, error == nil { error = e.localizedDescription }
      if error == nil, let total, written != total { error = "connection ended after \(written) of \(total) bytes" }
      done.signal()
    }
  }
}

/// A progress line for downloads, redrawn in place on a terminal.
public func downloadProgressPrinter(name: String) -> (Int64, Int64?) -> Void {
  var last = Date.distantPast
  return { written, total in
    guard Date().timeIntervalSince(last) > 0.2 || written == total else { return }
    last = Date()
    let mb = Double(written) / 1e6
    let line = total.map { String(format: "\r%@: %.1f / %.1f MB (%.0f%%)", name, mb, Double($0) / 1e6, 100 * Double(written) / Double($0)) }
      ?? String(format: "\r%@: %.1f MB", name, mb)
    FileHandle.standardError.write(Data(line.utf8))
  }
}
