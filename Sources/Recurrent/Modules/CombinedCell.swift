import Foundation
import LinearAlgebra

/// The hand-written recurrent cell of the classic PyTorch tutorial: the input and the
/// previous hidden state are concatenated and mapped linearly to the new hidden state
/// (no nonlinearity), and the output is the log-softmax of a linear map of the *new*
/// hidden state:
///
/// ```
/// h' = i2h(cat([x, h], dim: 1))          // Linear(inputSize + hiddenSize → hiddenSize)
/// y  = logSoftmax(i2o(h'), dim: 1)       // Linear(hiddenSize → outputSize)
/// ```
///
/// Parameters are named `i2h.weight`, `i2h.bias`, `i2o.weight`, `i2o.bias`, as in the
/// tutorial's `nn.Module`, so its state dicts load directly.
///
/// ```swift
/// let cell = try CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2)
/// var hidden = cell.initHidden()
/// for x in sequence { (output, hidden) = try cell(x, hidden) }
/// ```
public final class CombinedCell: Module, @unchecked Sendable {
    /// The input-and-hidden to hidden layer, `(hiddenSize, inputSize + hiddenSize)` weight.
    public let i2h: Linear
    /// The hidden to output layer, `(outputSize, hiddenSize)` weight.
    public let i2o: Linear
    /// The number of input features.
    public let inputSize: Int
    /// The number of hidden features.
    public let hiddenSize: Int
    /// The number of classes of the output.
    public let outputSize: Int

    /// A cell initialised like PyTorch's `nn.Linear` layers (U(±1/√fanIn)), drawing from
    /// the default random stream (``RandomState``): `i2h`'s weight and bias, then `i2o`'s.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size (nothing is drawn).
    public init(inputSize: Int, hiddenSize: Int, outputSize: Int) throws {
        try CombinedCell.checkSizes(inputSize, hiddenSize, outputSize)
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize
        i2h = try Linear(inFeatures: inputSize + hiddenSize, outFeatures: hiddenSize)
        i2o = try Linear(inFeatures: hiddenSize, outFeatures: outputSize)
        super.init()
    }

    /// A cell drawing its initial weights from `generator` (`i2h` first, then `i2o`).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size (the generator is
    ///   then left as it was).
    public init(inputSize: Int, hiddenSize: Int, outputSize: Int, using generator: inout SeededGenerator) throws {
        try CombinedCell.checkSizes(inputSize, hiddenSize, outputSize)
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize
        i2h = try Linear(inFeatures: inputSize + hiddenSize, outFeatures: hiddenSize, using: &generator)
        i2o = try Linear(inFeatures: hiddenSize, outFeatures: outputSize, using: &generator)
        super.init()
    }

    private static func checkSizes(_ inputSize: Int, _ hiddenSize: Int, _ outputSize: Int) throws {
        guard inputSize >= 0 && hiddenSize >= 0 && outputSize >= 0 else {
            throw TensorError.invalidArgument("CombinedCell: expected non-negative sizes, got inputSize \(inputSize), hiddenSize \(hiddenSize), outputSize \(outputSize)")
        }
        // i2h reads inputSize + hiddenSize features: bound the sum and both layers together.
        let (inFeatures, overflow) = inputSize.addingReportingOverflow(hiddenSize)
        let what = "CombinedCell(inputSize: \(inputSize), hiddenSize: \(hiddenSize), outputSize: \(outputSize)) weights"
        if overflow { try MemoryLimit.check(bytes: nil, for: what) }
        try MemoryLimit.check(floats: [[hiddenSize, inFeatures], [hiddenSize], [outputSize, hiddenSize], [outputSize]], for: what)
    }

