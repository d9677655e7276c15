import Foundation

/// Where Pretext keeps what it fetches (libtorch, datasets, the Python peer): `$PRETEXT_CACHE`, else
/// `$HOME/.cache/pretext`. The same rule is written in `Package.swift`, `scripts/libtorch.py` and the shell
/// scripts; all of them read `$HOME`, never the passwd entry (Foundation's `NSHomeDirectory()` on Linux
/// reads passwd and ignores `$HOME`, which differs in CI containers, under `sudo -E` and schedulers).
public enum CacheRoot {
  public static var path: String {
    let env = ProcessInfo.processInfo.environment
    if let root = env["PRETEXT_CACHE"], !root.isEmpty { return root }
    let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    return home + "/.cache/pretext"
  }
}
