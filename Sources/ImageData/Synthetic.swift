import Foundation
import Torch

/// A small ImageWang-layout dataset drawn procedurally, for tests and for machines without the real one.
///
/// Each class is a (shape, palette) pair — 5 shapes × 4 palettes = 20 classes — drawn at a random place,
/// size and colour jitter on a textured, noisy background with a distractor shape, so the classes are
/// learnable but not trivial. Like ImageWang, val/ holds only some classes (the first 10, labelled with
/// train/'s vocabulary) and unsup/ holds more images than train/, drawn from val/'s classes without labels.
public struct SyntheticImageWang: Sendable {
  public var size = 64
  public var trainPerClass = 12
  public var validPerClass = 6
  public var unsupCount = 300
  public var seed: UInt64 = 0

  public init(size: Int = 64, trainPerClass: Int = 12, validPerClass: Int = 6, unsupCount: Int = 300, seed: UInt64 = 0) {
    (self.size, self.trainPerClass, self.validPerClass, self.unsupCount, self.seed) = (size, trainPerClass, validPerClass, unsupCount, seed)
  }

  static let shapes = ["disc", "square", "triangle", "cross", "ring"]
  static let palettes: [(String, (Double, Double, Double))] = [
    ("red", (0.85, 0.2, 0.15)), ("green", (0.2, 0.75, 0.25)), ("blue", (0.2, 0.3, 0.85)), ("gold", (0.85, 0.7, 0.15)),
  ]
  /// (name, shape index, palette index), sorted by name as ImageFolder orders classes.
  static let classes: [(name: String, shape: Int, palette: Int)] = palettes.indices.flatMap { p in
    shapes.indices.map { ("\(palettes[p].0)_\(shapes[$0])", $0, p) }
  }.sorted { $0.name < $1.name }
  public static var classNames: [String] { classes.map(\.name) }

  /// Writes the dataset under `root` (replacing nothing: `root` must not exist). Built in a temporary
  /// folder beside it and renamed into place, so a half-written dataset is never seen.
  public func write(to root: String) throws {
    guard !FileManager.default.fileExists(atPath: root) else { throw DatasetError(path: root, "already exists") }
    let staging = root + ".partial-\(getpid())"
    try? FileManager.default.removeItem(atPath: staging)
    let names = Self.classNames
    var jobs: [(path: String, cls: Int, seed: UInt64)] = []
    var n: UInt64 = 0
    for (c, name) in names.enumerated() {
      for i in 0..<trainPerClass { jobs.append(("\(staging)/train/\(name)/\(name)_\(i).jpg", c, n)); n += 1 }
      if c < 10 { for i in 0..<validPerClass { jobs.append(("\(staging)/val/\(name)/\(name)_\(i).jpg", c, n)); n += 1 } }
    }
    for i in 0..<unsupCount { jobs.append(("\(staging)/unsup/u_\(i).jpg", i % 10, n)); n += 1 }
    for dir in Set(jobs.map { parentPath($0.path) }) {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    let failure = NSLock()
    nonisolated(unsafe) var firstError: Error?
    let snapshot = jobs
    DispatchQueue.concurrentPerform(iterations: snapshot.count) { j in
      let job = snapshot[j]
      do {
        let img = draw(cls: job.cls, seed: seed ^ (job.seed &* 0x9E37_79B9_7F4A_7C15))
        try Data(ImageCodec.encodeJPEG(img, quality: 92)).write(to: URL(fileURLWithPath: job.path))
      } catch {
        failure.withLock { if firstError == nil { firstError = error } }
      }
    }
    if let firstError { throw firstError }
    try FileManager.default.moveItem(atPath: staging, toPath: root)
  }

  /// One image of class `cls`.
  public func draw(cls: Int, seed: UInt64) -> Image {
    var rng = SplitMix64(seed: seed)
    let shape = Self.classes[cls].shape, palette = Self.palettes[Self.classes[cls].palette].1
    let s = Double(size)
    var px = [Double](repeating: 0, count: size * size * 3)
    // Background: a random smooth gradient with stripes and noise.
    let (b0, b1, b2) = (Double.random(in: 0.2...0.8, using: &rng), Double.random(in: 0.2...0.8, using: &rng), Double.random(in: 0.2...0.8, using: &rng))
    let freq = Double.random(in: 0.05...0.3, using: &rng), phase = Double.random(in: 0...6.28, using: &rng)
    for y in 0..<size {
      for x in 0..<size {
        let stripe = 0.08 * sin(freq * Double(x + y) + phase)
        let i = 3 * (y * size + x)
        px[i] = b0 * (0.7 + 0.3 * Double(y) / s) + stripe
        px[i + 1] = b1 * (0.7 + 0.3 * Double(x) / s) + stripe
        px[i + 2] = b2 + stripe
      }
    }
    // A distractor of another shape in a grey tone, then the class's shape in its jittered palette.
    let other = (shape + Int.random(in: 1..<Self.shapes.count, using: &rng)) % Self.shapes.count
    let grey = Double.random(in: 0.3...0.7, using: &rng)
    paint(&px, other, (grey, grey, grey), scale: Double.random(in: 0.12...0.2, using: &rng), rng: &rng)
    let jitter = { (v: Double, r: inout SplitMix64) in min(1, max(0, v + Double.random(in: -0.12...0.12, using: &r))) }
    let colour = (jitter(palette.0, &rng), jitter(palette.1, &rng), jitter(palette.2, &rng))
    paint(&px, shape, colour, scale: Double.random(in: 0.2...0.35, using: &rng), rng: &rng)
    var out = [UInt8](repeating: 0, count: px.count)
    for i in 0..<px.count {
      let noisy = px[i] + Double.random(in: -0.06...0.06, using: &rng)
      out[i] = UInt8(max(0, min(255, (noisy * 255).rounded())))
    }
    return Image(width: size, height: size, pixels: out)
  }

  func paint(_ px: inout [Double], _ shape: Int, _ c: (Double, Double, Double), scale: Double, rng: inout SplitMix64) {
    let s = Double(size), r = scale * s
    let cx = Double.random(in: r...(s - r), using: &rng), cy = Double.random(in: r...(s - r), using: &rng)
    let angle = Double.random(in: 0...(2 * .pi), using: &rng)
    for y in 0..<size {
      for x in 0..<size {
        let dx = Double(x) - cx, dy = Double(y) - cy
        let u = (dx * cos(angle) + dy * sin(angle)) / r, v = (-dx * sin(angle) + dy * cos(angle)) / r
        let inside: Bool
        switch shape {
        case 0: inside = u * u + v * v <= 1
        case 1: inside = abs(u) <= 0.8 && abs(v) <= 0.8
        case 2: inside = v >= -0.7 && v <= 0.9 && abs(u) <= (0.9 - v) * 0.6
        case 3: inside = (abs(u) <= 0.25 && abs(v) <= 1) || (abs(v) <= 0.25 && abs(u) <= 1)
        default: inside = (0.55...1.0).contains(u * u + v * v)
        }
        if inside {
          let i = 3 * (y * size + x)
          (px[i], px[i + 1], px[i + 2]) = c
        }
      }
    }
  }
}
