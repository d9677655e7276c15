// Data pipeline throughput: decode + RandomResizedCrop(128) + flip + RandomCutout, images/s, one thread;
// then the threaded loader (2 workers, batch 32, tensors out). benchmarks/data/data_bench.py runs PIL beside it (bench.py).
// Usage: data-bench ROOT [passes]
//        data-bench --one-thread ROOT PASSES: the one-thread rows only (run two at once for the machine's scaling),
//        each with the CPU µs and page faults per image; BENCH_ONLY=bare|loader runs one of them (to profile it alone),
//        BENCH_BARE_SHUFFLED=1 adds the bare loop over a shuffled order, BENCH_BARE_ON_THREAD=1 the bare loop on a
//        thread started as the loader's workers are
//        data-bench --loader-only ROOT PASSES: the 2-worker byte loader alone, images/s, CPU µs per image (under
//        `perf stat -e task-clock` it gives the cores kept busy), and how many slots were made in their batch rows
//        data-bench --resize-parts ROOT: RandomResizedCrop's resampling alone (whole image copied, a random region,
//        mirrored, the Swift flip), µs per image on one thread
//        data-bench --simclr ROOT SIZE PASSES: the SimCLR task's two views through the loader (batch 32, float
//        tensors), 1 worker on one thread, then $BENCH_THREADS workers (default 2), after a per-stage breakdown
//        on one thread; simclr_data_bench.py runs lightly's beside it.
import Foundation
import ImageData
import NN
import SelfSupervised
import Torch

Runtime.cacheCPUMemoryUnlessDisabled()  // as `pretext` does
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
/// Peak resident memory of this process so far, in MB.
func peakRSSMB() -> Double {
  var u = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
  return Double(u.ru_maxrss) / 1024
}

if args[1] == "--resize-parts", args.count > 2 {
  // Where RandomResizedCrop's time goes, one thread, µs per image over the decoded images (best of 3 passes each).
  do {
    Runtime.threadCount = 1
    let ds = try ImageWangLayout(root: args[2])
    let decoded = try (ds.train.paths + ds.valid.paths + (ds.unsup?.paths ?? [])).map { try ImageCodec.decode(contentsOf: $0, minSide: 128) }
    var rng = SplitMix64(seed: 1)
    let crop = RandomResizedCrop(size: 128)
    let regions = decoded.map { crop.region(width: $0.width, height: $0.height, rng: &rng) }
    func best(_ name: String, _ body: () throws -> Int) throws {
      var times: [Double] = [], sum = 0
      for _ in 0..<3 {
        let t = Date()
        sum &+= try body()
        times.append(Date().timeIntervalSince(t) / Double(decoded.count) * 1e6)
      }
      print(String(format: "%@\t%.1f µs", name, times.min()!) + (sum == 42 ? " " : ""))
    }
    try best("whole image, same size (copy only)") { try decoded.reduce(0) { $0 &+ Int(try $1.resized(to: $1.width, $1.height).withUnsafeBytes { $0[0] }) } }
    try best("random region → 128") { try zip(decoded, regions).reduce(0) { $0 &+ Int(try $1.0.resized(crop: $1.1, to: 128, 128).withUnsafeBytes { $0[0] }) } }
    try best("random region → 128, mirrored") { try zip(decoded, regions).reduce(0) { $0 &+ Int(try $1.0.resized(crop: $1.1, to: 128, 128, mirror: true).withUnsafeBytes { $0[0] }) } }
    try best("flippedHorizontally (Swift loop)") { decoded.reduce(0) { $0 &+ Int($1.flippedHorizontally().withUnsafeBytes { $0[0] }) } }
    exit(0)
  } catch {
    print("error: \(error)")
    exit(1)
  }
}
if args[1] == "--simclr", args.count > 4, let size = Int(args[3]), let passes = Int(args[4]) {
  do {
    let ds = try ImageWangLayout(root: args[2])
    let paths = ds.train.paths + ds.valid.paths + (ds.unsup?.paths ?? [])
    let pipeline = try SimCLRTask(TaskSettings(size: size, widen: 0.125)).pipeline(training: true)
    // Where one thread's time goes, per view (each transform applied with p 1 to already decoded images).
    Runtime.threadCount = 1
    var rng = SplitMix64(seed: 0)
    func us(_ body: () throws -> Void) rethrows -> Double {
      let t = Date(); try body(); return Date().timeIntervalSince(t) / Double(paths.count) * 1e6
    }
    var decoded: [Image] = []
    let decodeUS = try us { for p in paths { decoded.append(try ImageCodec.decode(contentsOf: p, minSide: size)) } }
    var items = decoded.map { Item(source: $0) }
    let crop = Crop(size: size, training: true, minScale: 0.08)
    let cropUS = try us { for i in items.indices { try crop.apply(&items[i], rng: &rng) } }
    let stages: [(String, any ItemTransform)] = [("jitter", ColorJitter(brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2, p: 1)),
                                                 ("grayscale", Grayscale(p: 1)), ("blur", GaussianBlur(p: 1))]
    var line = String(format: "simclr_stages_us_per_view\tdecode %.0f (per image), crop+flip %.0f", decodeUS, cropUS)
    for (name, t) in stages {
      var copy = items
      line += String(format: ", %@ %.0f", name, try us { for i in copy.indices { try t.apply(&copy[i], rng: &rng) } })
    }
    print(line)
    let cores = Int(ProcessInfo.processInfo.environment["BENCH_THREADS"] ?? "2") ?? 2
    for workers in [1, cores] {
      Runtime.threadCount = workers
      let loader = ImageLoader(paths: paths, pipeline: pipeline, batchSize: 32, shuffle: true, workers: workers)
      let start = Date()
      var seen = 0
      for e in 0..<passes {
        let pass = loader.pass(epoch: e)
        while let b = try pass.next() {
          guard let v0 = b["view0"], let v1 = b["view1"], v0.shape == v1.shape, v0.shape[2] == size else {
            throw ImageError(path: nil, "the SimCLR loader made no two views of \(size) px")
          }
          seen += v0.shape[0]
        }
      }
      print(String(format: "simclr_loader_%d_workers\t%.1f", workers, Double(seen) / Date().timeIntervalSince(start)))
    }
    exit(0)
  } catch {
    print("error: \(error)")
    exit(1)
  }
}

