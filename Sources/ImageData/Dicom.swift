import CDicom
import Foundation

/// A single-frame grayscale DICOM image read through DCMTK: its modality values (stored values with the
/// rescale slope and intercept applied, signed and 12-bit data as stored: Hounsfield units for CT), and the
/// file's first window.
public struct DicomImage: Sendable {
  public let width: Int, height: Int
  /// MONOCHROME1 (high values shown dark, X-ray films) or MONOCHROME2.
  public let photometric: String
  public let values: [Double]
  public let window: (center: Double, width: Double)?
  public let bitsStored: Int

  /// The window every DICOM image is shown through when set (`--dicom-window C,W`), instead of the file's own.
  /// Set once before loading (the study sets it from its config); read by every decode.
  nonisolated(unsafe) public static var windowSetting: (center: Double, width: Double)?

  public init(_ bytes: UnsafeBufferPointer<UInt8>, path: String?) throws {
    var info = cd_info()
    var out: UnsafeMutablePointer<Double>?
    var err = [CChar](repeating: 0, count: 512)
    guard cd_read(bytes.baseAddress, bytes.count, ImageCodec.maxPixels, &info, &out, &err, err.count) == 0, let out else {
      throw ImageError(path: path, String(cString: err))
    }
    defer { cd_free(out) }
    (width, height, bitsStored) = (Int(info.width), Int(info.height), Int(info.bits_stored))
    photometric = withUnsafeBytes(of: info.photometric) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    values = Array(UnsafeBufferPointer(start: out, count: width * height))
    // A NaN or infinite RescaleSlope/RescaleIntercept (or stored values beyond a double) makes every value
    // meaningless: the file is bad, as an undecodable one is (named, left out).
    guard values.allSatisfy(\.isFinite) else {
      throw ImageError(path: path, "its modality values are not finite numbers (RescaleSlope \(info.rescale_slope), RescaleIntercept \(info.rescale_intercept))")
    }
    let hasWindow = info.has_window != 0 && info.window_center.isFinite && info.window_width.isFinite
    window = hasWindow ? (info.window_center, info.window_width) : nil
  }

  public init(contentsOf path: String) throws {
    let bytes = try ImageCodec.readFile(path)
    self = try bytes.withUnsafeBufferPointer { try DicomImage($0, path: path) }
  }

  /// The 8-bit picture a viewer shows: the DICOM linear VOI function (PS3.3 C.11.2.1.2) through `window`, else
  /// the file's window, else the image's own min..max; MONOCHROME1 inverted so that bright is dense everywhere.
  /// The 16-bit values reach this step unrounded.
  public func picture(window given: (center: Double, width: Double)? = nil) -> (gray: [UInt8], rgb: Image) {
    let gray = windowed(given, levels: 255).map { UInt8($0) }
    return (gray, Image(width: width, height: height, channels: 1, pixels: gray).converted(channels: 3))
  }

  /// What the loader trains on: one channel through the same window, at 16 bits when more than 8 are stored
  /// (the window's output scaled to 0…65535 instead of 0…255), else the 8-bit picture.
  public func image(window given: (center: Double, width: Double)? = nil) -> Image {
    guard bitsStored > 8 else { return Image(width: width, height: height, channels: 1, pixels: picture(window: given).gray) }
    return Image(width: width, height: height, channels: 1, samples16: windowed(given, levels: 65535).map { UInt16($0) })
  }

  /// Each value through the VOI window onto 0…levels (rounded half up, as the 8-bit picture always was).
  func windowed(_ given: (center: Double, width: Double)?, levels: Double) -> [Int] {
    let (c, w): (Double, Double)
    if let win = given ?? window {
      (c, w) = win
    } else {
      let lo = values.min() ?? 0, hi = values.max() ?? 0
      (c, w) = ((lo + hi) / 2, hi - lo + 1)
    }
    let invert = photometric == "MONOCHROME1"
    let span = Swift.max(w - 1, 1), low = c - 0.5
    let top = Int(levels)
    return values.map { x -> Int in
      let v = (x - low) / span + 0.5
      let y = v.isNaN ? 0 : Swift.min(Swift.max(v, 0), 1)  // NaN: a span overflowed to infinity
      let o = Int((levels * y + 0.5).rounded(.down))
      return invert ? top - o : o
    }
  }
}
