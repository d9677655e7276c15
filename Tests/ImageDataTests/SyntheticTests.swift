import Foundation
import Testing
@testable import ImageData

@Suite struct SyntheticTests {
  @Test func writesAnImageWangLayoutThatLoads() throws {
    let root = NSTemporaryDirectory() + "pretext-synth-\(UUID().uuidString)"
    let synth = SyntheticImageWang(size: 32, trainPerClass: 4, validPerClass: 2, unsupCount: 100, seed: 3)
    try synth.write(to: root)
    let ds = try ImageWangLayout(root: root)
    #expect(ds.train.classes == SyntheticImageWang.classNames && ds.train.classes.count == 20)
    #expect(ds.train.count == 80 && ds.valid.count == 20 && ds.unsup!.count == 100)
    #expect(Set(ds.valid.labels) == Set(0..<10))  // val holds 10 of the 20 classes, in train's vocabulary
    #expect(ds.unsup!.count > ds.train.count)
    #expect(try scanImages(ds.train.paths + ds.valid.paths + ds.unsup!.paths).bad.isEmpty)
    let img = try ImageCodec.decode(contentsOf: ds.train.paths[0])
    #expect(img.width == 32 && img.height == 32)
    #expect(throws: DatasetError.self) { try synth.write(to: root) }  // never overwrites
    // Same seed, same pictures.
    #expect(synth.draw(cls: 4, seed: 11) == synth.draw(cls: 4, seed: 11))
    #expect(synth.draw(cls: 4, seed: 11) != synth.draw(cls: 4, seed: 12))
  }
}
