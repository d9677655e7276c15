// Data-parallel launch: joining the group a launcher (torchrun, srun, `--nproc`) describes in the environment,
// and `--nproc N`, which starts the N local ranks itself as torchrun --standalone would.
import ArgumentParser
import Foundation
import Study
import Torch

/// A command that runs data-parallel: with `--nproc N` above 1 it becomes the launcher of N ranks of itself; under
/// a launcher's environment (torchrun, srun, or `--nproc`'s own ranks) it joins the process group; then every rank
/// runs `runOnEveryRank`. Commands that are not one are refused under a launcher (`PretextTool.main`).
protocol DataParallelCommand: ParsableCommand {
  var launch: LaunchFlags { get }
  /// The command's work, in every rank (or in the one process).
  func runOnEveryRank() throws
}

extension DataParallelCommand {
  func run() throws {
    try launch.startLocalRanksIfAsked()
    try joinGroupIfLaunched()
    try runOnEveryRank()
  }
}

/// Joins the process group when the environment names one (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, or
/// SLURM's). Returns whether this process is one of several ranks.
@discardableResult
func joinGroupIfLaunched() throws -> Bool {
  guard let env = try DistributedEnvironment.fromEnvironment() else { return false }
  // A rank of `--nproc` ends with its launcher, even one killed by SIGKILL (which it cannot forward); the signals
  // the launcher forwards act, even where the launcher's own parent had them ignored or blocked (both inherited:
  // a test runner's blocked SIGTERM left ranks running until the launcher's SIGKILL 30 s later).
  if let launcher = ProcessInfo.processInfo.environment[launcherVariable].flatMap(Int32.init) {
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
    var stops = sigset_t()
    sigemptyset(&stops)
    sigaddset(&stops, SIGINT)
    sigaddset(&stops, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stops, nil)
    guard ProcessGroup.endWithParent(signal: SIGKILL, parent: launcher) else { throw CLIError("rank \(env.rank): its --nproc launcher (pid \(launcher)) has ended") }
  }
  let vars = ProcessInfo.processInfo.environment
  let timeout = Double(vars["PRETEXT_DIST_TIMEOUT"] ?? "") ?? 300
  let backendName = vars["PRETEXT_DIST_BACKEND"].flatMap { $0.isEmpty ? nil : $0 } ?? "auto"
  guard let backend = Parallel.Backend(rawValue: backendName) else {
    throw CLIError("PRETEXT_DIST_BACKEND=\(backendName): use auto, gloo or nccl")
  }
  let ncclDevice = try Parallel.ncclDevice(backend, localRank: env.localRank, hasNCCL: ProcessGroup.hasNCCL,
                                           cudaDevices: Runtime.cudaIsAvailable ? Runtime.cudaDeviceCount : 0)
  let group = try ProcessGroup(env, timeout: timeout, ncclDevice: ncclDevice)
  Parallel.group = group
  if group.rank != 0 && vars["PRETEXT_ALL_RANKS_PRINT"] != "1" {
    // Under torchrun or srun every rank's output reaches the terminal: the other ranks would print rank 0's lines
    // again (`--nproc` drops their standard output in the launcher). Their errors still go to standard error.
    fflush(nil)  // every C stream: what was printed before goes out first
    let null = open("/dev/null", O_WRONLY)
    guard null >= 0, dup2(null, STDOUT_FILENO) >= 0 else { throw CLIError("rank \(group.rank): cannot quiet standard output: \(String(cString: strerror(errno)))") }
    close(null)
  }
  if group.rank == 0 {
    let engines = group.usesNCCL ? "Gloo for CPU tensors, NCCL for CUDA tensors" : "Gloo"
    say("data-parallel: \(group.worldSize) ranks (rendezvous \(env.masterAddress):\(env.masterPort), \(engines), collective timeout \(Int(timeout)) s)")
  }
  return true
}

/// Set in the environment of the ranks `--nproc` starts: the launcher's pid.
let launcherVariable = "PRETEXT_LAUNCHER_PID"

/// `--nproc N` of the commands that train data-parallel.
struct LaunchFlags: ParsableArguments {
  @Option(help: "Data-parallel on this machine: start N ranks (processes) of this command, each with its part of every batch (also: run under torchrun --no-python or srun).") var nproc: Int?

