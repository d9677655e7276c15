import CImage
import Foundation
import Torch

/// An image: rows top to bottom, pixels interleaved (height × width × channels), 1 channel (gray) or 3 (RGB),
/// 8-bit samples or 16-bit ones (stored in `pixels` as native-endian pairs of bytes). Decoders keep what the
/// file holds (a 16-bit gray PNG stays 16-bit gray); the loader converts to the channels the model takes, and
/// the batch holds each sample ÷ its maximum. The samples live in a `PixelStorage` shared by copies until one is
/// changed (copy on write, as an array); inside the loader that may be the item's row of the batch.
public struct Image: Sendable, Equatable {
  public let width: Int
  public let height: Int
  public let channels: Int
  public let bitDepth: Int
  var storage: PixelStorage

  public init(width: Int, height: Int, channels: Int = 3, bitDepth: Int = 8, pixels: [UInt8]) {
    self.init(width: width, height: height, channels: channels, bitDepth: bitDepth, storage: PixelStorage(pixels))
  }

  /// An image over `storage`, which holds exactly its samples.
  init(width: Int, height: Int, channels: Int = 3, bitDepth: Int = 8, storage: PixelStorage) {
    precondition(channels == 1 || channels == 3, "an image has 1 or 3 channels, not \(channels)")
    precondition(bitDepth == 8 || bitDepth == 16, "an image has 8- or 16-bit samples, not \(bitDepth)")
    precondition(storage.count == width * height * channels * bitDepth / 8,
                 "pixel bytes do not match \(width)×\(height)×\(channels) at \(bitDepth) bits")
    (self.width, self.height, self.channels, self.bitDepth, self.storage) = (width, height, channels, bitDepth, storage)
  }

  /// The samples' bytes, copied out (`withUnsafeBytes` reads them in place).
  public var pixels: [UInt8] {
    get { storage.bytes }
    set {
      precondition(newValue.count == storage.count, "\(newValue.count) pixel bytes for a \(width)×\(height)×\(channels) \(bitDepth)-bit image")
      storage = PixelStorage(newValue)
    }
  }

  /// How many bytes the samples take.
  public var byteCount: Int { storage.count }

  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(storage.buffer) }

  /// The samples to change in place (copied first when another image shares them).
  public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    PixelStorage.makeUnique(&storage)
    return try body(storage.mutableBuffer)
  }

  public static func == (a: Image, b: Image) -> Bool {
    (a.width, a.height, a.channels, a.bitDepth) == (b.width, b.height, b.channels, b.bitDepth) && a.storage == b.storage
  }

  /// A 16-bit image from its samples.
  public init(width: Int, height: Int, channels: Int, samples16: [UInt16]) {
    let bytes = samples16.withUnsafeBytes { Array($0) }
    self.init(width: width, height: height, channels: channels, bitDepth: 16, pixels: bytes)
  }

  /// A uniform 8-bit RGB image.
  public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
    var p = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) { (p[3 * i], p[3 * i + 1], p[3 * i + 2]) = fill }
    self.init(width: width, height: height, pixels: p)
  }

  /// Bytes per sample (1 or 2) and per pixel.
  public var sampleBytes: Int { bitDepth / 8 }
  public var pixelBytes: Int { channels * sampleBytes }
  /// Whether samples are 16-bit (the C augmentations' `wide`).
  var wide: Int32 { bitDepth == 16 ? 1 : 0 }

  /// The samples of a 16-bit image.
  public var samples16: [UInt16] {
    precondition(bitDepth == 16, "samples16 of an 8-bit image")
    return withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
  }

  /// The pixel at (x, y) of an 8-bit RGB image.
  public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
    precondition(channels == 3 && bitDepth == 8, "(r, g, b) of a \(channels)-channel \(bitDepth)-bit image")
    let i = 3 * (y * width + x)
    return withUnsafeBytes { ($0[i], $0[i + 1], $0[i + 2]) }
  }

  /// With `count` channels: gray copied into R, G and B (as PIL's convert("RGB")), or RGB to gray by ITU-R 601
  /// luma (as PIL's convert("L")); the bit depth kept.
  public func converted(channels count: Int) -> Image {
    guard count != channels else { return self }
    precondition(count == 1 || count == 3, "an image has 1 or 3 channels, not \(count)")
    let n = width * height
    let sb = sampleBytes
    if count == 3 {
      let out = PixelStorage(uninitializedCount: byteCount * 3)
      withUnsafeBytes { src in
        let dst = out.mutableBuffer
        for i in 0..<n { for c in 0..<3 { for b in 0..<sb { dst[(3 * i + c) * sb + b] = src[i * sb + b] } } }
      }
      return Image(width: width, height: height, channels: 3, bitDepth: bitDepth, storage: out)
    }
    var gray = self
    gray.withUnsafeMutableBytes { ci_grayscale($0.baseAddress!.assumingMemoryBound(to: UInt8.self), n, wide) }  // luma on all 3, then keep one
    let out = PixelStorage(uninitializedCount: n * sb)
    gray.withUnsafeBytes { g in
      let dst = out.mutableBuffer
      for i in 0..<n { for b in 0..<sb { dst[i * sb + b] = g[3 * i * sb + b] } }
    }
    return Image(width: width, height: height, channels: 1, bitDepth: bitDepth, storage: out)
  }

  /// 8-bit samples (16-bit ones rounded: v · 255 / 65535), for pictures and PNGs of what a model saw.
  public func eightBit() -> Image {
    guard bitDepth == 16 else { return self }
    let out = samples16.map { UInt8((UInt32($0) * 255 + 32767) / 65535) }
    return Image(width: width, height: height, channels: channels, bitDepth: 8, pixels: out)
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
  case jpeg, png, tiff, dicom

  public init?(sniffing bytes: some Collection<UInt8>) {
    let head = Array(bytes.prefix(8))
    let dicm = Array(bytes.dropFirst(128).prefix(4))
    if dicm == Array("DICM".utf8) {
      self = .dicom
    } else if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF {
      self = .jpeg
    } else if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] {
      self = .png
    } else if head.count >= 4 && (head[0..<4] == [0x49, 0x49, 0x2A, 0x00] || head[0..<4] == [0x4D, 0x4D, 0x00, 0x2A]
      || head[0..<4] == [0x49, 0x49, 0x2B, 0x00] || head[0..<4] == [0x4D, 0x4D, 0x00, 0x2B]) {
      self = .tiff  // classic and BigTIFF, little- and big-endian
    } else {
      return nil
    }
  }
}

