import CImage
import Foundation
import Torch

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (height × width × 3).
public struct RGBImage: Sendable, Equatable {
  public let width: Int
  public let height: Int
  public var pixels: [UInt8]

  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(pixels.count == width * height * 3, "pixel count does not match \(width)×\(height)×3")
    (self.width, self.height, self.pixels) = (width, height, pixels)
  }

  /// A uniform image.
  public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
    var p = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) { (p[3 * i], p[3 * i + 1], p[3 * i + 2]) = fill }
    self.init(width: width, height: height, pixels: p)
  }

  public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
    let i = 3 * (y * width + x)
    return (pixels[i], pixels[i + 1], pixels[i + 2])
  }
}

/// A file that cannot be read as an image, naming the file and the problem.
public struct ImageError: Error, CustomStringConvertible, Sendable {
  public let path: String?
  public let message: String
  public init(path: String?, _ message: String) { (self.path, self.message) = (path, message) }
  public var description: String { path.map { "\($0): \(message)" } ?? message }
}

/// The formats told apart by content (never by file name: ImageNet has PNGs named .JPEG).
public enum ImageFormat: Sendable {
  case jpeg, png, dicom

  public init?(sniffing bytes: some Collection<UInt8>) {
    let head = Array(bytes.prefix(8))
    let dicm = Array(bytes.dropFirst(128).prefix(4))
    if dicm == Array("DICM".utf8) {
      self = .dicom
    } else if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF {
      self = .jpeg
    } else if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] {
      self = .png
    } else {
      return nil
    }
  }
}

/// Decoding and encoding through libjpeg-turbo and libpng.
public enum ImageCodec {
  /// The most pixels one decode may produce (PIL's decompression-bomb limit, 89.5 megapixels: ~270 MB of
  /// RGB); a larger image is refused with its size named (a 260 KB PNG can claim 16384² pixels). JPEGs are
  /// checked at the DCT-scaled size actually decoded. `PRETEXT_MAX_IMAGE_PIXELS` changes it.
  public static let maxPixels: Int = ProcessInfo.processInfo.environment["PRETEXT_MAX_IMAGE_PIXELS"].flatMap(Int.init)
    .flatMap { $0 > 0 ? $0 : nil } ?? 89_478_485

  /// Decodes JPEG or PNG bytes (by content). `minSide`: for JPEGs, decode at the smallest DCT-domain
  /// scale (1/2, 1/4, 1/8, …) whose shorter side is still at least this — far cheaper than decoding in full
  /// and resizing when the target is at most half the source.
  public static func decode(_ bytes: [UInt8], minSide: Int = 0, path: String? = nil) throws -> RGBImage {
    try bytes.withUnsafeBufferPointer { try decode(buffer: $0, minSide: minSide, path: path) }
  }

