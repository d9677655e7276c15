// Data pipeline throughput: decode + RandomResizedCrop(128) + flip + RandomCutout, images/s, one thread;
// then the threaded loader (2 workers, batch 32, tensors out). benchmarks/data.sh runs PIL beside it.
// Usage: data-bench ROOT [passes]
import Foundation
import ImageData
import Torch

let args = CommandLine.arguments
guard args.count >= 2 else {
  print("usage: data-bench ROOT [passes]")
  exit(2)
}
if args[1] == "--synth", args.count > 2 {
  do {
    try SyntheticImageWang(size: 128, trainPerClass: 24, validPerClass: 30, unsupCount: 1200).write(to: args[2])
    exit(0)
  } catch {
    print("error: \(error)")
    exit(1)
  }
}
let passes = args.count > 2 ? Int(args[2]) ?? 1 : 1
do {
  Runtime.threadCount = 1  // the single-thread row is one thread everywhere, libtorch's resize included
  let ds = try ImageWangLayout(root: args[1])
  let paths = ds.train.paths + ds.valid.paths + (ds.unsup?.paths ?? [])
  let crop = RandomResizedCrop(size: 128), cutout = RandomCutout()
  var rng = SplitMix64(seed: 0)
  var checksum = 0
  let start = Date()
  for _ in 0..<passes {
    for p in paths {
      let img = try crop(try ImageCodec.decode(contentsOf: p, minSide: 128), training: true, flip: true, rng: &rng)
      let (x, _) = cutout(img, rng: &rng)
      checksum &+= Int(x.pixels[0])
    }
  }
  let single = Double(paths.count * passes) / Date().timeIntervalSince(start)
  // Where the time goes, per stage (one pass).
  var t = Date(), decoded: [RGBImage] = []
  for p in paths { decoded.append(try ImageCodec.decode(contentsOf: p, minSide: 128)) }
  let decodeUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  t = Date()
  let cropped = try decoded.map { try crop($0, training: true, flip: true, rng: &rng) }
  let cropUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  t = Date()
  for d in decoded { checksum &+= Int(try d.resized(crop: (10, 10, 100, 100), to: 128, 128).pixels[0]) }
  let resizeUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  t = Date()
  var regions = 0
  for d in decoded { regions &+= crop.region(width: d.width, height: d.height, rng: &rng).w }
  let regionUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  _ = (regionUS, regions)
  t = Date()
  for c in cropped { checksum &+= Int(cutout(c, rng: &rng).0.pixels[1]) }
  let cutUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  Runtime.threadCount = 2
  let loader = ImageLoader(paths: paths, task: .inpainting(cutout), size: 128, training: true, batchSize: 32, workers: 2)
  let t0 = Date()
  var seen = 0
  for e in 0..<passes { for (x, _) in try loader.batches(epoch: e) { seen += x.shape[0] } }
  let threaded = Double(seen) / Date().timeIntervalSince(t0)
  print(String(format: "single_thread\t%.1f", single))
  print(String(format: "loader_2_workers\t%.1f", threaded))
  print(String(format: "stages_us_per_image\tdecode %.0f, crop+flip %.0f (resize alone %.0f), cutout %.0f", decodeUS, cropUS, resizeUS, cutUS))
  _ = checksum
} catch {
  print("error: \(error)")
  exit(1)
}
