// config.json: one flat object, the keys runs have written since before the config had parts. The bytes are a
// stage's fingerprint (`StudyConfig.fingerprint`): a change of key or value here would make every earlier run's
// checkpoints and results "another configuration's" (OldRunFolderTests holds a run folder of 2026-12-07 to it).
// So a setting added after 2026-12-07 is written only when it is not its default (`encodeUnlessDefault`): a run that
// leaves it alone has the bytes, and the fingerprints, it had before the setting existed.
import Foundation
import ImageData
import NN
import Training

extension StudyConfig: Codable {
  enum CodingKeys: String, CodingKey {
    // Pretext, and its tasks' own options.
    case task, pretextSize, pretextBatch, pretextEpochs, pretextLR, pretextRecipe, knnEvery, knnMonitorImages
    case cutoutReferenceSize, cutoutHoles, cutoutHoleSize, cutoutFill, swavQueue, unetSkips
    // Downstream.
    case size, batch, epochs, lr, headEpochs, head, downstreamRecipe, cacheFeatures, runs, knnK, knnTemperature
    case aux, unlabelledBatch, auxOnLabelled, pseudoThreshold, pseudoPerClass
    // Data.
    case labelFraction, tuningSplit, maxTrainPerClass, maxValidPerClass, maxUnsup, layout, dicomWindow, channels
    // Runtime.
    case seed, workers, device, channelsLast, precision, autoPrecision, keepCheckpoints, syncBatchNorm
    // The model.
    case widen, weightDecay
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    let (p, d, data, r) = (pretext, downstream, self.data, runtime)
    try c.encode(p.task, forKey: .task); try c.encode(p.size, forKey: .pretextSize); try c.encode(p.batch, forKey: .pretextBatch)
    try c.encode(p.epochs, forKey: .pretextEpochs); try c.encode(p.lr, forKey: .pretextLR); try c.encode(p.recipe, forKey: .pretextRecipe)
    try c.encode(p.knnEvery, forKey: .knnEvery); try c.encode(p.knnMonitorImages, forKey: .knnMonitorImages)
    try c.encode(p.inpainting.cutoutReferenceSize, forKey: .cutoutReferenceSize); try c.encode(p.inpainting.cutoutHoles, forKey: .cutoutHoles)
    try c.encode(p.inpainting.cutoutSize, forKey: .cutoutHoleSize); try c.encode(p.inpainting.cutoutFill, forKey: .cutoutFill)
    try c.encode(p.swav.queue, forKey: .swavQueue); try c.encode(p.unet.skips, forKey: .unetSkips)
    try c.encode(d.size, forKey: .size); try c.encode(d.batch, forKey: .batch); try c.encode(d.epochs, forKey: .epochs)
    try c.encode(d.lr, forKey: .lr); try c.encode(d.headEpochs, forKey: .headEpochs); try c.encode(d.head, forKey: .head)
    try c.encode(d.recipe, forKey: .downstreamRecipe); try c.encode(d.cacheFeatures, forKey: .cacheFeatures); try c.encode(d.runs, forKey: .runs)
    try c.encode(data.labelFraction, forKey: .labelFraction); try c.encode(data.tuningSplit, forKey: .tuningSplit)
    try c.encodeIfPresent(data.maxTrainPerClass, forKey: .maxTrainPerClass); try c.encodeIfPresent(data.maxValidPerClass, forKey: .maxValidPerClass)
    try c.encodeIfPresent(data.maxUnsup, forKey: .maxUnsup); try c.encode(data.layout, forKey: .layout)
    try c.encodeIfPresent(data.dicomWindow, forKey: .dicomWindow); try c.encode(data.channels, forKey: .channels)
    try c.encode(r.seed, forKey: .seed); try c.encode(r.workers, forKey: .workers); try c.encode(r.device, forKey: .device)
    try c.encode(r.channelsLast, forKey: .channelsLast); try c.encode(r.precision, forKey: .precision)
    try c.encodeIfPresent(r.autoPrecision, forKey: .autoPrecision); try c.encode(r.keepCheckpoints, forKey: .keepCheckpoints)
    try c.encode(r.syncBatchNorm, forKey: .syncBatchNorm)
    try c.encode(widen, forKey: .widen); try c.encode(weightDecay, forKey: .weightDecay)
    // Added after 2026-12-07.
    let defaults = StudyConfig()
    func encodeUnlessDefault<T: Encodable & Equatable>(_ value: T, _ standard: T, _ key: CodingKeys) throws {
      if value != standard { try c.encode(value, forKey: key) }
    }
    try encodeUnlessDefault(d.knnK, defaults.downstream.knnK, .knnK)
    try encodeUnlessDefault(d.knnTemperature, defaults.downstream.knnTemperature, .knnTemperature)
    try encodeUnlessDefault(d.semi.aux, defaults.downstream.semi.aux, .aux)
    try c.encodeIfPresent(d.semi.unlabelledBatch, forKey: .unlabelledBatch)
    try encodeUnlessDefault(d.semi.auxOnLabelled, defaults.downstream.semi.auxOnLabelled, .auxOnLabelled)
    try encodeUnlessDefault(d.semi.pseudoThreshold, defaults.downstream.semi.pseudoThreshold, .pseudoThreshold)
    try c.encodeIfPresent(d.semi.pseudoPerClass, forKey: .pseudoPerClass)
  }

