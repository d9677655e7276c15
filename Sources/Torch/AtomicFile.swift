#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers see the old content or the whole new content, never a part:
/// the bytes go to a temporary file beside the target, are flushed to disk, then renamed over it.
public struct AtomicFileWriter: ~Copyable {
  public let path: String
  let temporaryPath: String
  let fd: Int32
  var committed = false

  /// `path` may be a symbolic link: the file written is its target (the link stays a link).
  public init(path: String) throws { try self.init(resolved: try OutputFile.resolvingLinks(path)) }

  init(resolved path: String) throws {
    self.path = path
    temporaryPath = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    if fd < 0 { throw FileError(path: path, "cannot create \(temporaryPath): \(String(cString: strerror(errno)))") }
  }

  public mutating func write(_ bytes: UnsafeRawBufferPointer) throws { try OutputFile.writeAll(bytes, fd: fd, path: path) }

  public mutating func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

  /// Flushes and renames into place; after this the file is whole at `path`.
  public mutating func commit() throws {
    if fsync(fd) != 0 { throw FileError(path: path, "fsync failed: \(String(cString: strerror(errno)))") }
    close(fd)
    committed = true
    // Never rename over a device, FIFO, socket or folder: that would replace it with a regular file.
    var st = stat()
    if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
      unlink(temporaryPath)
      throw FileError(path: path, "is not a regular file (\(OutputFile.describe(st.st_mode))): not replaced")
    }
    if rename(temporaryPath, path) != 0 {
      let reason = String(cString: strerror(errno))
      unlink(temporaryPath)
      throw FileError(path: path, "rename into place failed: \(reason)")
    }
  }

  /// Writes `bytes` to `path` atomically in one call.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    var w = try AtomicFileWriter(path: path)
    try w.write(bytes)
    try w.commit()
  }

  /// Whether `name` is one of the temporary files this writer leaves when its process is killed mid-write
  /// (`<target>.tmp-<pid>-<n>`).
  public static func isLeftover(_ name: String) -> Bool {
    guard let r = name.range(of: ".tmp-", options: .backwards) else { return false }
    let parts = name[r.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
    return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
  }

  deinit {
    if !committed {
      close(fd)
      unlink(temporaryPath)
    }
  }
}

/// A file-level failure, naming the file.
public struct FileError: Error, CustomStringConvertible, Sendable {
  public let path: String
  public let message: String
  public init(path: String, _ message: String) {
    self.path = path
    self.message = message
  }
  public var description: String { "\(path): \(message)" }
}

/// A whole file mapped copy-on-write: tensors can point into it without a copy, and writes to such a
/// tensor stay private to the process (the file never changes).
final class MappedFile: @unchecked Sendable {
  let path: String
  let base: UnsafeMutableRawPointer?
  let count: Int

  init(path: String) throws {
    self.path = path
    // O_NONBLOCK: opening a FIFO (or a device) named like a weight file must not wait for a writer; the
    // type check below then refuses it.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    if fd < 0 { throw FileError(path: path, errno == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 { throw FileError(path: path, "cannot stat: \(String(cString: strerror(errno)))") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError(path: path, "not a regular file") }
    count = Int(st.st_size)
    if count == 0 {
      base = nil
      return
    }
    let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
    if p == MAP_FAILED || p == nil { throw FileError(path: path, "cannot map: \(String(cString: strerror(errno)))") }
    base = p
  }

  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

  deinit { if let base { munmap(base, count) } }
}

/// The folder part of `path` ("" for a bare name, "/" for a file at the root), as NSString's
/// `deletingLastPathComponent` means it: that one traps on a one-character bare name ("t") in
/// swift-corelibs-foundation 6.3, so every path here goes through this instead.
public func parentPath(_ path: String) -> String {
  var p = Substring(path)
  while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
  guard let slash = p.lastIndex(of: "/") else { return "" }
  var parent = p[..<slash]
  while parent.count > 1 && parent.hasSuffix("/") { parent = parent.dropLast() }
  return parent.isEmpty ? "/" : String(parent)
}
