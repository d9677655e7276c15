// `pretext data get|info|synth`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


struct DataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "data", abstract: "Get, inspect or synthesise datasets.", subcommands: [Get.self, Info.self, Synth.self])

  struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Download, verify (MD5) and extract a dataset into the data cache; resumes an interrupted download.")
    @Argument(help: "One of: \(DatasetSource.all.map(\.name).joined(separator: ", ")).")
    var name: String
    @Option(help: "The data cache (default: $PRETEXT_DATA or ~/.cache/pretext/data).")
    var cache: String?

    func run() throws {
      guard let source = DatasetSource.named(name) else {
        throw CLIError("unknown dataset '\(name)'; known: \(DatasetSource.all.map(\.name).joined(separator: ", "))")
      }
      let folder = try DataCache.get(source, root: cache ?? DataCache.root, progress: downloadProgressPrinter(name: name))
      FileHandle.standardError.write(Data("\n".utf8))
      say(folder)
    }
  }

  struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Say which layout a dataset folder is in and why, summarise it (counts per split and class) and check every image decodes.")
    @Argument(help: "The dataset folder.")
    var root: String
    @OptionGroup var layoutFlags: LayoutFlags
    @Flag(help: "Fail on any undecodable file instead of warning.")
    var strict = false
    @Flag(help: "Skip decoding every file.")
    var noScan = false

    func run() throws {
      var options = LayoutOptions()
      layoutFlags.apply(to: &options)
      let found = try LayoutDetector.detect(root: root, options: options)
      say(found.summary())
      if !noScan {
        let report = try scanImages(found.layout.allPaths, strict: strict)
        say(report.warning ?? "all \(report.kept.count) images decode")
        say(report.kindsLine)
      }
    }
  }

  struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a synthetic ImageWang-layout dataset.")
    @Argument(help: "Where to write it (must not exist).")
    var root: String
    @Option(help: "Image side in pixels.") var size = 64
    @Option(help: "Training images per class (20 classes).") var trainPerClass = 12
    @Option(help: "Validation images per class (10 classes).") var validPerClass = 6
    @Option(help: "Unlabelled images.") var unsup = 300
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func validate() throws {
      guard (8...4096).contains(size) else { throw ValidationError("--size must be between 8 and 4096 (got \(size))") }
      guard (1...100_000).contains(trainPerClass) else { throw ValidationError("--train-per-class must be between 1 and 100000 (got \(trainPerClass))") }
      guard (1...100_000).contains(validPerClass) else { throw ValidationError("--valid-per-class must be between 1 and 100000 (got \(validPerClass))") }
      guard (1...1_000_000).contains(unsup) else { throw ValidationError("--unsup must be between 1 and 1000000 (got \(unsup))") }
      guard !FileManager.default.fileExists(atPath: root) else { throw ValidationError("\(root) exists: give a new folder") }
    }

    func run() throws {
      try SyntheticImageWang(size: size, trainPerClass: trainPerClass, validPerClass: validPerClass, unsupCount: unsup, seed: seed)
        .write(to: root)
      say(try ImageWangLayout(root: root).summary())
    }
  }
}