  /// Fields an older config.json lacks keep their defaults; a choice that is not one of its values is refused naming
  /// the flag that sets it.
  public init(from decoder: Decoder) throws {
    self.init()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    func take<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws { value = try c.decodeIfPresent(T.self, forKey: key) ?? value }
    func choose<T: RawRepresentable & CaseIterable>(_ key: CodingKeys, _ value: inout T, _ flag: String) throws where T.RawValue == String {
      guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return }
      guard let v = T(rawValue: text) else {
        throw ConfigError("--\(flag) must be \(T.allCases.map(\.rawValue).joined(separator: ", ")) (got \(text))")
      }
      value = v
    }
    try take(.task, &pretext.task); try take(.pretextSize, &pretext.size); try take(.pretextBatch, &pretext.batch)
    try take(.pretextEpochs, &pretext.epochs); try take(.pretextLR, &pretext.lr); try choose(.pretextRecipe, &pretext.recipe, "pretext-recipe")
    try take(.knnEvery, &pretext.knnEvery); try take(.knnMonitorImages, &pretext.knnMonitorImages)
    try take(.cutoutReferenceSize, &pretext.inpainting.cutoutReferenceSize); try take(.cutoutHoles, &pretext.inpainting.cutoutHoles)
    try take(.cutoutHoleSize, &pretext.inpainting.cutoutSize); try choose(.cutoutFill, &pretext.inpainting.cutoutFill, "cutout-fill")
    try take(.swavQueue, &pretext.swav.queue); try choose(.unetSkips, &pretext.unet.skips, "unet-skips")
    try take(.size, &downstream.size); try take(.batch, &downstream.batch); try take(.epochs, &downstream.epochs)
    try take(.lr, &downstream.lr); try take(.headEpochs, &downstream.headEpochs); try choose(.head, &downstream.head, "head")
    try choose(.downstreamRecipe, &downstream.recipe, "downstream-recipe"); try take(.cacheFeatures, &downstream.cacheFeatures)
    try take(.runs, &downstream.runs); try take(.knnK, &downstream.knnK); try take(.knnTemperature, &downstream.knnTemperature)
    try take(.aux, &downstream.semi.aux); try take(.auxOnLabelled, &downstream.semi.auxOnLabelled)
    downstream.semi.unlabelledBatch = try c.decodeIfPresent(Int.self, forKey: .unlabelledBatch)
    try take(.pseudoThreshold, &downstream.semi.pseudoThreshold)
    downstream.semi.pseudoPerClass = try c.decodeIfPresent(Int.self, forKey: .pseudoPerClass)
    try take(.labelFraction, &data.labelFraction); try take(.tuningSplit, &data.tuningSplit)
    data.maxTrainPerClass = try c.decodeIfPresent(Int.self, forKey: .maxTrainPerClass)
    data.maxValidPerClass = try c.decodeIfPresent(Int.self, forKey: .maxValidPerClass)
    data.maxUnsup = try c.decodeIfPresent(Int.self, forKey: .maxUnsup)
    try take(.layout, &data.layout)
    data.dicomWindow = try c.decodeIfPresent([Double].self, forKey: .dicomWindow)
    try take(.channels, &data.channels)
    try take(.seed, &runtime.seed); try take(.workers, &runtime.workers); try take(.device, &runtime.device)
    try take(.channelsLast, &runtime.channelsLast)
    // A config.json without the field is from before it existed: those runs trained in float32.
    runtime.precision = try c.decodeIfPresent(Precision.self, forKey: .precision) ?? .fp32
    runtime.autoPrecision = try c.decodeIfPresent(Precision.self, forKey: .autoPrecision)
    try take(.keepCheckpoints, &runtime.keepCheckpoints); try take(.syncBatchNorm, &runtime.syncBatchNorm)
    try take(.widen, &widen); try take(.weightDecay, &weightDecay)
  }
}
