import Foundation
import Testing
@testable import Torch

@Suite struct SafeTensorsTests {
  let dir: String = {
    let d = NSTemporaryDirectory() + "pretext-st-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }()

  /// One tensor of every dtype, with values that tell elements apart.
  func everyDType() throws -> [(name: String, tensor: Tensor)] {
    let base = try Tensor.arange(-3, 3, dtype: .float64).reshape([2, 3]) * 1.5
    return try DType.allCases.map { dt in
      let t = dt == .bool ? try base .> 0 : (dt == .uint8 ? try (base + 5).to(dtype: dt) : try base.to(dtype: dt))
      return ("layer.\(dt).weight", t)
    } + [("empty", try Tensor.zeros([0, 4])), ("scalar", try Tensor(scalar: Float(7)))]
  }

  @Test func roundTripEveryDType() throws {
    let path = dir + "/all.safetensors"
    let tensors = try everyDType()
    try SafeTensors.save(tensors, metadata: ["format": "pt", "note": "quote \" and \\ and \n"], to: path)
    let file = try SafeTensors.File(path: path)
    #expect(file.names == tensors.map(\.name))  // file order = the order given
    #expect(file.metadata["note"] == "quote \" and \\ and \n")
    for (name, t) in tensors {
      let back = try file.tensor(name)
      #expect(back.dtype == t.dtype && back.shape == t.shape, "\(name)")
      #expect(try back.equal(t), "\(name)")
    }
  }

  @Test func writesAnyLayoutAndReadsWithoutCopy() throws {
    let path = dir + "/layout.safetensors"
    let x = try Tensor.randn([2, 3, 4, 5])
    try SafeTensors.save([("cl", x.contiguous(.channelsLast)), ("t", x.transpose(0, 3))], to: path)
    let file = try SafeTensors.File(path: path)
    #expect(try file.tensor("cl").equal(x))
    #expect(try file.tensor("t").equal(x.transpose(0, 3)))
    // The tensor points into the mapped file, and writing to it leaves the file untouched.
    let t = try file.tensor("cl")
    let inside = file.mapping.base! ..< (file.mapping.base! + file.mapping.count)
    #expect(inside.contains(t.dataPointer!))
    try t.fill_(0)
    #expect(try SafeTensors.File(path: path).tensor("cl").equal(x))
  }

  @Test func readsWhatPyTorchWrote() throws {
    // Written by safetensors.torch.save_file with torch 2.13 (Tests/TorchTests/Fixtures/make_fixtures.py).
    let path = Bundle.module.path(forResource: "torch_written", ofType: "safetensors", inDirectory: "Fixtures")!
    let file = try SafeTensors.File(path: path)
    #expect(try file.tensor("f32").toArray(of: Float.self) == [0, 0.5, 1, 1.5, 2, 2.5])
    #expect(try file.tensor("f32").shape == [2, 3])
    #expect(try values(file.tensor("bf16")) == [-1, 0, 1])
    #expect(try file.tensor("i64").toArray(of: Int64.self) == [1 << 40, -5])
    #expect(try file.tensor("u8").toArray(of: UInt8.self) == [0, 128, 255])
    #expect(try file.tensor("b").toArray(of: Bool.self) == [true, false])
    #expect(file.metadata == ["written_by": "torch"])
  }

  @Test func interruptedWriteLeavesTheOldFile() throws {
    let path = dir + "/keep.safetensors"
    try SafeTensors.save([("a", Tensor([1.0]))], to: path)
    // A tensor that cannot be written (unsupported name) fails before anything is replaced.
    #expect(throws: FileError.self) { try SafeTensors.save([("a", Tensor([2.0])), ("a", Tensor([3.0]))], to: path) }
    #expect(try SafeTensors.load(path: path)[0].tensor.toArray(of: Double.self) == [1])
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
    #expect(leftovers.isEmpty)
  }

  @Test func fileErrorsNameTheFile() throws {
    #expect(throws: FileError.self) { try SafeTensors.File(path: dir + "/missing.safetensors") }
    let bad = dir + "/short.safetensors"
    FileManager.default.createFile(atPath: bad, contents: Data([1, 2, 3]))
    do {
      _ = try SafeTensors.File(path: bad)
      Issue.record("a 3-byte file was accepted")
    } catch let e as FileError {
      #expect(e.description.contains("short.safetensors"))
      #expect(e.message.contains("too short"))
    }
  }

  func image(_ tensors: [(name: String, tensor: Tensor)]) throws -> [UInt8] {
    let path = dir + "/img-\(UUID().uuidString).safetensors"
    try SafeTensors.save(tensors, metadata: ["k": "v"], to: path)
    return [UInt8](FileManager.default.contents(atPath: path)!)
  }

  func header(_ json: String, data: Int) -> [UInt8] {
    let h = Array(json.utf8)
    var out = (0..<8).map { UInt8(truncatingIfNeeded: h.count >> (8 * $0)) }
    out += h
    out += [UInt8](repeating: 0, count: data)
    return out
  }

  func parse(_ bytes: [UInt8]) -> Result<SafeTensors.Header, SafeTensorsError> {
    bytes.withUnsafeBytes { buf in Result { () throws(SafeTensorsError) in try SafeTensors.parseHeader(buf) } }
  }

  @Test func hostileHeadersAreRejectedCleanly() throws {
    let cases: [(String, Int, String)] = [
      (#"[]"#, 0, "not a JSON object"),
      (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, 8, "not valid JSON"),
      (#"{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, 16, "unsupported dtype"),
      (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "not a list of sizes"),
      (#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, 4, "not a list of sizes"),
      (#"{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, 4, "not a list of sizes"),
      (#"{"a":{"dtype":"F32","shape":[3037000500,3037000500,3037000500],"data_offsets":[0,4]}}"#, 4, "too large"),
      (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, 4, "needs 8 bytes"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, 4, "ordered pair"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#, 6, "overlaps"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "gap"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 3, "truncated"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 9, "belong to no tensor"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775807]}}"#, 4, "bytes"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, 4, "two integers"),
      (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#, 4, "unexpected fields"),
      (#"{"a":7}"#, 0, "not an object"),
      (#"{"__metadata__":{"k":1}}"#, 0, "not a string"),
      (String(repeating: "[", count: 100_000), 0, "JSON"),
      ("{\"a\":" + String(repeating: "[", count: 100_000), 0, "JSON"),
      ("{\"a\":" + String(repeating: "{\"b\":", count: 10_000) + "1" + String(repeating: "}", count: 10_001), 0, "JSON"),
      (#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, 4, "missing dtype"),
    ]
    for (json, data, expected) in cases {
      switch parse(header(json, data: data)) {
      case .success: Issue.record("accepted: \(json.prefix(80))")
      case .failure(let e): #expect(e.message.contains(expected), "\(json.prefix(80)) → \(e.message)")
      }
    }
    // Header length fields that lie.
    var huge = header("{}", data: 0)
    for i in 0..<8 { huge[i] = 0xff }
    #expect(throws: SafeTensorsError.self) { try parse(huge).get() }
    var long = header("{}", data: 0)
    long[0] = 200
    #expect(throws: SafeTensorsError.self) { try parse(long).get() }
  }

  @Test func thousandsOfMutationsGiveOnlyCleanErrors() throws {
    let valid = try image(everyDType())
    guard case .success(let good) = parse(valid) else { Issue.record("valid image rejected"); return }
    #expect(good.entries.count == DType.allCases.count + 2)

    var accepted = 0, rejected = 0
    func probe(_ bytes: [UInt8]) {
      switch parse(bytes) {
      case .failure: rejected += 1
      case .success(let h):
        accepted += 1
        // Whatever is accepted lies within the buffer and is self-consistent.
        for e in h.entries {
          #expect(h.dataStart + e.range.upperBound <= bytes.count)
          #expect(e.shape.reduce(1, *) * e.dtype.elementSize == e.range.count)
        }
      }
    }
    // Every truncation.
    for n in 0..<valid.count { probe(Array(valid[0..<n])) }
    // Random byte changes in the length field and header (seeded, so a failure replays).
    var rng = SplitMix64(seed: 2024)
    let headerEnd = good.dataStart
    for _ in 0..<5_000 {
      var m = valid
      for _ in 0..<Int.random(in: 1...3, using: &rng) {
        let i = Int.random(in: 0..<headerEnd, using: &rng)
        m[i] = [UInt8(ascii: "0"), UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: ","), 0xff,
                UInt8.random(in: 0...255, using: &rng)][Int.random(in: 0..<7, using: &rng)]
      }
      probe(m)
    }
    // Random garbage of random sizes.
    for _ in 0..<1_000 {
      probe((0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }
    #expect(rejected > 5_000)
    #expect(accepted > 0)  // some flips (inside names or padding) keep a file valid; those were checked above
    // A few mutated files through the file reader too: every outcome a clean error or in-bounds tensors.
    for k in 0..<50 {
      var m = valid
      m[Int.random(in: 0..<headerEnd, using: &rng)] = UInt8(ascii: "1")
      let path = dir + "/m\(k).safetensors"
      FileManager.default.createFile(atPath: path, contents: Data(m))
      if let f = try? SafeTensors.File(path: path) { _ = try f.tensors() }
    }
  }
}

/// A small seeded generator for reproducible mutations.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
