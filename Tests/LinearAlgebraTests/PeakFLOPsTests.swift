// The FMA peak micro-kernel: which units exist, what they compute, and the checks on its
// arguments. No timing is asserted (a measurement only has to be a finite positive rate; the
// kernel's sum is checked inside `measure` on every run).
import XCTest
@testable import LinearAlgebra

final class PeakFLOPsTests: XCTestCase {
    func testUnitsDescribeTheirRegisters() {
        XCTAssertEqual(PeakFLOPs.VectorUnit.portable.lanes, 4)
        XCTAssertEqual(PeakFLOPs.VectorUnit.avx2.lanes, 8)
        XCTAssertEqual(PeakFLOPs.VectorUnit.avx512.lanes, 16)
        // More chains than FMA latency (up to 5 cycles) × pipes (2) on every unit.
        for unit in PeakFLOPs.VectorUnit.allCases { XCTAssertGreaterThanOrEqual(unit.accumulators, 12) }
        XCTAssertTrue(PeakFLOPs.VectorUnit.portable.isAvailable)
        XCTAssertEqual(PeakFLOPs.VectorUnit.allCases.sorted(), [.portable, .avx2, .avx512])
    }

    func testWidestUnitIsTheWidestAvailable() {
        let widest = PeakFLOPs.widestUnit
        XCTAssertTrue(widest.isAvailable)
        for unit in PeakFLOPs.VectorUnit.allCases where unit > widest { XCTAssertFalse(unit.isAvailable) }
        // Where the library's own vector kernels run (AVX2 + FMA or wider), the peak unit is at least AVX2.
        if CPUCapability.current != .portable { XCTAssertGreaterThanOrEqual(widest, .avx2) }
    }

    func testEveryAvailableUnitMeasuresAFiniteRate() throws {
        for unit in PeakFLOPs.VectorUnit.allCases where unit.isAvailable {
            let flops = try PeakFLOPs.measure(unit: unit, minimumSeconds: 0.001, samples: 1)
            XCTAssertTrue(flops.isFinite && flops > 0, "\(unit): \(flops)")
        }
    }

    func testRejectsArgumentsOutOfRange() {
        XCTAssertThrowsError(try PeakFLOPs.measure(minimumSeconds: 0)) { error in
            guard case PeakFLOPs.Error.invalidArgument = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try PeakFLOPs.measure(minimumSeconds: .nan))
        XCTAssertThrowsError(try PeakFLOPs.measure(minimumSeconds: 61))
        XCTAssertThrowsError(try PeakFLOPs.measure(samples: 0)) { error in
            XCTAssertEqual(error as? PeakFLOPs.Error,
                           .invalidArgument(expected: "samples in 1...1000", actual: "0"))
        }
        for unit in PeakFLOPs.VectorUnit.allCases where !unit.isAvailable {
            XCTAssertThrowsError(try PeakFLOPs.measure(unit: unit)) { error in
                XCTAssertEqual(error as? PeakFLOPs.Error, .unitUnavailable(unit))
            }
        }
    }
}
