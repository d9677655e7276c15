import Torch

/// What a state-dict load found besides matching keys.
public struct LoadReport: Sendable, Equatable {
  public var missing: [String] = []
  public var unexpected: [String] = []
  /// Key, the module's shape, the source's shape.
  public var mismatched: [String] = []
  /// Key, the module's dtype, the source's: a floating tensor given integers or booleans, or the reverse
  /// (an int32 weight file would otherwise load as truncated values). Floating widths convert (an fp16 file
  /// loads into fp32 weights, as PyTorch's load_state_dict does).
  public var wrongDTypes: [String] = []
  public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty && wrongDTypes.isEmpty }
}

public struct StateDictError: Error, CustomStringConvertible, Sendable {
  public let report: LoadReport
  public let source: String
  public var description: String {
    var lines = ["cannot load state dict from \(source):"]
    if !report.missing.isEmpty { lines.append("  missing keys (\(report.missing.count)): \(report.missing.joined(separator: ", "))") }
    if !report.unexpected.isEmpty {
      lines.append("  unexpected keys (\(report.unexpected.count)): \(report.unexpected.joined(separator: ", "))")
    }
    if !report.mismatched.isEmpty {
      lines.append("  wrong shapes (\(report.mismatched.count)): \(report.mismatched.joined(separator: "; "))")
    }
    if !report.wrongDTypes.isEmpty {
      lines.append("  wrong dtypes (\(report.wrongDTypes.count)): \(report.wrongDTypes.joined(separator: "; "))")
    }
    return lines.joined(separator: "\n")
  }
}

extension Module {
  /// Copies `tensors` into this module's parameters and buffers (values converted to each one's dtype and
  /// device). Strict (the default): any missing, unexpected or wrongly shaped key is an error naming every
  /// offender, and nothing is changed. Not strict: matching keys load, the rest is reported.
  @discardableResult
  public func loadStateDict(_ tensors: [(name: String, tensor: Tensor)], strict: Bool = true, source: String = "state dict")
    throws -> LoadReport
  {
    var given: [String: Tensor] = [:]
    for (name, t) in tensors { given[name] = t }
    var report = LoadReport()
    var plan: [(Tensor, Tensor)] = []
    let own = stateDict()
    for (name, target) in own {
      guard let src = given[name] else {
        report.missing.append(name)
        continue
      }
      if src.shape != target.shape {
        report.mismatched.append("\(name): \(target.shape) vs \(src.shape)")
      } else if src.dtype.isFloatingPoint != target.dtype.isFloatingPoint || (src.dtype == .bool) != (target.dtype == .bool) {
        report.wrongDTypes.append("\(name): \(target.dtype) vs \(src.dtype)")
      } else {
        plan.append((target, src))
      }
    }
    let known = Set(own.map(\.name))
    report.unexpected = tensors.map(\.name).filter { !known.contains($0) }
    if strict && !report.isClean { throw StateDictError(report: report, source: source) }
    try withNoGrad { for (target, src) in plan { try target.copy_(src) } }
    return report
  }

  /// Writes the state dict (PyTorch key names and order) as safetensors, atomically.
  public func save(to path: String, metadata: [String: String] = ["format": "pt"]) throws {
    try SafeTensors.save(stateDict(), metadata: metadata, to: path)
  }

  /// Loads a safetensors state dict; `prefix` selects and strips a key prefix (e.g. "model.").
  @discardableResult
  public func load(from path: String, prefix: String = "", strict: Bool = true) throws -> LoadReport {
    let file = try SafeTensors.File(path: path)
    let tensors = try file.tensors().compactMap { name, t in
      name.hasPrefix(prefix) ? (String(name.dropFirst(prefix.count)), t) : nil
    }
    return try loadStateDict(tensors, strict: strict, source: path)
  }
}