/// Decoding and encoding through libjpeg-turbo, libpng, libtiff (and DCMTK for DICOM).
public enum ImageCodec {
  /// The most pixels one decode may produce (PIL's decompression-bomb limit, 89.5 megapixels: ~270 MB of
  /// RGB); a larger image is refused with its size named (a 260 KB PNG can claim 16384² pixels). JPEGs are
  /// checked at the DCT-scaled size actually decoded. `PRETEXT_MAX_IMAGE_PIXELS` changes it.
  public static let maxPixels: Int = ProcessInfo.processInfo.environment["PRETEXT_MAX_IMAGE_PIXELS"].flatMap(Int.init)
    .flatMap { $0 > 0 ? $0 : nil } ?? 89_478_485

  /// Decodes JPEG, PNG, TIFF or DICOM bytes (by content). `minSide`: for JPEGs, decode at the smallest DCT-domain
  /// scale (1/2, 1/4, 1/8, …) whose shorter side is still at least this — far cheaper than decoding in full
  /// and resizing when the target is at most half the source. `channels`: 3 (gray copied into RGB), 1 (RGB
  /// turned to luma), or nil for what the file holds. The bit depth is the file's (8, or 16 for 16-bit PNG, TIFF
  /// and DICOM beyond 8 bits stored).
  public static func decode(_ bytes: [UInt8], minSide: Int = 0, channels: Int? = 3, path: String? = nil) throws -> Image {
    try bytes.withUnsafeBufferPointer { try decode(buffer: $0, minSide: minSide, channels: channels, path: path) }
  }

  static func decode(buffer bytes: UnsafeBufferPointer<UInt8>, minSide: Int, channels: Int?, path: String?) throws -> Image {
    let image = try decodeAsStored(buffer: bytes, minSide: minSide, path: path)
    return channels.map { image.converted(channels: $0) } ?? image
  }

  static func decodeAsStored(buffer bytes: UnsafeBufferPointer<UInt8>, minSide: Int, path: String?) throws -> Image {
    guard !bytes.isEmpty else { throw ImageError(path: path, "empty file (0 bytes)") }
    guard let format = ImageFormat(sniffing: bytes) else {
      throw ImageError(path: path, "not a JPEG, PNG, TIFF or DICOM image (unrecognised content)")
    }
    if format == .dicom { return try DicomImage(bytes, path: path).image(window: DicomImage.windowSetting) }
    var w: Int32 = 0, h: Int32 = 0, sw: Int32 = 0, sh: Int32 = 0, c: Int32 = 3, depth: Int32 = 8
    var err = [CChar](repeating: 0, count: 256)
    let out: UnsafeMutablePointer<UInt8>? = {
      switch format {
      case .jpeg: ci_decode_jpeg(bytes.baseAddress, bytes.count, Int32(minSide), maxPixels, &w, &h, &sw, &sh, &c, &err, err.count)
      case .png: ci_decode_png(bytes.baseAddress, bytes.count, maxPixels, &w, &h, &c, &depth, &err, err.count)
      case .tiff: ci_decode_tiff(bytes.baseAddress, bytes.count, maxPixels, &w, &h, &c, &depth, &err, err.count)
      case .dicom: nil  // above
      }
    }()
    guard let out else { throw ImageError(path: path, String(cString: err)) }
    let n = Int(w) * Int(h) * Int(c) * Int(depth) / 8
    // The decoder's malloc'd buffer becomes the image's memory: no copy.
    return Image(width: Int(w), height: Int(h), channels: Int(c), bitDepth: Int(depth),
                 storage: PixelStorage(adoptingMalloced: UnsafeMutableRawPointer(out), count: n))
  }

