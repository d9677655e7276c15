// `pretext predict`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext predict`: a trained classifier labels images (files, folders or a CSV's rows).
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Predict with a classifier a run trained: one CSV row per image (top-k labels and probabilities, or Kaggle's id,label).")
  @Option(help: "A classifier's weights (eval/…/model.safetensors) or a run folder (then its classifier with the highest final validation accuracy).")
  var model: String
  @Argument(help: "Images, folders of images (searched recursively) or a CSV whose image column names them.")
  var inputs: [String]
  @Option(help: "Where the CSV goes (a file, written atomically through links; - for standard output; a FIFO or device, streamed).") var output = "predictions.csv"
  @Option(help: "csv (image,label,probability and the top-k) or kaggle (id,label).") var format = "csv"
  @Option(help: "Labels per image in the csv format.") var topK = 3
  @Option(help: "An input CSV's image column (default: the first of image, image_id, id, filename, file, fname, path, name).") var csvImageColumn: String?
  @Option(help: "Where an input CSV's images are (default: the CSV's folder).") var images: String?
  @Option(help: "Images per batch.") var batch = 32
  @Option(help: "Data-loading worker threads.") var workers = 2
  @Option(help: "cpu, cuda or cuda:N.") var device = "cpu"

  func validate() throws {
    guard ["csv", "kaggle"].contains(format) else { throw ValidationError("--format must be csv or kaggle (got \(format))") }
    guard (1...1000).contains(topK) else { throw ValidationError("--top-k must be between 1 and 1000 (got \(topK))") }
    guard (1...65536).contains(batch) else { throw ValidationError("--batch must be between 1 and 65536 (got \(batch))") }
    guard (1...256).contains(workers) else { throw ValidationError("--workers must be between 1 and 256 (got \(workers))") }
    guard Device(device) != nil else { throw ValidationError("unknown device '\(device)' (cpu, cuda, cuda:N)") }
    guard !inputs.isEmpty else { throw ValidationError("name at least one image, folder or CSV") }
  }

  /// Every input as (file, id): a CSV's rows (id: the cell), a folder's images (id: the file name without extension).
  func items() throws -> [(path: String, id: String)] {
    var out: [(String, String)] = []
    for input in inputs {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else { throw CLIError("\(input): no such file or folder") }
      if isDir.boolValue {
        let index = try ImageIndex(root: input)
        guard !index.files.isEmpty else { throw CLIError("\(input): holds no images") }
        out += index.files.map { ($0, (($0 as NSString).lastPathComponent as NSString).deletingPathExtension) }
      } else if input.lowercased().hasSuffix(".csv") {
        let table = try CSVTable(contentsOf: input)
        let column = csvImageColumn.map { [$0] } ?? LayoutDetector.imageColumns
        guard let c = column.lazy.compactMap({ table.column($0) }).first else {
          throw CLIError("\(input): no image column (looked for \(column.joined(separator: ", "))); its columns: \(table.header.joined(separator: ", ")); name it with --csv-image-column")
        }
        let folder = parentPath(input)
        let index = try ImageIndex(root: images ?? (folder.isEmpty ? "." : folder))
        var seen: [String: Int] = [:]
        for (line, fields) in table.rows {
          let id = fields[c].trimmingCharacters(in: .whitespaces)
          if let first = seen[id] { throw CLIError("\(input): line \(line): duplicate row for '\(id)' (first on line \(first))") }
          seen[id] = line
          out.append((try index.resolve(id, line: line, csv: input), id))
        }
      } else {
        out.append((input, ((input as NSString).lastPathComponent as NSString).deletingPathExtension))
      }
    }
    return out
  }

  func run() throws {
    let (weights, chosen) = try resolveClassifier(model)
    if let chosen { say("classifier: \(chosen)") }
    let images = try items()
    // A submission missing a row is wrong: an image that does not decode stops the run, named.
    _ = try scanImages(images.map(\.path), strict: true)
    let (info, predictions) = try predict(weights: weights, images: images, topK: topK, batch: batch, workers: workers,
                                          device: Device(device) ?? .cpu)
    try OutputFile.write(Array(predictionsCSV(predictions, kaggle: format == "kaggle").utf8), to: output)
    sayWhere(output, "\(predictions.count) images, \(info.classes.count) classes, \(info.size) px: \(output)")
  }
}
