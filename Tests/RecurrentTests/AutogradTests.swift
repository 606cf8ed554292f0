import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// The corner cases of the autograd core: reuse, accumulation, freeing, grad mode, anomaly
/// detection, long graphs; and the `Module` machinery (names, state dicts, modes, init).
final class AutogradTests: XCTestCase {
    private func tensor(_ shape: [Int], _ scalars: [Float], grad: Bool = true) -> Tensor {
        Tensor(shape: shape, scalars: scalars, requiresGrad: grad)
    }

    // MARK: - Reuse and accumulation

    /// `x * x`: both operands are the same leaf; the gradients of both uses add up (2x).
    func testTensorUsedTwice() {
        let x = tensor([3], [1, -2, 3])
        let y = x * x
        assertClose(y.scalars, [1, 4, 9])
        y.sum().backward()
        assertClose(x.grad!.scalars, [2, -4, 6])
        XCTAssertEqual(x.grad!.shape, [3])
    }

    /// `y = a·b; z = y + y·y`: `y`'s node runs once, after both of its consumers.
    func testSharedSubexpression() {
        let a = tensor([2], [1, 2]), b = tensor([2], [3, -1])
        let y = a * b                      // [3, -2]
        let z = y + y * y                  // [12, 2]
        assertClose(z.scalars, [12, 2])
        z.sum().backward()
        // dz/dy = 1 + 2y = [7, -3]; dz/da = b·dz/dy, dz/db = a·dz/dy.
        assertClose(a.grad!.scalars, [21, 3])
        assertClose(b.grad!.scalars, [7, -6])
    }

    /// The same leaf reached through paths of different lengths (a diamond with a long side).
    func testDiamondWithUnequalPaths() {
        let x = tensor([1], [0.5])
        let long = x.tanh().exp().affine(scale: 2)   // 2·e^{tanh x}
        let z = long * x                               // 2x·e^{tanh x}
        z.sum().backward()
        let t = Foundation.tanh(Float(0.5)), e = Foundation.exp(t)
        let expected = 2 * e + 2 * Float(0.5) * e * (1 - t * t)
        assertClose(x.grad!.scalars, [expected], rtol: 1e-5)
    }

    /// Gradients accumulate across backward passes over fresh graphs until zeroed.
    func testBackwardTwiceAccumulatesOverFreshGraphs() {
        let x = tensor([2], [1, 2])
        (x * x).sum().backward()
        assertClose(x.grad!.scalars, [2, 4])
        (x * x).sum().backward()
        assertClose(x.grad!.scalars, [4, 8])
        (x * 3).sum().backward()
        assertClose(x.grad!.scalars, [7, 11])
    }

    /// `retainGraph: true` keeps the graph for a second backward through it, which accumulates.
    func testRetainGraphAllowsSecondBackward() {
        let x = tensor([2], [1, 2])
        let y = (x * x).tanh()
        let loss = y.sum()
        loss.backward(retainGraph: true)
        let first = x.grad!.scalars
        loss.backward(retainGraph: true)
        assertClose(x.grad!.scalars, first.map { 2 * $0 })
        loss.backward()
        assertClose(x.grad!.scalars, first.map { 3 * $0 })
        // The intermediate `y` is still a usable value after the graph is freed.
        assertClose(y.scalars, [1, 4].map { Foundation.tanh(Float($0)) }, rtol: 1e-6)
    }

    func testZeroGrad() {
        let x = tensor([2], [1, 2])
        (x * x).sum().backward()
        x.zeroGrad(setToNil: false)
        XCTAssertEqual(x.grad?.scalars, [0, 0])
        (x * x).sum().backward()
        assertClose(x.grad!.scalars, [2, 4])
        x.zeroGrad()
        XCTAssertNil(x.grad)
        x.zeroGrad(setToNil: false)   // nothing to zero: stays nil
        XCTAssertNil(x.grad)
    }

    /// A leaf's backward adds the seed to its own gradient.
    func testBackwardOnLeaf() {
        let x = tensor([], [3])
        x.backward()
        XCTAssertEqual(x.grad?.scalars, [1])
        XCTAssertEqual(x.grad?.shape, [])
    }

