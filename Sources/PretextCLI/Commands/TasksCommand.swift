// `pretext tasks`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext tasks`: the registry.
struct TasksCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "tasks", abstract: "List the pretext tasks (--task NAME) and protocols.")
  func run() throws {
    let width = (PretextTasks.names.map(\.count).max() ?? 0) + 2
    for t in PretextTasks.all { say(t.name.padding(toLength: width, withPad: " ", startingAt: 0) + t.summary) }
    say("\nseveral at once on one backbone: --task NAME:WEIGHT,NAME:WEIGHT,… (e.g. inpainting:1,rotation:0.5,simclr:1)")
    say("\nprotocols (evaluate --protocol NAME): " + Scenario.allCases.map(\.rawValue).joined(separator: ", "))
  }
}
