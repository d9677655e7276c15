import Torch

/// Moves an encoder between a U-Net and a classifier of the same architecture. The mapping is explicit:
/// U-Net key "layers.0.K" ↔ classifier body key "K" (the body is the classifier's layers before its head,
/// fastai's create_body with cut = -4). Every body key must be present on both sides with the same
/// shape, or nothing is copied.
public enum EncoderTransfer {
  static let unetPrefix = "layers.0."

  /// The U-Net's encoder state, under the classifier's key names (what `pretext` saves as the encoder).
  public static func encoderState(of unet: DynamicUnet) -> [(name: String, tensor: Tensor)] {
    unet.stateDict().compactMap { $0.name.hasPrefix(unetPrefix) ? (String($0.name.dropFirst(unetPrefix.count)), $0.tensor) : nil }
  }

  /// Loads a body state (classifier key names) into the classifier's body, strictly over the body keys;
  /// the head is left as it is.
  public static func loadBody(_ state: [(name: String, tensor: Tensor)], into classifier: XResNet, source: String = "encoder")
    throws
  {
    let bodyKeys = Set(classifier.body.stateDict().map(\.name))
    let head = classifier.stateDict().filter { !bodyKeys.contains($0.name) }
    // Strict over the whole model, with the head supplying itself: any body key missing, extra or
    // misshapen is an error naming it.
    try classifier.loadStateDict(state + head, strict: true, source: source)
  }

  public static func load(encoderOf unet: DynamicUnet, into classifier: XResNet) throws {
    try loadBody(encoderState(of: unet), into: classifier, source: "U-Net encoder")
  }

  /// The reverse: a classifier's body into a U-Net's encoder (the decoder is left as it is).
  public static func load(bodyOf classifier: XResNet, into unet: DynamicUnet) throws {
    let body = classifier.body.stateDict().map { (unetPrefix + $0.name, $0.tensor) }
    let decoder = unet.stateDict().filter { !$0.name.hasPrefix(unetPrefix) }
    try unet.loadStateDict(body + decoder, strict: true, source: "classifier body")
  }
}
