import CTorch

/// A failure reported by libtorch (or by the Swift layer's own argument checks).
///
/// Error model: every operation that can fail `throws` a `TorchError`; nothing traps on bad input.
/// `operation` names the Swift entry point, `message` is libtorch's own text.
public struct TorchError: Error, CustomStringConvertible, Sendable {
  public let operation: String
  public let message: String

  public init(operation: String, message: String) {
    self.operation = operation
    self.message = message
  }

  public var description: String { "\(operation): \(message)" }

  /// The calling thread's last libtorch error, attributed to `operation`.
  static func last(_ operation: String) -> TorchError {
    TorchError(operation: operation, message: String(cString: pt_last_error()))
  }
}

/// Turns a shim status (0 ok, -1 failed) into a throw.
@inline(__always)
func check(_ status: Int32, _ operation: @autoclosure () -> String) throws {
  if status < 0 { throw TorchError.last(operation()) }
}

/// Turns a shim count (-1 failed) into a throw.
@inline(__always)
func check(_ value: Int, _ operation: @autoclosure () -> String) throws -> Int {
  if value < 0 { throw TorchError.last(operation()) }
  return value
}
