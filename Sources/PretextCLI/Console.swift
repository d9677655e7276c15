// What the tool prints, and the error it prints without usage.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// One line of the tool's output, straight to file descriptor 1, so a pipe or a CI log shows it as it happens and
/// in order with the progress callback's lines (Swift's `print` is block-buffered into a pipe).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// A command's closing line: on standard error when its output file is standard output (the bytes stay clean).
func sayWhere(_ output: String?, _ line: String) {
  if output == "-" { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { say(line) }
}

/// A failure found while running (not a usage mistake): printed as "Error: …" without the usage text.
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ message: String) { description = message }
}
