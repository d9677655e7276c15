import Testing
@testable import Torch

/// The elements as Doubles, whatever the dtype.
func values(_ t: Tensor) throws -> [Double] { try t.to(dtype: .float64).toArray(of: Double.self) }

func expectClose(_ a: [Double], _ b: [Double], tol: Double = 1e-6, sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(a.count == b.count, sourceLocation: sourceLocation)
  // Written so that a NaN on either side fails.
  for (x, y) in zip(a, b) where !(Swift.abs(x - y) <= tol * Swift.max(1, Swift.abs(y))) {
    Issue.record("\(a) differs from \(b) (tolerance \(tol))", sourceLocation: sourceLocation)
    return
  }
}

/// Central finite differences of the scalar `f` at `x` (float64), against autograd's gradient.
func gradCheck(_ x: Tensor, eps: Double = 1e-6, tol: Double = 1e-5, sourceLocation: SourceLocation = #_sourceLocation, _ f: (Tensor) throws -> Tensor) throws {
  let leaf = try x.to(dtype: .float64).clone().requiringGrad()
  try f(leaf).backward()
  let analytic = try values(leaf.grad!)
  var point = try values(x)
  var numeric: [Double] = []
  for i in point.indices {
    let saved = point[i]
    point[i] = saved + eps
    let plus = try withNoGrad { try f(Tensor(point, shape: x.shape)).item(Double.self) }
    point[i] = saved - eps
    let minus = try withNoGrad { try f(Tensor(point, shape: x.shape)).item(Double.self) }
    point[i] = saved
    numeric.append((plus - minus) / (2 * eps))
  }
  expectClose(analytic, numeric, tol: tol, sourceLocation: sourceLocation)
}