  /// Reads and decodes a file; errors name it.
  public static func decode(contentsOf path: String, minSide: Int = 0, channels: Int? = 3) throws -> Image {
    let bytes = try readFile(path)
    return try bytes.withUnsafeBufferPointer { try decode(buffer: $0, minSide: minSide, channels: channels, path: path) }
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

  /// PNG bytes of `image` (gray or RGB, 8 or 16 bits).
  public static func encodePNG(_ image: Image) throws -> [UInt8] {
    let bytes = image.bitDepth == 16 ? image.samples16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } : image.pixels
    return try encodePNG(bytes, width: image.width, height: image.height, channels: image.channels, bitDepth: image.bitDepth)
  }

  /// TIFF bytes (for tests and users' fixtures): `image`'s samples, or with an alpha channel of 255s when
  /// `alpha`; `compression` none, LZW or deflate; tiles of `tileSide` when given; one plane per channel when
  /// `planar`; gray stored as MINISWHITE (samples inverted here, so the image reads back the same) when
  /// `minIsWhite`.
  public enum TIFFCompression: Int32, Sendable { case none = 0, lzw = 1, deflate = 2 }
  public static func encodeTIFF(_ image: Image, compression: TIFFCompression = .none, tileSide: Int = 0, planar: Bool = false,
                                minIsWhite: Bool = false, alpha: Bool = false) throws -> [UInt8] {
    var src = image
    if minIsWhite {
      precondition(image.channels == 1, "MINISWHITE is a gray photometric")
      if image.bitDepth == 16 {
        src = Image(width: image.width, height: image.height, channels: 1, samples16: image.samples16.map { 65535 - $0 })
      } else {
        src.pixels = image.pixels.map { 255 - $0 }
      }
    }
    var samples = src.pixels, channels = src.channels  // `pixels` copies: read once
    if alpha {
      let pb = src.pixelBytes, sb = src.sampleBytes, plain = samples
      samples = []
      samples.reserveCapacity(plain.count / pb * (pb + sb))
      for i in 0..<(src.width * src.height) {
        samples += plain[(i * pb)..<((i + 1) * pb)]
        samples += [UInt8](repeating: 0xFF, count: sb)
      }
      channels += 1
    }
    return try encoded { size, err, n in
      samples.withUnsafeBufferPointer {
        ci_encode_tiff($0.baseAddress, Int32(src.width), Int32(src.height), Int32(channels), Int32(src.bitDepth), compression.rawValue,
                       Int32(tileSide), planar ? 1 : 0, minIsWhite ? 1 : 0, &size, err, n)
      }
    }
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

  public static func encodeJPEG(_ image: Image, quality: Int = 90) throws -> [UInt8] {
    let img = image.eightBit()
    return try encodeJPEG(img.pixels, width: img.width, height: img.height, channels: img.channels, quality: quality)
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

  /// Writes `image` as PNG, JPEG or TIFF (deflate), chosen by the file extension, to an output target
  /// (`OutputFile`: a file atomically, through links; `-`, a FIFO or a device as a stream, PNG unless named otherwise).
  public static func write(_ image: Image, to path: String, quality: Int = 90) throws {
    var ext = (path as NSString).pathExtension.lowercased()
    if ext.isEmpty, try !OutputFile.target(path).isFile { ext = "png" }
    let bytes: [UInt8]
    switch ext {
    case "png": bytes = try encodePNG(image)
    case "jpg", "jpeg": bytes = try encodeJPEG(image, quality: quality)
    case "tif", "tiff": bytes = try encodeTIFF(image, compression: .deflate)
    default: throw ImageError(path: path, "unknown image extension '.\(ext)' (use .png, .jpg, .jpeg, .tif or .tiff)")
    }
    try OutputFile.write(bytes, to: path)
  }
}
