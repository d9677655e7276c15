// How a dataset folder that is not ImageWang-shaped is read.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// How a dataset folder that is not ImageWang-shaped is read (a class tree, a CSV of labels).
struct LayoutFlags: ParsableArguments {
  @Option(help: "A CSV of labels (image,label rows; relative to the dataset folder). Default: train.csv or labels.csv there, if any.") var csv: String?
  @Option(help: "The CSV's image column (default: the first of image, image_id, id, filename, file, fname, path, name).") var csvImageColumn: String?
  @Option(help: "The CSV's label column (default: the first of label, class, category, target, labels).") var csvLabelColumn: String?
  @Option(help: "The CSV's column saying which rows validate (is_valid: true/false, or split: train/valid). Default: is_valid or split if present, else --valid-fraction.") var csvSplitColumn: String?
  @Option(help: "Class-tree and CSV datasets without a split: the fraction of each class held out for validation (default 0.2).") var validFraction: Double?
  @Option(help: "The seed of that split (default 0).") var splitSeed: UInt64?
  // .unconditional: a centre below 0 (`--dicom-window -600,1500`) is the value, not another flag.
  @Option(parsing: .unconditional, help: "DICOM images: show every image through this window, CENTRE,WIDTH (e.g. 40,400 for CT soft tissue; default: each file's own window, else its min..max).") var dicomWindow: String?

  func apply(to options: inout LayoutOptions) {
    if let csv { options.csv = csv }
    if let csvImageColumn { options.imageColumn = csvImageColumn }
    if let csvLabelColumn { options.labelColumn = csvLabelColumn }
    if let csvSplitColumn { options.splitColumn = csvSplitColumn }
    if let validFraction { options.validFraction = validFraction }
    if let splitSeed { options.splitSeed = splitSeed }
  }
}