    /// One step: the log-probabilities `(B, outputSize)` and the new hidden state
    /// `(B, hiddenSize)` from an input `(B, inputSize)` and the hidden state `(B, hiddenSize)`.
    ///
    /// The whole step — concatenation, both linear layers and the log-softmax — is one
    /// recorded node with a hand-written backward (a few BLAS calls), rather than the four
    /// nodes of the composed operations; the values and gradients are the same.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `input` is not `(B, inputSize)` or
    ///   `hidden` is not `(B, hiddenSize)` with the same `B`.
    public func callAsFunction(_ input: Tensor, _ hidden: Tensor) throws -> (output: Tensor, hidden: Tensor) {
        try checkShapes(input, hidden)
        guard let bh = i2h.bias, let bo = i2o.bias else { return try composedStep(input, hidden) }
        let wh = i2h.weight, wo = i2o.weight
        let b = input.shape[0], ni = inputSize, nh = hiddenSize, no = outputSize, nk = ni + nh
        let x = input.storage, h = hidden.storage
        // OpenBLAS would split these small products between threads, at a loss.
        let threads = FusedRecurrence.singleThreadedSteps(multiplyAdds: b * nh * nk)
        defer { FusedRecurrence.restoreThreads(threads) }

        // Forward: c = [x, h]; h' = c · W_hᵀ + b_h; y = logSoftmax(h' · W_oᵀ + b_o).
        let combined = TensorBuffer(count: b * nk) { c in
            for r in 0..<b {
                (c + r * nk).update(from: x.pointer + r * ni, count: ni)
                (c + r * nk + ni).update(from: h.pointer + r * nh, count: nh)
            }
        }
        let newHidden = TensorBuffer(count: b * nh) { y in
            CombinedCell.affine(combined.pointer, rows: b, inFeatures: nk, weight: wh.storage.pointer,
                                bias: bh.storage.pointer, outFeatures: nh, into: y)
        }
        let output = TensorBuffer(count: b * no) { y in
            CombinedCell.affine(newHidden.pointer, rows: b, inFeatures: nh, weight: wo.storage.pointer,
                                bias: bo.storage.pointer, outFeatures: no, into: y)
            for r in 0..<b { CombinedCell.logSoftmaxInPlace(y + r * no, count: no) }
        }

        let inputs: [Tensor] = [input, hidden, wh, bh, wo, bo]
        let results = Tensor.results(
            "CombinedCellBackward", shapes: [[b, no], [b, nh]], storages: [output, newHidden], inputs: inputs,
            recording: Tensor.needsRecording(inputs)
        ) { gradOutputs, gradInputs in
            withExtendedLifetime((combined, newHidden, output, wh.storage, wo.storage)) {
                let threads = FusedRecurrence.singleThreadedSteps(multiplyAdds: b * nh * nk)
                defer { FusedRecurrence.restoreThreads(threads) }
                CombinedCell.backward(
                    gradOutput: gradOutputs[0], gradHidden: gradOutputs[1], gradInputs: gradInputs,
                    combined: combined.pointer, newHidden: newHidden.pointer, logProbabilities: output.pointer,
                    wh: wh.storage.pointer, wo: wo.storage.pointer, b: b, ni: ni, nh: nh, no: no)
            }
        }
        return (results[0], results[1])
    }

