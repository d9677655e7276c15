// Helpers for tests that run the package's executables as processes of their own (resume after SIGKILL,
// memory measured without other tests in the same process). Only test targets depend on this target.
import Foundation

/// An executable built beside the test bundle (`swift build --build-tests` builds every product).
public func builtTool(_ name: String) throws -> URL {
  let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  let candidates = [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()]
    .map { $0.appendingPathComponent(name) }
  guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
    throw ToolError(message: "\(name) is not built beside \(dir.path): run `swift build --build-tests`")
  }
  return found
}

public struct ToolError: Error, CustomStringConvertible {
  public let message: String
  public var description: String { message }
}

/// What a tool printed (standard output and standard error, interleaved) and how it ended.
public struct ToolRun {
  public let output: String
  public let status: Int32
  /// Whether it ended by a signal (the SIGKILL sent by `runTool(killWhen:)` or at the timeout).
  public let killed: Bool
  /// Whether it was still running at `timeout` (and was killed then).
  public let timedOut: Bool
}

/// Runs `tool` with `arguments` (and `environment` added to this process's) in `directory` (default: this
/// process's), reading its output as it comes; when `killWhen` returns true for the output so far, sends
/// SIGKILL at once. A process still running after `timeout` seconds is killed.
public func runTool(
  _ tool: URL, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
  timeout: TimeInterval = 600, killWhen: ((String) -> Bool)? = nil
) throws -> ToolRun {
  let p = Process()
  p.executableURL = tool
  p.arguments = arguments
  p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
  let pipe = Pipe()
  p.standardOutput = pipe
  p.standardError = pipe
  try p.run()
  let deadline = DispatchTime.now() + timeout
  let timer = DispatchSemaphore(value: 0)
  nonisolated(unsafe) var timedOut = false
  let pid = p.processIdentifier
  DispatchQueue.global().async {
    if timer.wait(timeout: deadline) == .timedOut {
      timedOut = true
      kill(pid, SIGKILL)
    }
  }
  var out = ""
  if let killWhen {
    while !killWhen(out) {
      let chunk = pipe.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      out += String(decoding: chunk, as: UTF8.self)
    }
    kill(p.processIdentifier, SIGKILL)
  }
  out += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  p.waitUntilExit()
  timer.signal()
  return ToolRun(output: out, status: p.terminationStatus, killed: p.terminationReason == .uncaughtSignal, timedOut: timedOut)
}

/// The repository's root (for tests that run its Makefile or scripts).
public func repositoryRoot(_ file: String = #filePath) -> String {
  var url = URL(fileURLWithPath: file)
  while url.path != "/" {
    url.deleteLastPathComponent()
    if FileManager.default.fileExists(atPath: url.path + "/Package.swift") { return url.path }
  }
  return FileManager.default.currentDirectoryPath
}
