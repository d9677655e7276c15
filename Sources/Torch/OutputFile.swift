#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a user's output flag (`--output`) points, and how it is written: `-` is standard output; a FIFO or a
/// character device (`/dev/null`, a terminal) is written in place as a stream; a regular file, or a name that
/// does not exist yet, is written atomically (`AtomicFileWriter`). Symbolic links are followed, so the link's
/// target gets the bytes and the link stays. Anything else (a folder, a block device, a socket) is refused:
/// it cannot be written in place, and renaming a file over it would destroy it.
public enum OutputFile {
  public enum Target: Equatable, Sendable {
    case standardOutput
    /// A regular file or a new one, at this path (links resolved).
    case file(String)
    /// A FIFO or a character device, at this path (links resolved).
    case stream(String)

    public var isFile: Bool { if case .file = self { true } else { false } }
  }

  /// `path` with every symbolic link along its last component followed (a dangling link gives the path it
  /// names, which is then created). Links in the folders above are the kernel's to follow.
  public static func resolvingLinks(_ path: String) throws -> String {
    var p = path
    for _ in 0..<40 {
      var st = stat()
      guard lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK else { return p }
      var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
      let n = readlink(p, &buffer, buffer.count - 1)
      guard n >= 0 else { throw FileError(path: p, "cannot read the link: \(String(cString: strerror(errno)))") }
      let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if target.hasPrefix("/") { p = target } else {
        let folder = parentPath(p)
        p = folder.isEmpty ? target : (folder == "/" ? "/" + target : folder + "/" + target)
      }
    }
    throw FileError(path: path, "too many levels of symbolic links")
  }

  /// What `path` is as an output (nothing is created or opened).
  public static func target(_ path: String) throws -> Target {
    if path == "-" { return .standardOutput }
    let resolved = try resolvingLinks(path)
    var st = stat()
    guard stat(resolved, &st) == 0 else {
      guard errno == ENOENT else { throw FileError(path: path, "cannot look at it: \(String(cString: strerror(errno)))") }
      return .file(resolved)
    }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return .file(resolved)
    case S_IFIFO, S_IFCHR: return .stream(resolved)
    default: throw FileError(path: path, "is \(describe(st.st_mode)): cannot be written as an output file")
    }
  }

  /// Writes `bytes` to `path` as `target` says.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    switch try target(path) {
    case .standardOutput: try writeAll(bytes, fd: STDOUT_FILENO, path: "standard output")
    case .file(let file): try AtomicFileWriter.write(bytes, to: file)
    case .stream(let stream):
      // Blocks until a FIFO has a reader, as a shell's `> fifo` does.
      let fd = open(stream, O_WRONLY | O_CLOEXEC)
      guard fd >= 0 else { throw FileError(path: path, "cannot open for writing: \(String(cString: strerror(errno)))") }
      do { try writeAll(bytes, fd: fd, path: path) } catch { close(fd); throw error }
      guard close(fd) == 0 else { throw FileError(path: path, "write failed: \(String(cString: strerror(errno)))") }
    }
  }

  static func writeAll(_ bytes: [UInt8], fd: Int32, path: String) throws {
    try bytes.withUnsafeBytes { try writeAll($0, fd: fd, path: path) }
  }

  /// Every byte of `buffer` to `fd` (a short write or EINTR goes on where it stopped); errors name `path`.
  static func writeAll(_ buffer: UnsafeRawBufferPointer, fd: Int32, path: String) throws {
    var offset = 0
    while offset < buffer.count {
      let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        throw FileError(path: path, "write failed: \(String(cString: strerror(errno)))")
      }
      offset += n
    }
  }

  /// A file type in words ("a folder", "a FIFO", …).
  static func describe(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "a folder"
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    case S_IFLNK: return "a symbolic link"
    default: return "not a regular file"
    }
  }
}
