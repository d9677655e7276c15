import Torch

/// A trainable tensor held by a module. The module keeps the `Parameter` object; its `value` may be
/// replaced (moving devices, loading) without the module noticing.
public final class Parameter: @unchecked Sendable {
  public var value: Tensor

  public init(_ value: Tensor, requiresGrad: Bool = true) throws {
    self.value = value
    try value.setRequiresGrad(requiresGrad)
  }

  /// Whether optimizers update it (frozen parameters keep their values bit for bit).
  public var requiresGrad: Bool { value.requiresGrad }
  public func setRequiresGrad(_ flag: Bool) throws { try value.setRequiresGrad(flag) }
}

/// A non-trainable tensor that is part of a module's state (BatchNorm's running statistics).
public final class Buffer: @unchecked Sendable {
  public var value: Tensor
  public init(_ value: Tensor) { self.value = value }
}

/// The base of every layer and model, after PyTorch's nn.Module.
///
/// Parameters, buffers and child modules are found by reflection over stored properties: a property
/// holding a `Parameter`, `Buffer` or `Module` (or an optional or array of them) is part of the module,
/// named by its property name in snake_case (`runningMean` → `running_mean`); arrays name their elements
/// `name.0`, `name.1`, … Declaration order is registration order, so keys come out in PyTorch's order
/// (per module: parameters, buffers, then children). Anything else (plain values, structs of references
/// kept for typed access) is ignored.
open class Module: @unchecked Sendable {
  public private(set) var isTraining = true

  public init() {}

  /// The computation. Subclasses override it; `callAsFunction` calls it.
  open func forward(_ x: Tensor) throws -> Tensor {
    throw TorchError(operation: "\(type(of: self)).forward", message: "this module has no forward(_:)")
  }

  public final func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x) }

  // MARK: Structure

  enum Member {
    case parameter(Parameter)
    case buffer(Buffer)
    case module(Module)
  }

  /// This module's direct members, in declaration order (superclass properties first).
  func members() -> [(String, Member)] {
    var mirrors: [Mirror] = []
    var m: Mirror? = Mirror(reflecting: self)
    while let mirror = m {
      mirrors.append(mirror)
      m = mirror.superclassMirror
    }
    var out: [(String, Member)] = []
    for mirror in mirrors.reversed() {
      for child in mirror.children {
        guard let label = child.label else { continue }
        out += Self.classify(Self.snakeCase(label), child.value)
      }
    }
    return out
  }

  static func classify(_ name: String, _ value: Any) -> [(String, Member)] {
    switch value {
    case let p as Parameter: return [(name, .parameter(p))]
    case let b as Buffer: return [(name, .buffer(b))]
    case let m as Module: return [(name, .module(m))]
    case let ms as [Module]: return ms.enumerated().map { ("\(name).\($0.offset)", .module($0.element)) }
    case let ps as [Parameter]: return ps.enumerated().map { ("\(name).\($0.offset)", .parameter($0.element)) }
    default: return []
    }
  }

  static func snakeCase(_ s: String) -> String {
    var out = ""
    for c in s {
      if c.isUppercase {
        if !out.isEmpty { out.append("_") }
        out += c.lowercased()
      } else {
        out.append(c)
      }
    }
    return out
  }

  /// Direct children with their names (overridden by containers that number them).
  open func namedChildren() -> [(String, Module)] {
    members().compactMap { name, m in if case .module(let c) = m { (name, c) } else { nil } }
  }

  func ownParameters() -> [(String, Parameter)] {
    members().compactMap { name, m in if case .parameter(let p) = m { (name, p) } else { nil } }
  }

  func ownBuffers() -> [(String, Buffer)] {
    members().compactMap { name, m in if case .buffer(let b) = m { (name, b) } else { nil } }
  }

  /// Every module in the tree, depth first, with dotted names ("" for self).
  public func namedModules(prefix: String = "") -> [(String, Module)] {
    [(prefix, self)] + namedChildren().flatMap { name, child in child.namedModules(prefix: join(prefix, name)) }
  }

  /// Every parameter, with PyTorch's dotted names, in PyTorch's order; a parameter reached twice (a backbone
  /// shared by several heads) is listed once, under its first name, as PyTorch's named_parameters does. The
  /// state dict keeps every name (PyTorch's tied weights likewise).
  public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
    var seen = Set<ObjectIdentifier>()
    return everyNamedParameter(prefix: prefix).filter { seen.insert(ObjectIdentifier($0.1)).inserted }
  }

  func everyNamedParameter(prefix: String) -> [(String, Parameter)] {
    ownParameters().map { (join(prefix, $0.0), $0.1) }
      + namedChildren().flatMap { name, child in child.everyNamedParameter(prefix: join(prefix, name)) }
  }

  public func parameters() -> [Parameter] { namedParameters().map(\.1) }

  public func namedBuffers(prefix: String = "") -> [(String, Buffer)] {
    ownBuffers().map { (join(prefix, $0.0), $0.1) }
      + namedChildren().flatMap { name, child in child.namedBuffers(prefix: join(prefix, name)) }
  }

  /// The state dict as PyTorch orders it: each module's parameters, then its buffers, then its children.
  func namedState(prefix: String = "") -> [(String, Member)] {
    ownParameters().map { (join(prefix, $0.0), Member.parameter($0.1)) }
      + ownBuffers().map { (join(prefix, $0.0), Member.buffer($0.1)) }
      + namedChildren().flatMap { name, child in child.namedState(prefix: join(prefix, name)) }
  }

  public func stateDict() -> [(name: String, tensor: Tensor)] {
    namedState().map { name, m in
      switch m {
      case .parameter(let p): (name, p.value)
      case .buffer(let b): (name, b.value)
      case .module: fatalError("unreachable")
      }
    }
  }

  public var parameterCount: Int { parameters().reduce(0) { $0 + $1.value.count } }

  // MARK: Modes

  /// Training mode (batch statistics, dropout) or evaluation mode, for this module and all below it.
  public func train(_ on: Bool = true) {
    for (_, m) in namedModules() { m.isTraining = on }
  }

  public func eval() { train(false) }

  /// Starts (true) or stops (false) gradient updates of every parameter below this module, or only of
  /// those under `prefix` (a dotted module path such as "layers.0"). Frozen parameters keep their values.
  public func setTrainable(_ trainable: Bool, prefix: String? = nil) throws {
    for (name, p) in namedParameters() where prefix == nil || name == prefix! || name.hasPrefix(prefix! + ".") {
      try p.setRequiresGrad(trainable)
    }
  }

  /// Every parameter trains again (fastai's unfreeze).
  public func unfreeze() throws { try setTrainable(true) }

  /// Moves every parameter and buffer (to a device, a floating dtype, a memory format); parameters keep
  /// their requires-grad flag. Integer buffers (BatchNorm's counter) keep their dtype.
  public func to(device: Device? = nil, dtype: DType? = nil, memoryFormat: MemoryFormat? = nil) throws {
    func move(_ t: Tensor) throws -> Tensor {
      let dt = t.dtype.isFloatingPoint ? dtype : nil
      var r = try t.to(dtype: dt, device: device)
      if let memoryFormat, r.rank == 4 { r = try r.contiguous(memoryFormat) }
      return r
    }
    try withNoGrad {
      for p in parameters() {
        let flag = p.requiresGrad
        p.value = try move(p.value)
        try p.setRequiresGrad(flag)
      }
      for (_, b) in namedBuffers() { b.value = try move(b.value) }
    }
  }
}

@inline(__always)
func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }
