// The settings with a fixed set of values, as `--help` lists them and the parser checks them.
import ArgumentParser
import ImageData
import NN
import SelfSupervised
import Study
import Training

extension XResNet.Head: ExpressibleByArgument {}
extension RandomCutout.Fill: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension Scenario: ExpressibleByArgument {}
extension PretextRecipe: ExpressibleByArgument {}
extension DownstreamRecipe: ExpressibleByArgument {}
extension UnetSkips: ExpressibleByArgument {}
