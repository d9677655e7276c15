// The `pretext` executable: the command-line tool lives in the PretextCLI library (testable in-process).
import PretextCLI

PretextTool.main()