if args[1] == "--feed", args.count > 2 {
  // Trains xresnet34 at 128 px on batches from the loader (2 workers) and measures how long each step
  // waited for its batch: the loader keeps up when that is ~0.
  do {
    Runtime.threadCount = 2
    let ds = try ImageWangLayout(root: args[2])
    let loader = ImageLoader(paths: ds.train.paths, labels: ds.train.labels, pipeline: .crop(size: 128, training: true),
                             batchSize: 32, shuffle: true, workers: 2)
    let model = try XResNet(.resnet34, classes: ds.train.classes.count)
    let steps = args.count > 3 ? Int(args[3]) ?? 6 : 6
    var waited = 0.0, computing = 0.0, n = 0
    let it = loader.pass(epoch: 0)
    var t = Date()
    while n < steps, let b = try it.next(), let x = b["image"], let y = b["label"] {
      let got = Date()
      if n > 0 { waited += got.timeIntervalSince(t) }  // the first batch has no step to hide behind
      for p in model.parameters() { try p.value.clearGrad() }
      try crossEntropy(model(x), y).backward()
      t = Date()
      if n > 0 { computing += t.timeIntervalSince(got) }
      n += 1
    }
    print(String(format: "feed\tsteps %d, compute %.2f s, waiting for data %.3f s (%.2f%%), peak RSS %.0f MB",
                 n - 1, computing, waited, 100 * waited / Swift.max(computing, 1e-9), peakRSSMB()))
    exit(0)
  } catch {
    print("error: \(error)")
    exit(1)
  }
}
/// Images per second of the bare decode + RandomResizedCrop(128) + flip + RandomCutout loop on this thread, `passes`
/// times over `paths` (no batching, no float conversion: what data_bench.py's PIL loop does).
@Sendable func bareLoopRate(_ paths: [String], passes: Int, crop: RandomResizedCrop, cutout: RandomCutout) throws -> Double {
  var rng = SplitMix64(seed: 0)
  var checksum = 0
  let start = Date()
  for _ in 0..<passes {
    for p in paths {
      let (x, _) = cutout(try crop(try ImageCodec.decode(contentsOf: p, minSide: 128), training: true, flip: true, rng: &rng), rng: &rng)
      checksum &+= Int(x.withUnsafeBytes { $0[0] })
    }
  }
  let rate = Double(paths.count * passes) / Date().timeIntervalSince(start)
  return checksum == Int.min ? 0 : rate  // the checksum is read, so the loop is not optimised away
}

