// Checks of file and folder flags, made while the arguments are parsed.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `--out` (or another output folder flag) must be a folder that exists and is writable, or be creatable.
func validateOutputFolder(_ out: String, flag: String = "--out") throws {
  var isDir: ObjCBool = false
  if FileManager.default.fileExists(atPath: out, isDirectory: &isDir) {
    guard isDir.boolValue else { throw ValidationError("\(flag) \(out): exists and is not a folder") }
    guard access(out, W_OK | X_OK) == 0 else { throw ValidationError("\(flag) \(out): the folder is not writable") }
    return
  }
  var parent = parentPath(URL(fileURLWithPath: out).standardizedFileURL.path)
  while !FileManager.default.fileExists(atPath: parent, isDirectory: &isDir) && parent != "/" {
    parent = parentPath(parent)
  }
  guard isDir.boolValue else { throw ValidationError("\(flag) \(out): \(parent) is not a folder") }
  guard access(parent, W_OK | X_OK) == 0 else { throw ValidationError("\(flag) \(out): cannot be created (\(parent) is not writable)") }
}


/// The encoder file a protocol needs must be a file.
func validateEncoderFile(_ path: String?, flag: String) throws {
  guard let path else { throw ValidationError("\(flag) FILE is needed: this protocol starts from an encoder") }
  var isDir: ObjCBool = false
  guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
    throw ValidationError("\(flag) \(path): no such encoder file")
  }
}