    /// The cell over a whole sequence of one-hot inputs (batch 1): the log-probabilities
    /// `(1, outputSize)` after the **last** step and the final hidden state `(1, hiddenSize)`,
    /// the same values (up to rounding) as calling the cell on each one-hot row in turn
    /// and keeping the last output — the tutorial's loop over a name's letters.
    ///
    /// `indices[t]` is the position of the one in step `t`'s input. The whole sequence is
    /// one recorded node: the forward takes the input's column of `i2h.weight` instead of
    /// multiplying by a one-hot vector and computes `i2o` only at the last step; the
    /// backward runs one matrix–vector product per step and forms the recurrent part of
    /// `i2h.weight`'s gradient with one matrix product over the sequence (rather than one
    /// rank-one update per step). BLAS runs on one thread for these small products.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `indices` is empty or an index is
    ///   not in `0..<inputSize`; ``TensorError/shapeMismatch(_:)`` when `hidden` is not
    ///   `(1, hiddenSize)`.
    public func callAsFunction(oneHot indices: [Int], _ hidden: Tensor) throws -> (output: Tensor, hidden: Tensor) {
        guard !indices.isEmpty else {
            throw TensorError.invalidArgument("CombinedCell: expected at least one step, got an empty sequence")
        }
        for index in indices where index < 0 || index >= inputSize {
            throw TensorError.invalidArgument("CombinedCell: one-hot index \(index) is not in 0..<\(inputSize)")
        }
        guard hidden.shape == [1, hiddenSize] else {
            throw TensorError.shapeMismatch("CombinedCell: expected a hidden state of shape [1, \(hiddenSize)] for a one-hot sequence, got \(hidden.shape)")
        }
        guard let bh = i2h.bias, let bo = i2o.bias else {
            // Without biases: the per-step composed path on explicit one-hot rows.
            var state = hidden, output: Tensor?
            for index in indices {
                var row = [Float](repeating: 0, count: inputSize)
                row[index] = 1
                (output, state) = try composedStep(Tensor(shape: [1, inputSize], scalars: row), state)
            }
            return (output!, state)
        }
        let wh = i2h.weight, wo = i2o.weight
        let steps = indices.count, ni = inputSize, nh = hiddenSize, no = outputSize, nk = ni + nh
        let threads = FusedRecurrence.singleThreadedSteps(multiplyAdds: nh * nk)
        defer { FusedRecurrence.restoreThreads(threads) }

        // states row t is h_t (row 0 the initial state); h_{t+1} = b + W_x[:, i_t] + W_h · h_t.
        let h0 = hidden.storage.pointer
        var initialIsZero = true
        for j in 0..<nh where h0[j] != 0 { initialIsZero = false; break }
        let states = TensorBuffer(count: (steps + 1) * nh) { s in
            s.update(from: h0, count: nh)
            let w = wh.storage.pointer, b = bh.storage.pointer
            let recurrent = MatrixView(UnsafePointer(w + ni), rows: nh, columns: nh, leadingDimension: Swift.max(nk, 1))
            for t in 0..<steps {
                let previous = s + t * nh, next = s + (t + 1) * nh
                let column = w + indices[t]
                for j in 0..<nh { next[j] = b[j] + column[j * nk] }
                if t > 0 || !initialIsZero { BLAS.gemv(recurrent, .noTranspose, previous, into: next, beta: 1) }
            }
        }
        let last = UnsafePointer(states.pointer + steps * nh)
        let newHidden = TensorBuffer(count: nh) { $0.update(from: last, count: nh) }
        let output = TensorBuffer(count: no) { y in
            CombinedCell.affine(last, rows: 1, inFeatures: nh, weight: wo.storage.pointer, bias: bo.storage.pointer,
                                outFeatures: no, into: y)
            CombinedCell.logSoftmaxInPlace(y, count: no)
        }

        let inputs: [Tensor] = [hidden, wh, bh, wo, bo]
        let results = Tensor.results(
            "CombinedCellSequenceBackward", shapes: [[1, no], [1, nh]], storages: [output, newHidden], inputs: inputs,
            recording: Tensor.needsRecording(inputs)
        ) { gradOutputs, gradInputs in
            withExtendedLifetime((states, output, wh.storage, wo.storage)) {
                let threads = FusedRecurrence.singleThreadedSteps(multiplyAdds: nh * nk)
                defer { FusedRecurrence.restoreThreads(threads) }
                CombinedCell.sequenceBackward(
                    gradOutput: gradOutputs[0], gradHidden: gradOutputs[1], gradInputs: gradInputs,
                    indices: indices, states: states.pointer, initialIsZero: initialIsZero,
                    logProbabilities: output.pointer, wh: wh.storage.pointer, wo: wo.storage.pointer,
                    ni: ni, nh: nh, no: no)
            }
        }
        return (results[0], results[1])
    }

    /// The backward of ``callAsFunction(oneHot:_:)``. `gradInputs` follows the node's
    /// inputs: hidden, `i2h.weight`, `i2h.bias`, `i2o.weight`, `i2o.bias`.
    private static func sequenceBackward(
        gradOutput: UnsafePointer<Float>?, gradHidden: UnsafePointer<Float>?, gradInputs: [UnsafeMutablePointer<Float>?],
        indices: [Int], states: UnsafePointer<Float>, initialIsZero: Bool, logProbabilities: UnsafePointer<Float>,
        wh: UnsafePointer<Float>, wo: UnsafePointer<Float>, ni: Int, nh: Int, no: Int
    ) {
        let steps = indices.count, nk = ni + nh
        // dh row t − 1 is the gradient of h_t (t = 1…T).
        let dh = UnsafeMutablePointer<Float>.allocate(capacity: steps * nh)
        defer { dh.deallocate() }
        let dLast = dh + (steps - 1) * nh
        if let gradHidden { dLast.update(from: gradHidden, count: nh) } else { dLast.update(repeating: 0, count: nh) }
        if let gradOutput {
            // dz = g − softmax · Σg (log-softmax backward); dh_T += W_oᵀ · dz.
            var sum: Float = 0
            for k in 0..<no { sum += gradOutput[k] }
            let hLast = states + steps * nh
            for k in 0..<no {
                let dz = gradOutput[k] - Foundation.exp(logProbabilities[k]) * sum
                if dz == 0 { continue }
                let row = wo + k * nh
                for j in 0..<nh { dLast[j] += dz * row[j] }
                if let gwo = gradInputs[3] {
                    let gRow = gwo + k * nh
                    for j in 0..<nh { gRow[j] += dz * hLast[j] }
                }
                if let gbo = gradInputs[4] { gbo[k] += dz }
            }
        }
        // dh_{t−1} = W_hᵀ · dh_t (the cell is linear in h).
        let recurrent = MatrixView(wh + ni, rows: nh, columns: nh, leadingDimension: Swift.max(nk, 1))
        for t in stride(from: steps - 1, to: 0, by: -1) {
            BLAS.gemv(recurrent, .transpose, UnsafePointer(dh + t * nh), into: dh + (t - 1) * nh, beta: 0)
        }
        if let gh0 = gradInputs[0] { BLAS.gemv(recurrent, .transpose, UnsafePointer(dh), into: gh0, beta: 1) }
        if let gwh = gradInputs[1] {
            // dW_h += Σ_t dh_t · h_{t−1}ᵀ as one product over the steps (a zero h_0 adds nothing).
            let first = initialIsZero ? 1 : 0
            if steps > first {
                BLAS.gemm(MatrixView(UnsafePointer(dh + first * nh), rows: steps - first, columns: nh, leadingDimension: nh),
                          .transpose,
                          MatrixView(states + first * nh, rows: steps - first, columns: nh, leadingDimension: nh),
                          .noTranspose,
                          into: MutableMatrixView(gwh + ni, rows: nh, columns: nh, leadingDimension: nk), beta: 1)
            }
            // dW_x[:, i_t] += dh_{t+1}: the one-hot input selects a column.
            for (t, index) in indices.enumerated() {
                let column = gwh + index, d = dh + t * nh
                for j in 0..<nh { column[j * nk] += d[j] }
            }
        }
        if let gbh = gradInputs[2] {
            for t in 0..<steps {
                let d = dh + t * nh
                for j in 0..<nh { gbh[j] += d[j] }
            }
        }
    }