/// Images per second of `passes` epochs through `loader`.
func loaderRate(_ loader: ImageLoader, passes: Int) throws -> Double {
  let start = Date()
  var seen = 0
  for e in 0..<passes {
    let pass = loader.pass(epoch: e)
    while let b = try pass.next() { seen += b["image"]!.shape[0] }
  }
  return Double(seen) / Date().timeIntervalSince(start)
}

if args[1] == "--one-thread", args.count > 3, let passes = Int(args[3]) {
  // Only the one-thread rows: the bare decode + augment loop, then the loader on 1 worker. Run alone and as two
  // processes at once, they give the machine's own 2-core scaling for this work, with no threads shared.
  do {
    Runtime.threadCount = 1
    let ds = try ImageWangLayout(root: args[2])
    let paths = ds.train.paths + ds.valid.paths + (ds.unsup?.paths ?? [])
    let crop = RandomResizedCrop(size: 128), cutout = RandomCutout()
    // Each row with the process's CPU time per image: on a shared host the wall-clock rate moves with the
    // neighbours, the CPU time much less.
    func row(_ name: String, _ rate: () throws -> Double) rethrows {
      func faults() -> Int {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return u.ru_minflt
      }
      let (cpu, f) = (clock(), faults())
      let r = try rate()
      let n = Double(paths.count * passes)
      let us = Double(clock() - cpu) / Double(CLOCKS_PER_SEC) / n * 1e6
      print(String(format: "%@\t%.1f\t(cpu_us_per_image %.1f, page faults per image %.1f)", name, r, us, Double(faults() - f) / n))
    }
    // BENCH_ONLY=bare|loader runs one of the two rows (to profile it alone).
    let only = ProcessInfo.processInfo.environment["BENCH_ONLY"]
    if only != "loader" { try row("single_thread") { try bareLoopRate(paths, passes: passes, crop: crop, cutout: cutout) } }
    if ProcessInfo.processInfo.environment["BENCH_BARE_SHUFFLED"] == "1" {
      var g = SplitMix64(seed: 5)
      let shuffled = paths.shuffled(using: &g)
      try row("single_thread_shuffled") { try bareLoopRate(shuffled, passes: passes, crop: crop, cutout: cutout) }
    }
    if ProcessInfo.processInfo.environment["BENCH_BARE_ON_THREAD"] == "1" {
      // The same bare loop on a thread started as the loader starts its workers.
      try row("single_thread_on_a_worker_thread") {
        final class Outcome: @unchecked Sendable { var rate: Result<Double, Error> = .success(0) }
        let outcome = Outcome(), done = DispatchSemaphore(value: 0)
        Thread { [paths] in
          Runtime.withThreadCountForThisThread(1) { outcome.rate = Result { try bareLoopRate(paths, passes: passes, crop: crop, cutout: cutout) } }
          done.signal()
        }.start()
        done.wait()
        return try outcome.rate.get()
      }
    }
    if only == "bare" { exit(0) }
    let loader = ImageLoader(paths: paths, pipeline: Pipeline.crop(size: 128, training: true).then(Cutout(cutout)), batchSize: 32,
                             shuffle: true, workers: 1, samples: .bytes)
    try row("loader_1_worker_no_cache") { try loaderRate(loader, passes: passes) }
    exit(0)
  } catch {
    print("error: \(error)")
    exit(1)
  }
}
if args[1] == "--loader-only", args.count > 3, let passes = Int(args[3]) {
  do {
    Runtime.threadCount = 2
    let ds = try ImageWangLayout(root: args[2])
    let paths = ds.train.paths + ds.valid.paths + (ds.unsup?.paths ?? [])
    let loader = ImageLoader(paths: paths, pipeline: Pipeline.crop(size: 128, training: true).then(Cutout(RandomCutout())),
                             batchSize: 32, shuffle: true, workers: 2, samples: .bytes)
    let cpu = clock()
    let rate = try loaderRate(loader, passes: passes)
    let cpuUS = Double(clock() - cpu) / Double(CLOCKS_PER_SEC) / Double(paths.count * passes) * 1e6
    print(String(format: "loader_2_workers_no_cache\t%.1f\ncpu_us_per_image\t%.1f", rate, cpuUS))
    print("stored_in_place\t\(loader.storeCounts.madeInRows) made in their rows, \(loader.storeCounts.copiedOrConverted) copied")
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
  let inpainting = Pipeline.crop(size: 128, training: true).then(Cutout(cutout))
  let single = try bareLoopRate(paths, passes: passes, crop: crop, cutout: cutout)
  var rng = SplitMix64(seed: 0)
  var checksum = 0
  // Where the time goes, per stage (one pass).
  var t = Date(), decoded: [Image] = []
  for p in paths { decoded.append(try ImageCodec.decode(contentsOf: p, minSide: 128)) }
  let decodeUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  t = Date()
  let cropped = try decoded.map { try crop($0, training: true, flip: true, rng: &rng) }
  let cropUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  t = Date()
  for d in decoded { checksum &+= Int(try d.resized(crop: (10, 10, 100, 100), to: 128, 128).withUnsafeBytes { $0[0] }) }
  let resizeUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  t = Date()
  var regions = 0
  for d in decoded { regions &+= crop.region(width: d.width, height: d.height, rng: &rng).w }
  let regionUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  _ = (regionUS, regions)
  t = Date()
  for c in cropped { checksum &+= Int(cutout(c, rng: &rng).0.withUnsafeBytes { $0[1] }) }
  let cutUS = Date().timeIntervalSince(t) / Double(paths.count) * 1e6
  // The loader on 1 worker (its own scaling reference: the same work as on 2), then on 2 workers decoding every
  // image every epoch (the row set against PIL in 2 processes).
  func rate(_ loader: ImageLoader) throws -> Double { try loaderRate(loader, passes: passes) }
  // Byte samples, as the study's loaders make them (the training side turns them into floats); then the same
  // loader writing floats itself (`samples: .unitFloats`, 4× the bytes stored per sample).
  let one = try rate(ImageLoader(paths: paths, pipeline: inpainting, batchSize: 32, shuffle: true, workers: 1, samples: .bytes))
  print(String(format: "loader_1_worker_no_cache\t%.1f", one))
  Runtime.threadCount = 2
  let plain = try rate(ImageLoader(paths: paths, pipeline: inpainting, batchSize: 32, shuffle: true, workers: 2, samples: .bytes))
  print(String(format: "loader_2_workers_no_cache\t%.1f", plain))
  let floats = try rate(ImageLoader(paths: paths, pipeline: inpainting, batchSize: 32, shuffle: true, workers: 2))
  print(String(format: "loader_2_workers_no_cache_floats\t%.1f", floats))
  let rssBefore = peakRSSMB()
  let loader = ImageLoader(paths: paths, pipeline: inpainting, batchSize: 32, shuffle: true, workers: 2,
                           cacheSide: 144, samples: .bytes)
  let threaded = try rate(loader)
  print(String(format: "single_thread\t%.1f", single))
  print(String(format: "loader_2_workers_cached\t%.1f", threaded))
  print(String(format: "memory\tpeak RSS %.0f MB before the loader, %.0f MB after %d epochs with its decode cache (%.0f MB of pixels)",
               rssBefore, peakRSSMB(), passes, Double(loader.cacheBytes) / 1e6))
  print(String(format: "stages_us_per_image\tdecode %.0f, crop+flip %.0f (resize alone %.0f), cutout %.0f", decodeUS, cropUS, resizeUS, cutUS))
  _ = checksum
} catch {
  print("error: \(error)")
  exit(1)
}
