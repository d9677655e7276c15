// Colorization's Lab conversion. (The task trained end to end through the study: StudyTests/TaskZooTests.swift.)
import Foundation
import Testing
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Torch
@testable import Training

@Suite struct ColorizationTaskTests {
  /// sRGB → Lab gives the reference values (white: L 100, a = b = 0; sRGB red: 53.24, 80.09, 67.20; mid gray
  /// 0.5: L 53.39) and Lab → sRGB brings random colours back within 1e-4.
  @Test func labConversionMatchesReferenceValuesAndRoundTrips() throws {
    let colours = try Tensor([Float](arrayLiteral: 1, 1, 1, 1, 0, 0, 0.5, 0.5, 0.5), shape: [3, 3, 1, 1])
    let lab = try Lab.fromRGB(colours).reshape([3, 3]).toArray(of: Float.self).map(Double.init)
    let want: [Double] = [100, 0, 0, 53.24, 80.09, 67.20, 53.39, 0, 0]
    for (g, w) in zip(lab, want) { #expect(Swift.abs(g - w) < 0.05, "\(lab)") }
    let x = try Tensor.rand([2, 3, 8, 8])
    #expect(try (Lab.toRGB(Lab.fromRGB(x)) - x).abs().max().item().doubleValue < 1e-4)
  }
}