    /// The same step composed from library operations (`cat`, two `Linear`s, `logSoftmax`):
    /// four recorded nodes. The reference for the fused step, used when a layer has no bias.
    func composedStep(_ input: Tensor, _ hidden: Tensor) throws -> (output: Tensor, hidden: Tensor) {
        try checkShapes(input, hidden)
        let combined = try Tensor.cat([input, hidden], dim: 1)
        let newHidden = try i2h(combined)
        let output = try i2o(newHidden).logSoftmax(dim: 1)
        return (output, newHidden)
    }

    private func checkShapes(_ input: Tensor, _ hidden: Tensor) throws {
        guard input.rank == 2, input.shape[1] == inputSize else {
            throw TensorError.shapeMismatch("CombinedCell: expected an input of shape (batch, \(inputSize)), got \(input.shape)")
        }
        guard hidden.shape == [input.shape[0], hiddenSize] else {
            throw TensorError.shapeMismatch("CombinedCell: expected a hidden state of shape [\(input.shape[0]), \(hiddenSize)] for an input of shape \(input.shape), got \(hidden.shape)")
        }
    }

    /// `y = x · Wᵀ + bias` for `rows` rows (`sgemv` for one row, as ``Linear`` does).
    private static func affine(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>, outFeatures: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        let w = MatrixView(weight, rows: outFeatures, columns: inFeatures, leadingDimension: Swift.max(inFeatures, 1))
        if rows == 1 {
            BLAS.gemv(w, .noTranspose, x, into: y, beta: 1)
        } else {
            BLAS.gemm(MatrixView(x, rows: rows, columns: inFeatures, leadingDimension: Swift.max(inFeatures, 1)), .noTranspose,
                      w, .transpose,
                      into: MutableMatrixView(y, rows: rows, columns: outFeatures, leadingDimension: Swift.max(outFeatures, 1)),
                      beta: 1)
        }
    }

    /// `v = (v − max) − log Σ exp(v − max)` over `count` elements, as PyTorch's log-softmax.
    private static func logSoftmaxInPlace(_ v: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for k in 0..<count { maximum = Swift.max(maximum, v[k]) }
        if !maximum.isFinite { maximum = 0 }
        var total: Float = 0
        for k in 0..<count { total += Foundation.exp(v[k] - maximum) }
        let logTotal = Foundation.log(total)
        for k in 0..<count { v[k] = (v[k] - maximum) - logTotal }
    }

