import Testing
import Torch

/// `parentPath` stands in for NSString's `deletingLastPathComponent`, which traps on a one-character bare name
/// in swift-corelibs-foundation 6.3 (`pretext pretrain --out t` crashed making its new run folder).
@Suite struct PathTests {
  @Test func parentPathIsTheFolderPart() {
    #expect(parentPath("runs") == "")
    #expect(parentPath("t") == "")
    #expect(parentPath("runs/pretrain-x") == "runs")
    #expect(parentPath("runs/pretrain-x/") == "runs")
    #expect(parentPath("/a/b//c") == "/a/b")
    #expect(parentPath("/a") == "/")
    #expect(parentPath("/") == "/")
    #expect(parentPath("") == "")
  }
}