  static func decode(buffer bytes: UnsafeBufferPointer<UInt8>, minSide: Int, path: String?) throws -> RGBImage {
    guard !bytes.isEmpty else { throw ImageError(path: path, "empty file (0 bytes)") }
    guard let format = ImageFormat(sniffing: bytes) else {
      throw ImageError(path: path, "not a JPEG, PNG or DICOM image (unrecognised content)")
    }
    if format == .dicom { return try DicomImage(bytes, path: path).picture(window: DicomImage.windowSetting).rgb }
    var w: Int32 = 0, h: Int32 = 0, sw: Int32 = 0, sh: Int32 = 0
    var err = [CChar](repeating: 0, count: 256)
    let out: UnsafeMutablePointer<UInt8>? = {
      switch format {
      case .jpeg: ci_decode_jpeg(bytes.baseAddress, bytes.count, Int32(minSide), maxPixels, &w, &h, &sw, &sh, &err, err.count)
      case .png: ci_decode_png(bytes.baseAddress, bytes.count, maxPixels, &w, &h, &err, err.count)
      case .dicom: nil  // above
      }
    }()
    guard let out else { throw ImageError(path: path, String(cString: err)) }
    defer { free(out) }
    let n = Int(w) * Int(h) * 3
    return RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: out, count: n)))
  }

  /// Reads and decodes a file; errors name it.
  public static func decode(contentsOf path: String, minSide: Int = 0) throws -> RGBImage {
    let bytes = try readFile(path)
    return try bytes.withUnsafeBufferPointer { try decode(buffer: $0, minSide: minSide, path: path) }
  }

  /// The whole file, read with one open/fstat/read (cheaper than Foundation for many small files).
  static func readFile(_ path: String) throws -> [UInt8] {
    // O_NONBLOCK: a FIFO named like an image must not block the open (fstat then refuses it).
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
      throw ImageError(path: path, errno == ENOENT ? "no such file" : "cannot be read: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      throw ImageError(path: path, "not a regular file (a FIFO, device or folder named like an image)")
    }
    let size = Int(st.st_size)
    return try [UInt8](unsafeUninitializedCapacity: size) { buf, count in
      var done = 0
      while done < size {
        let n = read(fd, buf.baseAddress! + done, size - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw ImageError(path: path, "read failed after \(done) of \(size) bytes") }
        done += n
      }
      count = size
    }
  }

  /// PNG bytes: 8-bit RGB of `image`.
  public static func encodePNG(_ image: RGBImage) throws -> [UInt8] {
    try encodePNG(image.pixels, width: image.width, height: image.height, channels: 3)
  }

  /// PNG of raw samples: channels 1 (gray), 2 (gray+alpha), 3 (RGB), 4 (RGBA); bitDepth 8, or 16 with
  /// big-endian sample pairs.
  public static func encodePNG(_ samples: [UInt8], width: Int, height: Int, channels: Int, bitDepth: Int = 8) throws
    -> [UInt8]
  {
    guard samples.count == width * height * channels * bitDepth / 8 else {
      throw ImageError(path: nil, "\(samples.count) bytes do not make a \(width)×\(height)×\(channels) \(bitDepth)-bit image")
    }
    return try encoded { size, err, n in
      samples.withUnsafeBufferPointer {
        ci_encode_png($0.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(bitDepth), &size, err, n)
      }
    }
  }

  /// A palette PNG: one index per pixel into `palette` (RGB triples); `alpha`: transparency of the first
  /// palette entries (a tRNS chunk).
  public static func encodePalettePNG(_ indices: [UInt8], width: Int, height: Int, palette: [UInt8], alpha: [UInt8] = [])
    throws -> [UInt8]
  {
    guard indices.count == width * height, palette.count % 3 == 0 else {
      throw ImageError(path: nil, "\(indices.count) indices or a \(palette.count)-byte palette do not fit \(width)×\(height)")
    }
    return try encoded { size, err, n in
      indices.withUnsafeBufferPointer { i in
        palette.withUnsafeBufferPointer { p in
          alpha.withUnsafeBufferPointer { a in
            ci_encode_png_palette(i.baseAddress, Int32(width), Int32(height), p.baseAddress, Int32(palette.count / 3),
                                  alpha.isEmpty ? nil : a.baseAddress, Int32(alpha.count), &size, err, n)
          }
        }
      }
    }
  }

  /// JPEG bytes of 8-bit samples: channels 1 (gray), 3 (RGB) or 4 (CMYK, stored inverted as Adobe does).
  public static func encodeJPEG(_ samples: [UInt8], width: Int, height: Int, channels: Int = 3, quality: Int = 90) throws
    -> [UInt8]
  {
    guard [1, 3, 4].contains(channels), samples.count == width * height * channels else {
      throw ImageError(path: nil, "\(samples.count) bytes do not make a \(width)×\(height)×\(channels) image")
    }
    return try encoded { size, err, n in
      samples.withUnsafeBufferPointer {
        ci_encode_jpeg($0.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(quality), &size, err, n)
      }
    }
  }

  public static func encodeJPEG(_ image: RGBImage, quality: Int = 90) throws -> [UInt8] {
    try encodeJPEG(image.pixels, width: image.width, height: image.height, channels: 3, quality: quality)
  }

  /// Runs a CImage encoder (size out, error buffer, its length) and takes ownership of the buffer it returns.
  static func encoded(
    _ call: (inout Int, UnsafeMutablePointer<CChar>, Int) -> UnsafeMutablePointer<UInt8>?
  ) throws -> [UInt8] {
    var size = 0
    var err = [CChar](repeating: 0, count: 256)
    let out = err.withUnsafeMutableBufferPointer { call(&size, $0.baseAddress!, $0.count) }
    guard let out else { throw ImageError(path: nil, String(cString: err)) }
    defer { free(out) }
    return Array(UnsafeBufferPointer(start: out, count: size))
  }

  /// Writes `image` atomically as PNG or JPEG, chosen by the file extension.
  public static func write(_ image: RGBImage, to path: String, quality: Int = 90) throws {
    let ext = (path as NSString).pathExtension.lowercased()
    let bytes: [UInt8]
    switch ext {
    case "png": bytes = try encodePNG(image)
    case "jpg", "jpeg": bytes = try encodeJPEG(image, quality: quality)
    default: throw ImageError(path: path, "unknown image extension '.\(ext)' (use .png, .jpg or .jpeg)")
    }
    try AtomicFileWriter.write(bytes, to: path)
  }
}
