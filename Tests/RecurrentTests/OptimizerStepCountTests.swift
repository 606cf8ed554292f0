import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// Step counts from outside (an optimizer state, a checkpoint) are bounded, so that no
/// later `step()` can overflow them.
final class OptimizerStepCountTests: XCTestCase {
    func makeParameters() -> [Parameter] {
        [Parameter(Tensor(shape: [2], scalars: [1, 2])), Parameter(Tensor(shape: [1], scalars: [3]))]
    }

    func testLoadStateRejectsStepCountsAboveTheMaximum() throws {
        let makers: [([Parameter]) throws -> any Optimizer] = [
            { try SGD($0, lr: 0.1, momentum: 0.9) }, { try Adam($0, lr: 0.1) },
            { try AdamW($0, lr: 0.1) }, { try RMSprop($0, lr: 0.1) },
        ]
        for make in makers {
            let parameters = makeParameters()
            let optimizer = try make(parameters)
            for p in parameters { p.grad = Tensor(zeros: p.shape, value: 1) }
            optimizer.step()
            let before = optimizer.state
            for step in [Int.max, OptimizerState.maximumStepCount + 1] {
                var state = before
                state.parameters[0]?.step = step
                XCTAssertThrowsError(try optimizer.loadState(state)) { error in
                    XCTAssertTrue("\(error)".contains("\(step)"), "\(error)")
                    XCTAssertTrue("\(error)".contains("\(OptimizerState.maximumStepCount)"), "\(error)")
                }
                XCTAssertEqual(optimizer.state, before)
            }
            // The largest count is accepted and a step after it counts on.
            var state = before
            state.parameters[0]?.step = OptimizerState.maximumStepCount
            try optimizer.loadState(state)
            optimizer.step()
            XCTAssertEqual(optimizer.state.parameters[0]?.step, OptimizerState.maximumStepCount + 1)
        }
    }

    func testCheckpointWithAnOverflowingStepCountIsRejectedOnRead() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let parameters = makeParameters()
        let adam = try Adam(parameters, lr: 0.1)
        for p in parameters { p.grad = Tensor(zeros: p.shape, value: 1) }
        adam.step()
        var state = adam.state
        state.parameters[1]?.step = Int.max
        let url = directory.appendingPathComponent("crafted.safetensors")
        try Checkpoint(model: [:], optimizer: state, randomState: nil).write(to: url)
        XCTAssertThrowsError(try Checkpoint(contentsOf: url)) { error in
            guard case let CheckpointError.invalidEntry(name, problem) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "optimizer.steps")
            XCTAssertTrue(problem.contains("\(Int.max)"), problem)
        }
    }
}
