// Reads a safetensors file through Pretext's reader, and writes every tensor back with Pretext's writer,
// adding tensors computed in Swift. scripts/interop/check_safetensors.py drives it against PyTorch.
import Torch

let args = CommandLine.arguments
guard args.count == 3 else {
  print("usage: st-roundtrip IN.safetensors OUT.safetensors")
  exit(2)
}
do {
  let input = try SafeTensors.File(path: args[1])
  var tensors = try input.tensors()
  let ramp = try Tensor.arange(-4, 4, dtype: .float32) * 0.5
  for dtype in DType.allCases where dtype != .bool {
    tensors.append(("swift.ramp.\(dtype)", try ramp.to(dtype: dtype)))
  }
  tensors.append(("swift.ramp.bool", try ramp .> 0))
  try SafeTensors.save(tensors, metadata: input.metadata.merging(["swift": "yes"]) { $1 }, to: args[2])
  print("wrote \(tensors.count) tensors to \(args[2])")
} catch {
  print("error: \(error)")
  exit(1)
}

#if canImport(Glibc)
import Glibc
#endif
