// Makes and drops 300,000 tensors after a warm-up and prints: resident-memory growth in bytes, and the
// change in live tensor handles. Run as its own process by the leak test, so that no other test's
// allocations land in the measurement.
import Foundation
import Torch

func residentBytes() -> Int {
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
    let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
  else { return -1 }
  return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func churn(_ n: Int) throws {
  for _ in 0..<n {
    let t = try Tensor.zeros([64])
    _ = try (t + 1).sum()
  }
}

do {
  try churn(10_000)  // warm up allocator caches
  let live = liveTensorHandles
  let before = residentBytes()
  try churn(100_000)
  print(residentBytes() - before, liveTensorHandles - live)
} catch {
  print("error: \(error)")
  exit(1)
}