  func validate() throws {
    if let nproc, nproc < 1 { throw ValidationError("--nproc must be at least 1 (got \(nproc))") }
  }

  /// With `--nproc` above 1, becomes the launcher of that many ranks (never returns).
  func startLocalRanksIfAsked() throws { if let nproc, nproc > 1 { try launchLocalRanks(nproc) } }
}

/// `--nproc N`: runs this same command line (without `--nproc`) as N ranks on this machine, on loopback with a
/// free port, OMP_NUM_THREADS = cores / N unless set; rank 0's output is shown, the others' errors. When a rank
/// fails, the rest are stopped and the launcher exits with its status (each rank's own collective timeout ends
/// a rank that hangs). As torchrun does, SIGINT and SIGTERM to the launcher go on to every rank, the launcher
/// waits for them (SIGKILL after 30 s) and exits 128 + the signal; the ranks also end when the launcher ends
/// some other way (SIGKILL: the parent-death signal each rank asks for in `joinGroupIfLaunched`).
func launchLocalRanks(_ n: Int) throws -> Never {
  guard ProcessInfo.processInfo.environment["WORLD_SIZE"] == nil else {
    throw CLIError("--nproc inside a launched job (WORLD_SIZE is set): use one or the other")
  }
  var args = Array(CommandLine.arguments.dropFirst())
  if let i = args.firstIndex(of: "--nproc") { args.removeSubrange(i...Swift.min(i + 1, args.count - 1)) }
  args.removeAll { $0.hasPrefix("--nproc=") }
  let port = try freeLoopbackPort()
  var env = ProcessInfo.processInfo.environment
  env["OMP_NUM_THREADS"] = env["OMP_NUM_THREADS"] ?? String(Swift.max(1, ProcessInfo.processInfo.activeProcessorCount / n))
  let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
  let done = DispatchSemaphore(value: 0)
  var ranks: [Process] = []
  for r in 0..<n {
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    var e = env
    (e["RANK"], e["LOCAL_RANK"], e["WORLD_SIZE"]) = (String(r), String(r), String(n))
    (e["MASTER_ADDR"], e["MASTER_PORT"]) = ("127.0.0.1", String(port))
    e[launcherVariable] = String(getpid())
    p.environment = e
    if r > 0 { p.standardOutput = FileHandle.nullDevice }
    p.terminationHandler = { _ in done.signal() }
    try p.run()
    ranks.append(p)
  }
  let started = ranks
  let received = ForwardedSignal()
  var sources: [DispatchSourceSignal] = []  // held for the launcher's life: a released source stops delivering
  for sig in [SIGINT, SIGTERM] {
    signal(sig, SIG_IGN)  // after the ranks started: they keep the default action
    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    source.setEventHandler {
      received.set(sig)
      for p in started where p.isRunning { kill(p.processIdentifier, sig) }
      DispatchQueue.global().asyncAfter(deadline: .now() + 30) {
        for p in started where p.isRunning { kill(p.processIdentifier, SIGKILL) }
      }
    }
    source.resume()
    sources.append(source)
  }
  var status: Int32 = 0
  for _ in 0..<n {
    done.wait()
    if let failed = ranks.first(where: { !$0.isRunning && $0.terminationStatus != 0 }), status == 0 {
      status = failed.terminationStatus
      FileHandle.standardError.write(Data("pretext --nproc: rank \(ranks.firstIndex(of: failed)!) exited with status \(status); stopping the others\n".utf8))
      for p in ranks where p.isRunning { p.terminate() }
    }
  }
  for p in ranks { p.waitUntilExit() }
  if let sig = received.value {
    FileHandle.standardError.write(Data("pretext --nproc: stopped by signal \(sig); every rank has ended\n".utf8))
    exit(128 + sig)
  }
  exit(status)
}

/// The signal the launcher received and forwarded (read once the ranks have ended).
final class ForwardedSignal: @unchecked Sendable {
  private let lock = NSLock()
  private var signal: Int32?
  func set(_ s: Int32) { lock.withLock { signal = signal ?? s } }
  var value: Int32? { lock.withLock { signal } }
}
