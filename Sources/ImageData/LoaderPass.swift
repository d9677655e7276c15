import Foundation
import Torch

/// How an epoch's batches are made: `workers` threads take the epoch's items one after another across batch
/// boundaries, so no core waits at the end of a batch or while the next batch's first item is made (that item
/// fixes the batch's tensors; the items of its batch finished before it are held until it is). Batches are handed
/// over in order, and workers do not start items of a batch more than `prefetch` batches ahead of the consumer.
/// Which worker makes an item changes nothing in the batch: every item's randomness and row are its own.
final class PassSchedule: @unchecked Sendable {
  typealias Batch = ImageLoader.Tensors
  let loader: ImageLoader, order: [Int], epoch: Int, count: Int

  /// One batch being put together.
  final class Assembly {
    let lo: Int, n: Int
    /// Where the batch's tensors stand; guarded by the schedule's lock.
    var tensors = Tensors.awaitingFirst(held: [])
    /// Items stored (or dropped because the batch failed) so far.
    var done = 0
    let errors = FirstError()
    init(lo: Int, n: Int) { (self.lo, self.n) = (lo, n) }

    enum Tensors {
      /// The first item (whose slots fix the tensors) is not made yet: the items made before it wait here.
      case awaitingFirst(held: [(Int, Item)])
      case ready(BatchLayout)
      /// The first item failed, or its tensors could not be made: the others are dropped as they come.
      case none
    }
  }

  private let cond = NSCondition()
  // Guarded by `cond`:
  private var nextBatch = 0, nextItem = 0
  private var assemblies: [Int: Assembly] = [:]
  private var finished: [Int: Result<Batch, Error>] = [:]
  private var nextToHandOver = 0
  private var handedOver: [Result<Batch, Error>?] = []
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
  func take() -> Result<Batch, Error>? {
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

  /// The next item to make, once its batch is within `prefetch` of what the consumer took, with its rows of the
  /// batch when the batch's tensors exist already; nil when there is none.
  private func claim() -> (Int, Int, Assembly, ItemRows?)? {
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
      if case .ready(let layout) = assembly.tensors { return (b, i, assembly, layout.rows(for: i)) }
      return (b, i, assembly, nil)
    }
  }

  private func work() {
    while let (b, i, a, rows) = claim() {
      do { settle(b, a, i: i, item: try loader.madeItem(a.lo + i, order: order, epoch: epoch, rows: rows)) } catch {
        a.errors.record(i, error)
        settle(b, a, i: i, item: nil)
      }
    }
  }

  /// Stores item `i` of batch `b` (nil: it failed) once the batch has its tensors; the first item makes them and
  /// stores the items held for it. The worker that settles a batch's last item finishes the batch.
  private func settle(_ b: Int, _ a: Assembly, i: Int, item: Item?) {
    var layout: BatchLayout?, toStore: [(Int, Item)] = [], dropped = 0
    if i == 0 {
      // Only this worker has the first item: the tensors are made outside the lock.
      if let item {
        do { layout = try BatchLayout(item, count: a.n, samples: loader.samples, counts: loader.storeCounts) } catch { a.errors.record(0, error) }
      }
      cond.withLock {
        guard case .awaitingFirst(let held) = a.tensors else { preconditionFailure("batch \(b)'s first item settled twice") }
        if let layout, let item {
          a.tensors = .ready(layout)
          toStore = [(0, item)] + held
        } else {
          a.tensors = .none
          dropped = 1 + held.count
        }
      }
    } else {
      cond.withLock {
        switch (a.tensors, item) {
        case (.awaitingFirst(let held), let item?): a.tensors = .awaitingFirst(held: held + [(i, item)])
        case (.ready(let l), let item?): (layout, toStore) = (l, [(i, item)])
        default: dropped = 1  // failed, or its batch has no tensors
        }
      }
    }
    if let layout {
      for (k, it) in toStore {
        do { try layout.store(it, at: k, path: loader.paths[order[a.lo + k]]) } catch { a.errors.record(k, error) }
      }
    }
    let settled = dropped + (layout == nil ? 0 : toStore.count)
    guard settled > 0 else { return }
    let complete = cond.withLock {
      a.done += settled
      if a.done == a.n { assemblies[b] = nil }
      return a.done == a.n
    }
    if complete { finish(b, a) }
  }

  /// Batch `b`'s tensors (or its first error by position), handed over in order.
  private func finish(_ b: Int, _ a: Assembly) {
    let result: Result<Batch, Error>
    do {
      if let error = a.errors.error { throw error }
      if a.errors.sawNeedsFloats {
        // A 16-bit item met byte slots: the batch again in floats (every item's draws are its own: the same items).
        result = .success(try loader.batchInFloats(b, order: order, epoch: epoch))
      } else {
        guard case .ready(let layout) = a.tensors else { preconditionFailure("batch \(b) finished without tensors or an error") }
        result = .success(try loader.finished(layout, lo: a.lo, n: a.n, order: order))
      }
    } catch {
      result = .failure(LoaderError(batch: b, epoch: epoch, underlying: error))
    }
    cond.withLock { finishLocked(b, result) }
  }

  private func finishLocked(_ b: Int, _ result: Result<Batch, Error>) {
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
