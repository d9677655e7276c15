// The `pretext` command-line tool. Subcommands so far: `data get|info|synth`.
import ArgumentParser
import Foundation
import ImageData

@main
struct Pretext: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Self-supervised pretraining of image models, and what it buys downstream.",
    subcommands: [DataCommand.self])
}

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
        throw ValidationError("unknown dataset '\(name)'; known: \(DatasetSource.all.map(\.name).joined(separator: ", "))")
      }
      let folder = try DataCache.get(source, root: cache ?? DataCache.root, progress: downloadProgressPrinter(name: name))
      FileHandle.standardError.write(Data("\n".utf8))
      print(folder)
    }
  }

  struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Summarise an ImageWang-layout dataset (counts per split and class) and check every image decodes.")
    @Argument(help: "The dataset folder (train/, val/, unsup/).")
    var root: String
    @Flag(help: "Fail on any undecodable file instead of warning.")
    var strict = false
    @Flag(help: "Skip decoding every file.")
    var noScan = false

    func run() throws {
      let ds = try ImageWangLayout(root: root, requireUnsup: false)
      print(ds.summary())
      if !noScan {
        let report = try scanImages(ds.train.paths + ds.valid.paths + (ds.unsup?.paths ?? []), strict: strict)
        print(report.warning ?? "all \(report.kept.count) images decode")
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

    func run() throws {
      try SyntheticImageWang(size: size, trainPerClass: trainPerClass, validPerClass: validPerClass, unsupCount: unsup, seed: seed)
        .write(to: root)
      print(try ImageWangLayout(root: root).summary())
    }
  }
}
