import Foundation

/// The bytes of an image's (or mask's) samples: memory of its own, or an item's row of a batch tensor that the
/// loader lent (`ItemRows`), so that a transform writes its result where the batch holds it and storing the item
/// copies nothing. Shared by copies of an `Image` value; a mutation of a shared one copies first (copy on write).
final class PixelStorage: @unchecked Sendable {
  let base: UnsafeMutableRawPointer
  let count: Int
  /// What keeps borrowed memory alive (the batch's tensor); nil when the memory is this storage's own.
  let owner: AnyObject?

  /// `count` bytes of its own, uninitialised: the caller writes every one.
  init(uninitializedCount count: Int) {
    base = malloc(Swift.max(count, 1))!
    (self.count, owner) = (count, nil)
  }

  /// `count` zero bytes of its own.
  init(zeroedCount count: Int) {
    base = calloc(Swift.max(count, 1), 1)!
    (self.count, owner) = (count, nil)
  }

  /// Takes ownership of `count` bytes from `malloc` (a C decoder's buffer): freed with the storage.
  init(adoptingMalloced pointer: UnsafeMutableRawPointer, count: Int) {
    (base, self.count, owner) = (pointer, count, nil)
  }

  /// Memory that `owner` keeps alive; never freed here.
  init(borrowing pointer: UnsafeMutableRawPointer, count: Int, owner: AnyObject) {
    (base, self.count, self.owner) = (pointer, count, owner)
  }

  convenience init(_ bytes: [UInt8]) {
    self.init(uninitializedCount: bytes.count)
    bytes.withUnsafeBytes { if !$0.isEmpty { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
  }

  deinit { if owner == nil { free(base) } }

  /// A copy in memory of its own.
  func copied() -> PixelStorage {
    let c = PixelStorage(uninitializedCount: count)
    c.base.copyMemory(from: base, byteCount: count)
    return c
  }

  /// Makes `storage` this value's own before a change (copy on write): copied when another value shares it.
  static func makeUnique(_ storage: inout PixelStorage) {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copied() }
  }

  var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: count)) }
  var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
  var mutableBuffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }

  static func == (a: PixelStorage, b: PixelStorage) -> Bool {
    a === b || (a.count == b.count && memcmp(a.base, b.base, a.count) == 0)
  }
}

/// The rows of one batch that the loader lends an item: for each image or mask slot of the batch that holds 8-bit
/// samples, where this item's samples go. A transform that makes a new image or mask for a slot asks its item
/// for memory (`Item.newPixels`); it gets the row when the shape matches and no live image holds it already,
/// otherwise memory of its own, and the loader copies that in when it stores the item. Either way the batch is the
/// same: the rows only save the copy.
/// Used by the one worker that makes the item (hence unchecked).
final class ItemRows: @unchecked Sendable {
  struct Row {
    let base: UnsafeMutableRawPointer
    let width: Int, height: Int, channels: Int
    let owner: AnyObject
    var count: Int { width * height * channels }
  }
  let rows: [String: Row]
  /// The storage that holds each lent row now (weak: once its image is gone the row is free to lend again).
  private var lent: [String: WeakStorage] = [:]
  struct WeakStorage { weak var storage: PixelStorage? }
  /// For the rows of a sub-item (a view, a namespaced pipeline): these rows under its slots' names.
  private let parent: (rows: ItemRows, name: (String) -> String)?

  init(_ rows: [String: Row]) { (self.rows, parent) = (rows, nil) }

  /// The same rows for an item whose slot `s` ends up in this item's slot `name(s)`.
  func renamed(_ name: @escaping (String) -> String) -> ItemRows {
    ItemRows(parent: (self, name))
  }
  private init(parent: (rows: ItemRows, name: (String) -> String)) { (rows, self.parent) = ([:], parent) }

  /// Row `slot` as storage for a new image of this shape, when it has one free; nil otherwise (16-bit samples
  /// never have one: the batch holds them as floats).
  func lend(_ slot: String, width: Int, height: Int, channels: Int, bitDepth: Int) -> PixelStorage? {
    if let parent { return parent.rows.lend(parent.name(slot), width: width, height: height, channels: channels, bitDepth: bitDepth) }
    guard bitDepth == 8, let r = rows[slot], r.width == width, r.height == height, r.channels == channels,
          lent[slot]?.storage == nil else {
      return nil
    }
    let s = PixelStorage(borrowing: r.base, count: r.count, owner: r.owner)
    lent[slot] = WeakStorage(storage: s)
    return s
  }
}