    /// An explicit upstream gradient on a non-scalar output (`y.backward(g)`).
    func testBackwardWithExplicitGradient() {
        let x = tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let y = x * x
        let g = Tensor(shape: [2, 3], scalars: [1, 0, -1, 0.5, 2, 0])
        y.backward(g)
        assertClose(x.grad!.scalars, [2, 0, -6, 4, 20, 0])
        XCTAssertNil(g.grad)
        XCTAssertFalse(g.requiresGrad)
    }

    /// Only the inputs that require gradients get them.
    func testInputsNotRequiringGradientsGetNone() {
        let x = tensor([2], [1, 2]), c = tensor([2], [3, 4], grad: false)
        let y = x * c
        XCTAssertTrue(y.requiresGrad)
        y.sum().backward()
        assertClose(x.grad!.scalars, [3, 4])
        XCTAssertNil(c.grad)
        let z = c * c
        XCTAssertFalse(z.requiresGrad)
        XCTAssertNil(z.gradFnName)
    }

    // MARK: - Stopping gradients

    /// `detach()` shares storage and cuts the graph.
    func testDetachStopsGradientsAndSharesStorage() {
        let x = tensor([2], [1, 2])
        let d = x.detach()
        XCTAssertFalse(d.requiresGrad)
        XCTAssertTrue(d.isLeaf)
        (d * x).sum().backward()                 // gradient only through the second factor
        assertClose(x.grad!.scalars, [1, 2])
        d.withUnsafeMutableBufferPointer { $0[0] = 10 }
        XCTAssertEqual(x.scalars[0], 10, "detach() shares storage")
    }

    /// `detached()` copies and cuts the graph, also for intermediate results.
    func testDetachedStopsGradientsAndCopies() {
        let x = tensor([2], [1, 2])
        let y = x * x
        let d = y.detached()
        XCTAssertFalse(d.requiresGrad)
        XCTAssertNil(d.gradFnName)
        (d * x).sum().backward()
        assertClose(x.grad!.scalars, [1, 4])
        d.withUnsafeMutableBufferPointer { $0[0] = 10 }
        XCTAssertEqual(y.scalars[0], 1, "detached() copies")
    }

    /// Nothing is recorded inside `withoutGradients`.
    func testWithoutGradientsRecordsNothing() {
        let x = tensor([2, 2], [1, 2, 3, 4])
        let w = Parameter(Tensor(shape: [3, 2], scalars: [1, 0, 0, 1, 1, 1]))
        let results: [Tensor] = try! withoutGradients {
            XCTAssertFalse(GradMode.isEnabled)
            return [x * x, x + 1, x.tanh(), try x.matmul(x), try Tensor.linear(x, weight: w, bias: nil),
                    try x.reshaped([4]), try x.select(dim: 0, index: 1), try Tensor.cat([x, x], dim: 0),
                    x.sum(), try x.softmax(dim: 1), try x.permuted([1, 0])]
        }
        XCTAssertTrue(GradMode.isEnabled)
        for r in results {
            XCTAssertFalse(r.requiresGrad)
            XCTAssertNil(r.gradFn)
            XCTAssertTrue(r.isLeaf)
        }
        // Recording resumes afterwards.
        XCTAssertEqual((x * x).gradFnName, "MulBackward")
        // Nested: the inner scope can turn recording back on.
        let inner = withoutGradients { GradMode.$isEnabled.withValue(true) { x * x } }
        XCTAssertTrue(inner.requiresGrad)
    }

