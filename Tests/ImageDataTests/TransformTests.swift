import Foundation
import Testing
@testable import ImageData

@Suite struct TransformTests {
  @Test func resizeAveragesWhenShrinkingAndKeepsFlatImagesFlat() throws {
    let flat = Image(width: 37, height: 23, fill: (10, 200, 99))
    #expect(try flat.resized(to: 16, 16) == Image(width: 16, height: 16, fill: (10, 200, 99)))
    #expect(try flat.resized(to: 80, 50) == Image(width: 80, height: 50, fill: (10, 200, 99)))
    // A 1-px checkerboard shrunk by 2 averages to mid grey, not to one of its colours (no aliasing).
    var p: [UInt8] = []
    for y in 0..<8 { for x in 0..<8 { let v: UInt8 = (x + y) % 2 == 0 ? 0 : 200; p += [v, v, v] } }
    let small = try Image(width: 8, height: 8, pixels: p).resized(to: 4, 4)
    #expect(small.pixels.allSatisfy { abs(Int($0) - 100) <= 2 })
    // A crop region is resampled, not the whole image.
    let g = try gradient().resized(crop: (x: 4, y: 0, w: 4, h: 8), to: 4, 8)
    #expect(g[0, 0].0 == 64 && g[3, 0].0 == 112)
  }

  @Test func flip() throws {
    let g = gradient(), f = g.flippedHorizontally()
    #expect(f[0, 3] == g[15, 3] && f[15, 0] == g[0, 0])
    #expect(f.flippedHorizontally() == g)
    #expect(try g.resized(crop: (2, 1, 10, 6), to: 20, 12, mirror: true) == g.resized(crop: (2, 1, 10, 6), to: 20, 12).flippedHorizontally())
  }

  @Test func randomResizedCropIsSeededAndSized() throws {
    var big: [UInt8] = []
    for y in 0..<120 { for x in 0..<200 { big += [UInt8(x % 256), UInt8(y), 7] } }
    let img = Image(width: 200, height: 120, pixels: big)
    let rrc = RandomResizedCrop(size: 64)
    var a = SplitMix64(seed: 1), b = SplitMix64(seed: 1), c = SplitMix64(seed: 2)
    let x = try rrc(img, training: true, rng: &a)
    #expect(x.width == 64 && x.height == 64)
    #expect(try x == rrc(img, training: true, rng: &b))
    #expect(try x != rrc(img, training: true, rng: &c))
    // Validation: deterministic, no randomness consumed; squish to 64 + 16 then centre-crop 64.
    var v = SplitMix64(seed: 9)
    let before = v
    let val = try rrc(img, training: false, rng: &v)
    #expect(val.width == 64 && v.state == before.state)
    #expect(try val == img.resized(to: 80, 80).resized(crop: (8, 8, 64, 64), to: 64, 64))
  }

  @Test func cutoutStatistics() {
    let img = Image(width: 160, height: 160, fill: (200, 150, 100))
    let cut = RandomCutout()
    var counts: [Int: Int] = [:], widths = Set<Int>(), heights = Set<Int>()
    var rng = SplitMix64(seed: 5)
    for _ in 0..<3000 {
      let hs = cut.holes(width: 160, height: 160, rng: &rng)
      counts[hs.count, default: 0] += 1
      for h in hs where h.x0 > 0 && h.y0 > 0 && h.x1 < 160 && h.y1 < 160 {  // unclipped holes show the drawn size
        widths.insert(h.x1 - h.x0)
        heights.insert(h.y1 - h.y0)
      }
    }
    #expect(Set(counts.keys) == Set(5...9))
    #expect(counts.values.allSatisfy { (450...750).contains($0) })  // ~600 each: uniform
    #expect(widths == Set(5...49) && heights == Set(5...49))
    // Input damaged inside the holes only; the original untouched.
    var r = SplitMix64(seed: 3)
    let (damaged, holes) = cut(img, rng: &r)
    #expect(img == Image(width: 160, height: 160, fill: (200, 150, 100)))
    for y in 0..<160 {
      for x in 0..<160 {
        let inHole = holes.contains { x >= $0.x0 && x < $0.x1 && y >= $0.y0 && y < $0.y1 }
        #expect((damaged[x, y] == (0, 0, 0)) == inHole)
      }
    }
    // The size-scaled variant: sizes given for 160 px, on a 320-px image, come out twice as large.
    let scaled = RandomCutout(relativeTo: 160)
    var s = SplitMix64(seed: 1), t = SplitMix64(seed: 1)
    let big = scaled.holes(width: 320, height: 320, rng: &s).map { $0.x1 - $0.x0 }
    let small = cut.holes(width: 320, height: 320, rng: &t).map { $0.x1 - $0.x0 }
    #expect(big.count == small.count && big.reduce(0, +) > small.reduce(0, +))
  }
}
