// swift-tools-version: 6.1
import Foundation
import PackageDescription

// libtorch: $LIBTORCH (a libtorch folder or an installed `torch` package), else the cache that
// scripts/libtorch.py fills (`make setup` runs it). Both hold lib/ and include/.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let torchVersion = ((try? String(contentsOf: packageRoot.appendingPathComponent("scripts/torch-version"), encoding: .utf8)) ?? "")
  .trimmingCharacters(in: .whitespacesAndNewlines)
let env = ProcessInfo.processInfo.environment
// The cache root: $PRETEXT_CACHE, else $HOME/.cache/pretext: the rule of scripts/libtorch.py and of
// Torch's `CacheRoot` (NSHomeDirectory() on Linux reads passwd, not $HOME: only a fallback when HOME is unset).
let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
let cacheRoot = env["PRETEXT_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? (home + "/.cache/pretext")
let libtorch = env["LIBTORCH"].map { ($0 as NSString).expandingTildeInPath } ?? "\(cacheRoot)/libtorch-\(torchVersion)"
let torchLib = "\(libtorch)/lib"
let hasLibtorch = FileManager.default.fileExists(atPath: "\(torchLib)/libtorch_cpu.so")
let hasCUDA = FileManager.default.fileExists(atPath: "\(torchLib)/libtorch_cuda.so")
// NCCL's process group: a CUDA libtorch whose NVIDIA headers were unpacked beside its own (scripts/libtorch.py
// with PRETEXT_CUDA=1): c10d's ProcessGroupNCCL.hpp includes nccl.h and the CUDA libraries' headers.
let hasNCCL = hasCUDA && ["include/nccl.h", "include/cuda_runtime_api.h", "include/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp"]
  .allSatisfy { FileManager.default.fileExists(atPath: "\(libtorch)/\($0)") }

var torchLinker: [String] = ["-L\(torchLib)", "-Xlinker", "-rpath", "-Xlinker", torchLib]
// libtorch_cuda registers CUDA kernels from static initialisers; nothing references it by symbol, so
// --as-needed would drop it.
if hasCUDA { torchLinker += ["-Xlinker", "--no-as-needed", "-ltorch_cuda", "-Xlinker", "--as-needed"] }
if hasNCCL { torchLinker += ["-lc10_cuda"] }  // c10::cuda::set_device, from the NCCL group's set-up
// Not -ltorch: libtorch.so defines nothing of its own; it only names libtorch_cpu (and libtorch_cuda in a CUDA
// wheel, which a CPU set-up of that wheel leaves out: scripts/libtorch.py).
torchLinker += ["-ltorch_cpu", "-lc10"]

let package = Package(
  name: "Pretext",
  products: [
    .library(name: "Torch", targets: ["Torch"]),
    .library(name: "NN", targets: ["NN"]),
    .library(name: "Training", targets: ["Training"]),
    .library(name: "ImageData", targets: ["ImageData"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    .target(
      name: "CTorch",
      cxxSettings: [.unsafeFlags(["-isystem", "\(libtorch)/include", "-Wno-deprecated-declarations"])]
        + (hasLibtorch ? [] : [.define("PRETEXT_NO_LIBTORCH")]),
      linkerSettings: [.unsafeFlags(torchLinker)]
    ),
    // c10d (Gloo) in a target of its own: its headers need Gloo's (Debian's libgloo-dev; the wheel lacks them)
    // and USE_C10D_GLOO, and take long to compile. DistributedTests checks the group works with them.
    .target(
      name: "CDistributed", dependencies: ["CTorch"],
      cxxSettings: [.unsafeFlags(["-isystem", "\(libtorch)/include", "-isystem", "\(libtorch)/include/torch/csrc/api/include",
                                  "-Wno-deprecated-declarations"]), .define("USE_C10D_GLOO")]
        + (hasLibtorch ? [] : [.define("PRETEXT_NO_LIBTORCH")])
        + (hasNCCL ? [.define("USE_C10D_NCCL"), .define("USE_CUDA"), .define("PRETEXT_WITH_NCCL")] : [])),
    .target(name: "Torch", dependencies: ["CTorch", "CDistributed"]),
    .target(name: "NN", dependencies: ["Torch"]),
    .target(name: "Training", dependencies: ["NN", "Torch"]),
    .target(name: "CImage", linkerSettings: [.linkedLibrary("turbojpeg"), .linkedLibrary("png"), .linkedLibrary("tiff")]),
    .target(name: "CGzip", linkerSettings: [.linkedLibrary("z")]),
    // DICOM through DCMTK (Debian's libdcmtk-dev): parsing, RLE/JPEG/JPEG-LS decompression.
    .target(name: "CDicom", linkerSettings: ["dcmjpls", "dcmjpeg", "dcmimgle", "dcmdata", "oflog", "ofstd"].map { .linkedLibrary($0) }),
    .target(name: "SelfSupervised", dependencies: ["ImageData", "NN", "Training"]),
    .target(name: "Study", dependencies: ["ImageData", "NN", "SelfSupervised", "Training"]),
    .target(name: "ImageData", dependencies: ["CImage", "CGzip", "CDicom", "Torch"]),
    // The command-line tool: a library (its commands, testable in-process) and a one-line executable.
    .target(
      name: "PretextCLI",
      dependencies: ["ImageData", "SelfSupervised", "Study", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    .executableTarget(name: "pretext", dependencies: ["PretextCLI"]),
    // Worked examples: the engine end to end, and a learner with checkpoints and logs.
    .executableTarget(name: "torch-smoke", dependencies: ["Torch"], path: "Examples/torch-smoke"),
    .executableTarget(name: "train-synthetic", dependencies: ["Training"], path: "Examples/train-synthetic"),
    // Interop tools the scripts in scripts/interop/ drive against PyTorch and fastai.
    .executableTarget(name: "st-roundtrip", dependencies: ["Torch"], path: "Tools/st-roundtrip"),
    .executableTarget(name: "nn-export", dependencies: ["NN"], path: "Tools/nn-export"),
    // Processes the tests launch (a rank of a process group; memory measured without other tests in the process).
    .executableTarget(name: "dist-check", dependencies: ["Torch", "NN", "Training", "SelfSupervised"], path: "TestHelpers/dist-check"),
    .executableTarget(name: "torch-leak-check", dependencies: ["Torch"], path: "TestHelpers/torch-leak-check"),
    .executableTarget(name: "cpu-cache-check", dependencies: ["Torch"], path: "TestHelpers/cpu-cache-check"),
    // The C++ floor of the per-op benchmark: links libtorch through CTorch's linker settings, uses ATen directly.
    .target(
      name: "BenchFloor", dependencies: ["CTorch"], path: "benchmarks/ops/floor",
      cxxSettings: [.unsafeFlags(["-isystem", "\(libtorch)/include"])]),
    .executableTarget(name: "data-bench", dependencies: ["ImageData", "NN", "SelfSupervised"], path: "benchmarks/data/data-bench"),
    .executableTarget(name: "dist-bench", dependencies: ["NN", "Training"], path: "benchmarks/dist/dist-bench"),
    .executableTarget(name: "model-bench", dependencies: ["NN", "Training", "SelfSupervised"], path: "benchmarks/train-step/model-bench"),
    .executableTarget(name: "epoch-bench", dependencies: ["Study"], path: "benchmarks/epoch/epoch-bench"),
    .executableTarget(name: "torch-bench", dependencies: ["Torch", "BenchFloor"], path: "benchmarks/ops/torch-bench"),
    // Helpers for tests that run the package's executables (not a product).
    .target(name: "TestSupport", path: "TestHelpers/TestSupport"),
    .testTarget(
      name: "TrainingTests", dependencies: ["Training", "TestSupport"], exclude: ["Fixtures/make_fixtures.py"],
      resources: [.copy("Fixtures")]),
    .testTarget(name: "ImageDataTests", dependencies: ["ImageData", "SelfSupervised"], exclude: ["Fixtures/make_dicom_fixtures.py", "Fixtures/make_tiff_fixtures.py"], resources: [.copy("Fixtures")]),
    .testTarget(name: "StudyTests", dependencies: ["Study", "SelfSupervised", "TestSupport"], exclude: ["Fixtures/make_inpainting_fixture.sh", "Fixtures/make_old_run_fixture.sh"],
                resources: [.copy("Fixtures")]),
    .testTarget(name: "SelfSupervisedTests", dependencies: ["SelfSupervised", "TestSupport"],
                exclude: ["Fixtures/make_lightly_fixture.py", "Fixtures/torchvision_stub.py"], resources: [.copy("Fixtures")]),
    .testTarget(name: "NNTests", dependencies: ["NN"], resources: [.copy("Fixtures")]),
    .testTarget(name: "PretextCLITests", dependencies: ["PretextCLI", "TestSupport"]),
    .testTarget(name: "TorchTests", dependencies: ["Torch", "TestSupport"], exclude: ["Fixtures/make_fixtures.py"], resources: [.copy("Fixtures")]),
  ],
  cxxLanguageStandard: .cxx20
)