    /// Grad mode is per thread: one thread with recording off does not affect another
    /// running at the same time.
    func testGradModeIsPerThread() {
        let x = tensor([2], [1, 2])
        let insideOff = DispatchSemaphore(value: 0), otherDone = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var offRecorded = true, onRecorded = false, onEnabled = false }
        let box = Box()
        Thread {
            withoutGradients {
                insideOff.signal()
                otherDone.wait()
                box.offRecorded = (x * x).requiresGrad
            }
            finished.signal()
        }.start()
        Thread {
            insideOff.wait()
            box.onEnabled = GradMode.isEnabled
            box.onRecorded = (x * x).requiresGrad
            otherDone.signal()
            finished.signal()
        }.start()
        finished.wait(); finished.wait()
        XCTAssertFalse(box.offRecorded)
        XCTAssertTrue(box.onEnabled)
        XCTAssertTrue(box.onRecorded)
    }

    /// Grad mode is per task: a concurrent task with recording on is unaffected by one that
    /// turned it off, and a detached task starts with recording on.
    func testGradModeIsPerTask() async {
        let x = tensor([2], [1, 2])
        let gate = AsyncGate()
        async let off: Bool = GradMode.$isEnabled.withValue(false) {
            await gate.open(1)
            await gate.wait(2)
            return (x * x).requiresGrad
        }
        async let on: (Bool, Bool) = {
            await gate.wait(1)                      // the other task is inside its no-grad scope
            let result = (GradMode.isEnabled, (x * x).requiresGrad)
            await gate.open(2)
            return result
        }()
        let (offRecorded, (onEnabled, onRecorded)) = await (off, on)
        XCTAssertFalse(offRecorded)
        XCTAssertTrue(onEnabled)
        XCTAssertTrue(onRecorded)
        let detached = await withoutGradients {
            Task.detached { (x * x).requiresGrad }
        }.value
        XCTAssertTrue(detached)
    }

    // MARK: - Long graphs and freeing

    /// 100,000 recorded operations: backward is iterative (no stack overflow) and correct.
    func testLongChainBackward() {
        let x = tensor([1], [1])
        let scale: Float = 1.00001
        var y = x
        for _ in 0..<100_000 { y = y.affine(scale: scale) }
        y.sum().backward()
        let expected = Float(pow(Double(scale), 100_000))
        assertClose(x.grad!.scalars, [expected], rtol: 1e-3)
    }

    /// A long chain of mixed two-input operations, then backward.
    func testLongMixedChainBackward() {
        let x = tensor([4], [0.1, -0.2, 0.3, 0.4]), w = tensor([4], [0.5, 0.5, 0.5, 0.5])
        var h = x
        for _ in 0..<20_000 { h = (h * w + x).tanh() }
        h.sum().backward()
        XCTAssertNotNil(x.grad)
        XCTAssertTrue(x.grad!.scalars.allSatisfy(\.isFinite))
        XCTAssertTrue(w.grad!.scalars.allSatisfy(\.isFinite))
    }

    /// A 100,000-node graph released without a backward pass (an inference forward with
    /// recording left on) is freed iteratively, not by a recursion 100,000 deep.
    func testLongChainReleasedWithoutBackward() {
        weak var firstIntermediate: Tensor?
        do {
            let x = tensor([1], [1])
            var y = x.affine(scale: 1)
            firstIntermediate = y
            for _ in 0..<100_000 { y = y.affine(scale: 1) }
            XCTAssertNotNil(firstIntermediate)
        }
        XCTAssertNil(firstIntermediate)
    }

    /// Backward frees the graph: an intermediate result the caller no longer holds is
    /// released even while the loss is still alive; without backward, the graph lives as
    /// long as the output and is freed with it.
    func testGraphIsReleased() {
        let x = tensor([3], [1, 2, 3])
        weak var weakMiddle: Tensor?
        weak var weakNode: Node?
        var loss: Tensor? = {
            let middle = (x * x).tanh()
            weakMiddle = middle
            weakNode = middle.gradFn
            return (middle * 2).sum()
        }()
        XCTAssertNotNil(weakMiddle, "the graph holds the intermediate before backward")
        XCTAssertNotNil(weakNode)
        loss!.backward()
        XCTAssertNil(weakMiddle, "backward without retainGraph frees the graph")
        XCTAssertNil(weakNode)
        XCTAssertEqual(loss!.gradFnName, "SumBackward")
        loss = nil

        // Without backward: freed when the output goes.
        var output: Tensor? = {
            let middle = (x * x).tanh()
            weakMiddle = middle
            return middle.sum()
        }()
        XCTAssertNotNil(weakMiddle)
        XCTAssertNotNil(output)
        output = nil
        XCTAssertNil(weakMiddle)

        // retainGraph keeps it until the output goes.
        output = {
            let middle = (x * x).tanh()
            weakMiddle = middle
            return middle.sum()
        }()
        output!.backward(retainGraph: true)
        XCTAssertNotNil(weakMiddle)
        output = nil
        XCTAssertNil(weakMiddle)
        // No cycle keeps the leaf: the leaf's gradient does not refer to the graph.
        XCTAssertNil(x.grad!.gradFn)
    }

    /// Backward must not read the output buffers of nodes whose output tensors the caller has
    /// dropped (tanh, sigmoid, exp and softmax differentiate through their outputs): the
    /// gradient of a chain of such ops with no intermediate held must be exact, also when
    /// other allocations reuse freed memory during backward.
    func testBackwardThroughDroppedIntermediatesUsesTheirValues() throws {
        let x0: [Float] = [0.3, -0.7, 1.1, 0.2]
        let x = tensor([4], x0)
        let loss = try x.tanh().sigmoid().exp().softmax(dim: 0).sum(dim: 0).affine(scale: 1)
        // Churn the allocator so that freed buffers get reused with other contents.
        loss.backward()
        let analytic = x.grad!.scalars
        // Same graph with every intermediate kept alive.
        let x2 = tensor([4], x0)
        let a = x2.tanh(), b = a.sigmoid(), c = b.exp(), d = try c.softmax(dim: 0)
        let e = try d.sum(dim: 0).affine(scale: 1)
        e.backward()
        withExtendedLifetime((a, b, c, d)) {}
        assertClose(analytic, x2.grad!.scalars, rtol: 0, atol: 0)

        // A chain whose intermediates are overwritten by later allocations of the same size.
        let y = tensor([64], (0..<64).map { Float($0) / 64 - 0.5 })
        var h = y
        for _ in 0..<50 { h = (h.tanh() * 1.5).sigmoid() - 0.5 }
        let l = (h * h).sum()
        l.backward()
        let g1 = y.grad!.scalars
        let y2 = tensor([64], (0..<64).map { Float($0) / 64 - 0.5 })
        var kept: [Tensor] = []
        var h2 = y2
        for _ in 0..<50 {
            let t = h2.tanh(); let s = (t * 1.5).sigmoid()
            kept += [t, s]
            h2 = s - 0.5
        }
        (h2 * h2).sum().backward()
        withExtendedLifetime(kept) {}
        assertClose(g1, y2.grad!.scalars, rtol: 0, atol: 0)
    }

    /// Backward reuses the gradient buffers of nodes that have run for later nodes of the
    /// same size: a reused buffer must start from zero, also when sizes alternate.
    func testRecycledGradientBuffersStartAtZero() throws {
        let x = tensor([2, 3], [1, -1, 2, 0.5, 3, -2])
        var h = x
        var coefficient = 1.0          // h = c·x, so d Σh / dx = c everywhere
        for _ in 0..<30 {
            h = h * 0.5 + x
            coefficient = 0.5 * coefficient + 1
            // A detour through another size: (2,3) → (3) → broadcast back to (2,3).
            h = h + (try h.sum(dim: 0) * 0)
        }
        h.sum().backward()
        assertClose(x.grad!.scalars, [Float](repeating: Float(coefficient), count: 6), rtol: 1e-6)
    }

    // MARK: - Anomaly detection

    /// The first operation whose forward output is not finite is named, with its shape.
    func testAnomalyInForward() {
        let x = tensor([2, 2], [1, 2, -3, 4])
        XCTAssertThrowsError(try AnomalyMode.detect {
            let y = (x * 2).log()       // log of a negative: NaN at element 2
            let z = y.exp()             // NaN propagates, but the first offender is log
            z.sum().backward()
        }) { error in
            guard let anomaly = error as? AnomalyMode.Anomaly else { return XCTFail("\(error)") }
            XCTAssertEqual(anomaly.operation, "LogBackward")
            XCTAssertEqual(anomaly.phase, "forward")
            XCTAssertEqual(anomaly.shape, [2, 2])
            XCTAssertEqual(anomaly.index, 2)
            XCTAssertTrue(anomaly.description.contains("LogBackward"))
            XCTAssertTrue(anomaly.description.contains("[2, 2]"))
        }
    }

    /// A non-finite gradient made in backward (a division whose `1/b²` overflows) is named.
    func testAnomalyInBackward() {
        let a = tensor([3], [1, 1e-30, 2]), b = tensor([3], [2, 1e-30, 4])
        XCTAssertThrowsError(try AnomalyMode.detect {
            let q = a / b               // [0.5, 1, 0.5]: finite
            XCTAssertTrue(q.scalars.allSatisfy(\.isFinite))
            (q * q).sum().backward()     // d/db = -a/b² · g: b² underflows to 0
        }) { error in
            guard let anomaly = error as? AnomalyMode.Anomaly else { return XCTFail("\(error)") }
            XCTAssertEqual(anomaly.operation, "DivBackward")
            XCTAssertEqual(anomaly.phase, "backward")
            XCTAssertEqual(anomaly.shape, [3])
            XCTAssertEqual(anomaly.index, 1)
        }
    }

    /// Without anomaly detection, nothing is thrown and NaNs simply propagate; inside it,
    /// finite computations pass.
    func testAnomalyModeOffAndClean() throws {
        let x = tensor([1], [-1])
        let y = x.log()
        XCTAssertTrue(y.scalars[0].isNaN)
        let value = try AnomalyMode.detect { () -> Float in
            let z = (x * x).sum()
            z.backward()
            return z.item
        }
        XCTAssertEqual(value, 1)
        XCTAssertFalse(AnomalyMode.isEnabled)
    }

    // MARK: - Modules

    final class TwoLayer: Module, @unchecked Sendable {
        let i2h: Linear
        let i2o: Linear
        let size = 3
        init(_ g: inout SeededGenerator) throws {
            i2h = try Linear(inFeatures: 3, outFeatures: 4, using: &g)
            i2o = try Linear(inFeatures: 4, outFeatures: 2, using: &g)
            super.init()
        }
    }

    final class Nested: Module, @unchecked Sendable {
        let scale = Parameter(Tensor(shape: [1], scalars: [1]))
        let body: Sequential
        let heads: [Linear]
        let noBias: Linear
        init(_ g: inout SeededGenerator) throws {
            body = Sequential(try Linear(inFeatures: 2, outFeatures: 3, using: &g), Tanh(), try! Dropout(p: 0.5),
                              try Linear(inFeatures: 3, outFeatures: 3, using: &g))
            heads = [try Linear(inFeatures: 3, outFeatures: 1, using: &g), try Linear(inFeatures: 3, outFeatures: 1, using: &g)]
            noBias = try Linear(inFeatures: 3, outFeatures: 2, bias: false, using: &g)
            super.init()
        }
    }

    func testNamedParametersOfNestedModules() throws {
        var g = SeededGenerator(seed: 1)
        let m = try TwoLayer(&g)
        XCTAssertEqual(m.namedParameters().map(\.name), ["i2h.weight", "i2h.bias", "i2o.weight", "i2o.bias"])
        XCTAssertTrue(m.namedParameters()[0].parameter === m.i2h.weight)
        XCTAssertEqual(m.parameters().map(\.shape), [[4, 3], [4], [2, 4], [2]])
        XCTAssertEqual(m.stateDictKeys, ["i2h.weight", "i2h.bias", "i2o.weight", "i2o.bias"])

        let seq = Sequential(try Linear(inFeatures: 2, outFeatures: 3, using: &g), Tanh(),
                             try Linear(inFeatures: 3, outFeatures: 1, using: &g))
        XCTAssertEqual(seq.namedParameters().map(\.name), ["0.weight", "0.bias", "2.weight", "2.bias"])

        let n = try Nested(&g)
        XCTAssertEqual(n.namedParameters().map(\.name),
                       ["scale", "body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias",
                        "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias", "noBias.weight"])
        XCTAssertEqual(n.namedModules().map(\.name),
                       ["", "body", "body.0", "body.1", "body.2", "body.3", "heads.0", "heads.1", "noBias"])
    }

    /// A module that holds the same parameter twice lists it once (like PyTorch).
    func testSharedParameterListedOnce() {
        final class Tied: Module, @unchecked Sendable {
            let a: Parameter
            let b: Parameter
            override init() { a = Parameter(Tensor(zeros: [2])); b = a; super.init() }
        }
        XCTAssertEqual(Tied().namedParameters().map(\.name), ["a"])
    }

    func testStateDictRoundTripAndCopies() throws {
        var g = SeededGenerator(seed: 2)
        let m = try TwoLayer(&g), other = try TwoLayer(&g)
        let dict = m.stateDict()
        XCTAssertEqual(Set(dict.keys), Set(["i2h.weight", "i2h.bias", "i2o.weight", "i2o.bias"]))
        try other.loadStateDict(dict)
        for ((n1, p1), (n2, p2)) in zip(m.namedParameters(), other.namedParameters()) {
            XCTAssertEqual(n1, n2)
            XCTAssertEqual(p1.scalars, p2.scalars)
            XCTAssertFalse(p1.storage === p2.storage)
        }
        // The state dict holds copies.
        m.i2h.weight.withUnsafeMutableBufferPointer { $0[0] += 1 }
        XCTAssertNotEqual(dict["i2h.weight"]!.scalars[0], m.i2h.weight.scalars[0])
    }

    private func snapshot(_ m: Module) -> [[Float]] { m.parameters().map(\.scalars) }

    func testLoadStateDictStrictMissingKey() throws {
        var g = SeededGenerator(seed: 3)
        let m = try TwoLayer(&g), source = try TwoLayer(&g)
        var dict = source.stateDict()
        dict["i2o.bias"] = nil
        let before = snapshot(m)
        XCTAssertThrowsError(try m.loadStateDict(dict)) { error in
            XCTAssertEqual(error as? StateDictError, .keyMismatch(missing: ["i2o.bias"], unexpected: []))
            XCTAssertTrue("\(error)".contains("i2o.bias"))
        }
        XCTAssertEqual(snapshot(m), before, "a failed load leaves the module unchanged")
    }

    func testLoadStateDictStrictUnexpectedKey() throws {
        var g = SeededGenerator(seed: 4)
        let m = try TwoLayer(&g), source = try TwoLayer(&g)
        var dict = source.stateDict()
        dict["i2x.weight"] = Tensor(zeros: [1])
        let before = snapshot(m)
        XCTAssertThrowsError(try m.loadStateDict(dict)) { error in
            XCTAssertEqual(error as? StateDictError, .keyMismatch(missing: [], unexpected: ["i2x.weight"]))
            XCTAssertTrue("\(error)".contains("i2x.weight"))
        }
        XCTAssertEqual(snapshot(m), before)
    }

    func testLoadStateDictMisshapedKey() throws {
        var g = SeededGenerator(seed: 5)
        let m = try TwoLayer(&g), source = try TwoLayer(&g)
        var dict = source.stateDict()
        dict["i2h.weight"] = Tensor(zeros: [3, 4])
        let before = snapshot(m)
        for strict in [true, false] {
            XCTAssertThrowsError(try m.loadStateDict(dict, strict: strict)) { error in
                guard case .shapeMismatch(let entries)? = error as? StateDictError else { return XCTFail("\(error)") }
                XCTAssertEqual(entries.count, 1)
                XCTAssertTrue(entries[0].contains("i2h.weight"))
                XCTAssertTrue("\(error)".contains("[4, 3]") && "\(error)".contains("[3, 4]"))
            }
            XCTAssertEqual(snapshot(m), before)
        }
    }

    func testLoadStateDictNonStrictIgnoresMissingAndUnexpected() throws {
        var g = SeededGenerator(seed: 6)
        let m = try TwoLayer(&g), source = try TwoLayer(&g)
        var dict = source.stateDict()
        dict["i2o.weight"] = nil
        dict["extra"] = Tensor(zeros: [7])
        let before = snapshot(m)
        try m.loadStateDict(dict, strict: false)
        XCTAssertEqual(m.i2h.weight.scalars, source.i2h.weight.scalars)
        XCTAssertEqual(m.i2h.bias!.scalars, source.i2h.bias!.scalars)
        XCTAssertEqual(m.i2o.bias!.scalars, source.i2o.bias!.scalars)
        XCTAssertEqual(m.i2o.weight.scalars, before[2], "a missing key keeps its value")
    }

    func testTrainEvalPropagate() throws {
        var g = SeededGenerator(seed: 7)
        let n = try Nested(&g)
        XCTAssertTrue(n.namedModules().allSatisfy { $0.module.isTraining })
        n.eval()
        XCTAssertTrue(n.namedModules().allSatisfy { !$0.module.isTraining })
        // Evaluation mode: dropout is the identity.
        let dropout = n.body.layers[2] as! Dropout
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertTrue(try dropout(x) === x)
        n.train()
        XCTAssertTrue(n.namedModules().allSatisfy { $0.module.isTraining })
        let y = try dropout(Tensor(zeros: [1000], value: 1))
        XCTAssertTrue(y.scalars.contains(0) && y.scalars.contains(2))
        XCTAssertTrue(n.train(false) === n)
        XCTAssertFalse(n.body.isTraining)
        // Only a sub-tree.
        n.train()
        n.body.eval()
        XCTAssertTrue(n.isTraining)
        XCTAssertFalse(n.body.layers[0].isTraining)
        XCTAssertTrue(n.heads[0].isTraining)
    }

    func testModuleZeroGrad() throws {
        var g = SeededGenerator(seed: 8)
        let m = try TwoLayer(&g)
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        try m.i2o(m.i2h(x).tanh()).sum().backward()
        XCTAssertTrue(m.parameters().allSatisfy { $0.grad != nil })
        m.zeroGrad(setToNil: false)
        XCTAssertTrue(m.parameters().allSatisfy { $0.grad!.scalars.allSatisfy { $0 == 0 } })
        m.zeroGrad()
        XCTAssertTrue(m.parameters().allSatisfy { $0.grad == nil })
    }

    func testLinearInitBoundsAndSeeding() throws {
        for (inF, outF) in [(1, 1), (3, 5), (100, 20), (257, 3)] {
            let l = try Linear(inFeatures: inF, outFeatures: outF)
            let bound = 1 / Float(inF).squareRoot()
            XCTAssertEqual(l.weight.shape, [outF, inF])
            XCTAssertEqual(l.bias!.shape, [outF])
            XCTAssertTrue(l.weight.requiresGrad && l.bias!.requiresGrad)
            for v in l.weight.scalars + l.bias!.scalars { XCTAssertLessThanOrEqual(abs(v), bound) }
            if inF * outF >= 100 {
                // Spread over the whole range: U(−b, b) has standard deviation b/√3.
                let w = l.weight.scalars
                let mean = w.reduce(0, +) / Float(w.count)
                let variance = w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)
                XCTAssertEqual(variance.squareRoot(), bound / Float(3).squareRoot(), accuracy: 0.15 * bound)
                XCTAssertGreaterThan(w.max()!, 0.8 * bound)
                XCTAssertLessThan(w.min()!, -0.8 * bound)
            }
        }
        RandomState.manualSeed(1234)
        let a = try Linear(inFeatures: 4, outFeatures: 3)
        let a2 = try Linear(inFeatures: 4, outFeatures: 3)
        RandomState.manualSeed(1234)
        let b = try Linear(inFeatures: 4, outFeatures: 3)
        XCTAssertEqual(a.weight.scalars, b.weight.scalars)
        XCTAssertEqual(a.bias!.scalars, b.bias!.scalars)
        XCTAssertNotEqual(a.weight.scalars, a2.weight.scalars, "the stream advances")
        RandomState.manualSeed(4321)
        XCTAssertNotEqual(try Linear(inFeatures: 4, outFeatures: 3).weight.scalars, a.weight.scalars)
        // An explicit generator: the same seed, the same layer; the default stream untouched.
        let state = RandomState.state
        var g1 = SeededGenerator(seed: 9), g2 = SeededGenerator(seed: 9)
        let c = try Linear(inFeatures: 4, outFeatures: 3, bias: false, using: &g1)
        let d = try Linear(inFeatures: 4, outFeatures: 3, bias: false, using: &g2)
        XCTAssertEqual(c.weight.scalars, d.weight.scalars)
        XCTAssertNil(c.bias)
        XCTAssertEqual(c.namedParameters().map(\.name), ["weight"])
        XCTAssertEqual(RandomState.state, state)
    }

    func testSequentialForwardAndGradients() throws {
        var g = SeededGenerator(seed: 10)
        let l1 = try Linear(inFeatures: 3, outFeatures: 4, using: &g), l2 = try Linear(inFeatures: 4, outFeatures: 2, using: &g)
        let seq = Sequential(l1, Tanh(), l2, Sigmoid(), ReLU(), LogSoftmax(dim: -1))
        let x = Tensor(normal: [5, 3], using: &g)
        let expected = try Tensor.linear(Tensor.linear(x, weight: l1.weight, bias: l1.bias).tanh(),
                                         weight: l2.weight, bias: l2.bias).sigmoid().relu().logSoftmax(dim: -1)
        assertClose(try seq(x), expected, rtol: 0, atol: 0)
        let w = Tensor(normal: [5, 2], using: &g)
        try assertGradientsMatchFiniteDifferences([x, l1.weight, l1.bias!, l2.weight, l2.bias!]) {
            (try seq(x) * w).sum()
        }
    }
}

/// A tiny async barrier: `wait(k)` suspends until `open(k)`.
private actor AsyncGate {
    private var opened: Set<Int> = []
    private var waiters: [Int: [CheckedContinuation<Void, Never>]] = [:]
    func open(_ k: Int) {
        opened.insert(k)
        for c in waiters.removeValue(forKey: k) ?? [] { c.resume() }
    }
    func wait(_ k: Int) async {
        if opened.contains(k) { return }
        await withCheckedContinuation { waiters[k, default: []].append($0) }
    }
}
