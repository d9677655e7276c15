import Foundation
import Torch

/// How an epoch's batches are made: `workers` threads take the epoch's items one after another across batch
/// boundaries, so no core waits at the end of a batch or while the next batch's first item is made (that item
/// fixes the batch's tensors; the items of its batch finished before it are held until it is). Batches are handed
/// over in order, and workers do not start items of a batch more than `prefetch` batches ahead of the consumer.
/// Which worker makes an item changes nothing in the batch: every item's randomness and row are its own.
final class PassSchedule: @unchecked Sendable {
  typealias Tensors = ImageLoader.Tensors
  let loader: ImageLoader, order: [Int], epoch: Int, count: Int

  /// One batch being put together.
  final class Assembly {
    let lo: Int, n: Int
    var layout: BatchLayout?
    /// Items made before the first one (whose slots fix the tensors).
    var waiting: [(Int, Item)] = []
    /// Items stored (or dropped because the batch failed) so far.
    var done = 0
    /// The first item failed, or its layout could not be made: the others are dropped as they come.
    var noLayout = false
    let errors = FirstError()
    init(lo: Int, n: Int) { (self.lo, self.n) = (lo, n) }
  }

  private let cond = NSCondition()
  // Guarded by `cond`:
  private var nextBatch = 0, nextItem = 0
  private var assemblies: [Int: Assembly] = [:]
  private var finished: [Int: Result<Tensors, Error>] = [:]
  private var nextToHandOver = 0
  private var handedOver: [Result<Tensors, Error>?] = []
  private var taken = 0
  /// The pass ended (its last batch or an error handed over) or the consumer went away.
  private var stopped = false

  init(loader: ImageLoader, order: [Int], epoch: Int) {
    (self.loader, self.order, self.epoch, count) = (loader, order, epoch, loader.batchCount)
  }

  func start() {
    if count == 0 {
      cond.withLock { handedOver.append(nil) }
      return
    }
    for _ in 0..<loader.workers {
      // One core per worker: the resize is a libtorch op, and an OpenMP team started by it would keep spinning
      // (libgomp's wait policy) while the other workers need the cores.
      Thread { [self] in Runtime.withThreadCountForThisThread(1) { work() } }.start()
    }
  }

  /// The next batch in order, nil after the last; blocks until it is made.
  func take() -> Result<Tensors, Error>? {
    cond.lock()
    defer { cond.unlock() }
    while handedOver.isEmpty { cond.wait() }
    let next = handedOver.removeFirst()
    taken += 1
    cond.broadcast()  // room for the workers to go on
    return next
  }

  /// The consumer went away: the workers stop after the items they are making.
  func close() {
    cond.withLock {
      stopped = true
      cond.broadcast()
    }
  }

  /// The next item to make, once its batch is within `prefetch` of what the consumer took; nil when there is none.
  private func claim() -> (Int, Int, Assembly)? {
    cond.lock()
    defer { cond.unlock() }
    while true {
      while !stopped && nextBatch < count && nextBatch > taken + loader.prefetch { cond.wait() }
      guard !stopped, nextBatch < count else { return nil }
      let b = nextBatch
      if assemblies[b] == nil {
        do {
          let (lo, n) = try loader.itemRange(b)
          assemblies[b] = Assembly(lo: lo, n: n)
        } catch {
          // No items for this rank: the batch is this error, handed over in its turn.
          nextBatch += 1
          finishLocked(b, .failure(LoaderError(batch: b, epoch: epoch, underlying: error)))
          continue
        }
      }
      let assembly = assemblies[b]!, i = nextItem
      nextItem += 1
      if nextItem == assembly.n { (nextBatch, nextItem) = (nextBatch + 1, 0) }
      return (b, i, assembly)
    }
  }

  private func work() {
    while let (b, i, a) = claim() {
      do { settle(b, a, i: i, item: try loader.madeItem(a.lo + i, order: order, epoch: epoch)) } catch {
        a.errors.record(i, error)
        settle(b, a, i: i, item: nil)
      }
    }
  }

  /// Stores item `i` of batch `b` (nil: it failed) once the batch has its tensors; the first item makes them and
  /// stores the items that waited for it. The worker that settles a batch's last item finishes the batch.
  private func settle(_ b: Int, _ a: Assembly, i: Int, item: Item?) {
    var toStore: [(Int, Item)] = []
    var layout: BatchLayout?
    var settled = 0
    cond.lock()
    if i == 0 {
      cond.unlock()
      if let item {
        do { layout = try BatchLayout(item, count: a.n, samples: loader.samples) } catch { a.errors.record(0, error) }
      }
      cond.lock()
      a.layout = layout
      a.noLayout = layout == nil
      toStore = layout == nil ? [] : [(0, item!)] + a.waiting
      settled = layout == nil ? 1 + a.waiting.count : 0
      a.waiting = []
    } else if let item, a.layout == nil, !a.noLayout {
      a.waiting.append((i, item))
    } else if let item, let l = a.layout {
      (layout, toStore) = (l, [(i, item)])
    } else {
      settled = 1  // failed, or dropped: its batch failed
    }
    cond.unlock()
    if let layout {
      for (k, it) in toStore {
        do { try layout.store(it, at: k, path: loader.paths[order[a.lo + k]]) } catch { a.errors.record(k, error) }
      }
      settled += toStore.count
    }
    guard settled > 0 else { return }
    cond.lock()
    a.done += settled
    let complete = a.done == a.n
    if complete { assemblies[b] = nil }
    cond.unlock()
    if complete { finish(b, a) }
  }

  /// Batch `b`'s tensors (or its first error by position), handed over in order.
  private func finish(_ b: Int, _ a: Assembly) {
    let result: Result<Tensors, Error>
    do {
      if let error = a.errors.error { throw error }
      if a.errors.sawNeedsFloats {
        // A 16-bit item met byte slots: the batch again in floats (every item's draws are its own: the same items).
        result = .success(try loader.batchInFloats(b, order: order, epoch: epoch))
      } else {
        result = .success(try loader.finished(a.layout!, lo: a.lo, n: a.n, order: order))
      }
    } catch {
      result = .failure(LoaderError(batch: b, epoch: epoch, underlying: error))
    }
    cond.withLock { finishLocked(b, result) }
  }

  private func finishLocked(_ b: Int, _ result: Result<Tensors, Error>) {
    finished[b] = result
    while let r = finished.removeValue(forKey: nextToHandOver), !stopped {
      handedOver.append(r)
      nextToHandOver += 1
      if case .failure = r { stopped = true }
      else if nextToHandOver == count {
        handedOver.append(nil)
        stopped = true
      }
    }
    cond.broadcast()
  }
}