    /// The backward of one step. `gradInputs` follows the node's inputs: input, hidden,
    /// `i2h.weight`, `i2h.bias`, `i2o.weight`, `i2o.bias`.
    private static func backward(
        gradOutput: UnsafePointer<Float>?, gradHidden: UnsafePointer<Float>?, gradInputs: [UnsafeMutablePointer<Float>?],
        combined: UnsafePointer<Float>, newHidden: UnsafePointer<Float>, logProbabilities: UnsafePointer<Float>,
        wh: UnsafePointer<Float>, wo: UnsafePointer<Float>, b: Int, ni: Int, nh: Int, no: Int
    ) {
        let nk = ni + nh
        // dh' (b × nh) = gradHidden + dz · W_o, where dz = g − softmax · Σg (log-softmax backward).
        let dh = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(b * nh, 1))
        defer { dh.deallocate() }
        if let gradHidden { dh.update(from: gradHidden, count: b * nh) } else { dh.update(repeating: 0, count: b * nh) }
        if let gradOutput {
            let dz = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(b * no, 1))
            defer { dz.deallocate() }
            for r in 0..<b {
                let g = gradOutput + r * no, y = logProbabilities + r * no, d = dz + r * no
                var total: Float = 0
                for k in 0..<no { total += g[k] }
                for k in 0..<no { d[k] = g[k] - Foundation.exp(y[k]) * total }
            }
            let woView = MatrixView(wo, rows: no, columns: nh, leadingDimension: Swift.max(nh, 1))
            if let gwo = gradInputs[4] {   // dW_o += dzᵀ · h'
                accumulateOuter(dz, rows: b, left: no, newHidden, right: nh, into: gwo)
            }
            if let gbo = gradInputs[5] { accumulateColumnSums(dz, rows: b, columns: no, into: gbo) }
            if b == 1 {
                BLAS.gemv(woView, .transpose, dz, into: dh, beta: 1)
            } else {
                BLAS.gemm(MatrixView(dz, rows: b, columns: no, leadingDimension: Swift.max(no, 1)), .noTranspose,
                          woView, .noTranspose,
                          into: MutableMatrixView(dh, rows: b, columns: nh, leadingDimension: Swift.max(nh, 1)), beta: 1)
            }
        }
        if let gwh = gradInputs[2] {   // dW_h += dh'ᵀ · [x, h]
            accumulateOuter(dh, rows: b, left: nh, combined, right: nk, into: gwh)
        }
        if let gbh = gradInputs[3] { accumulateColumnSums(dh, rows: b, columns: nh, into: gbh) }
        // d[x, h] = dh' · W_h, split into the input's and the hidden state's gradients.
        for (index, offset, width) in [(0, 0, ni), (1, ni, nh)] {
            guard let gx = gradInputs[index], width > 0 else { continue }
            let block = MatrixView(wh + offset, rows: nh, columns: width, leadingDimension: Swift.max(nk, 1))
            if b == 1 {
                BLAS.gemv(block, .transpose, dh, into: gx, beta: 1)
            } else {
                BLAS.gemm(MatrixView(dh, rows: b, columns: nh, leadingDimension: Swift.max(nh, 1)), .noTranspose,
                          block, .noTranspose,
                          into: MutableMatrixView(gx, rows: b, columns: width, leadingDimension: width), beta: 1)
            }
        }
    }

    /// `G += Lᵀ · R` for `L` `(rows × left)` and `R` `(rows × right)`: `G` is `(left × right)`.
    private static func accumulateOuter(_ l: UnsafePointer<Float>, rows: Int, left: Int, _ r: UnsafePointer<Float>,
                                        right: Int, into g: UnsafeMutablePointer<Float>) {
        let gv = MutableMatrixView(g, rows: left, columns: right, leadingDimension: Swift.max(right, 1))
        if rows == 1 {
            BLAS.ger(l, r, into: gv)
        } else {
            BLAS.gemm(MatrixView(l, rows: rows, columns: left, leadingDimension: Swift.max(left, 1)), .transpose,
                      MatrixView(r, rows: rows, columns: right, leadingDimension: Swift.max(right, 1)), .noTranspose,
                      into: gv, beta: 1)
        }
    }

    /// `g += Σ_rows m` for `m` `(rows × columns)`.
    private static func accumulateColumnSums(_ m: UnsafePointer<Float>, rows: Int, columns: Int,
                                             into g: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = m + r * columns
            for j in 0..<columns { g[j] += row[j] }
        }
    }

    /// The initial hidden state: zeros of shape `(batchSize, hiddenSize)`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `batchSize`, or one
    ///   whose state does not fit in memory.
    public func initHidden(batchSize: Int = 1) throws -> Tensor {
        guard batchSize >= 0 else {
            throw TensorError.invalidArgument("CombinedCell.initHidden: expected batchSize >= 0, got \(batchSize)")
        }
        try MemoryLimit.check(floats: [[batchSize, hiddenSize]], for: "CombinedCell.initHidden(batchSize: \(batchSize))")
        return Tensor(zeros: [batchSize, hiddenSize])
    }
}
