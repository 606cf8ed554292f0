import LinearAlgebra

/// Inference split by batch items: each worker runs every layer over its own items.
///
/// The items of a batch are independent sequences: item `b`'s state at step `t` depends on
/// its own input and state only, never on another item's. So where nothing is recorded for
/// gradients (``withoutGradients(_:)``, or no tensor that requires them), the workers need
/// not meet at all: worker `w` runs the whole stack — every layer, both directions — over
/// items `parts[w]`, as a team of one, with the very code of one thread, and the results are
/// put together at the end. No barrier per step, no hand-off per chunk (the column split
/// waits at one every step; the wavefront at every chunk of the layer below).
///
/// Bits: the packed kernel's arithmetic for a row depends only on the height of the row
/// tile it falls in (``PackedGEMM/rowChains(rows:row:)``), so a part's products give each of
/// its rows the bits of the whole batch's products exactly when every row keeps its number
/// of chains, in each step's product (`B` rows) and in the input projections (`T·B` rows in
/// the layout's order). ``parts(layout:stepMultiplyAdds:)`` checks both and declines a split
/// that would not keep them; so the outputs and final states are those of one thread, bit for
/// bit (`ThreadCountTests`).
///
/// Not split: anything that records for the backward (whose weight gradients sum over the
/// items: splitting them would reorder the sums), draws random numbers (dropout between
/// layers, the regularisers, weight drop: the draws follow the item order), runs projections,
/// or runs without the packed kernels (OpenBLAS's kernels give no such guarantee per row);
/// batches of fewer than ``minimumRowsPerWorker`` items per worker, which stream the weights
/// rather than compute and split by columns better. The variant cells (``FusedVariantRecurrence``:
/// peepholes, the reset gate before the product, zoneout's expectation) split here too.
///
/// Within one layer, training included: a fused layer's steps (``FusedRecurrence``'s and
/// ``FusedVariantRecurrence``'s, forward and backward) split by items after the input
/// projection, which stays split by columns (``splitsLayerSteps(batch:workers:gateColumns:depth:)``,
/// ``items(of:batch:split:)``); the sums over items (the weight and bias gradients, the
/// peepholes') are taken outside the steps in one order.
enum BatchSplitRecurrence {
    /// Fewer items than this per worker stream `W_hh` more than they compute (the packed
    /// kernel's tiles are compute-bound from 5 rows): those batches split each step by
    /// columns instead, each worker then reading only its part of the weights.
    static let minimumRowsPerWorker = 5

    /// Above this many multiply-adds of a worker's share of a step, the batch is not split
    /// (see ``parts(layout:stepMultiplyAdds:weightBytes:)``).
    static let maximumStepMultiplyAddsPerWorker = 1 << 22

    /// `W_hh` of a layer up to this size stays in a core's L2 (1 MB on the machines measured,
    /// with room for the states), where a part of `minimumRowsPerWorker` items is compute-bound.
    static let l2WeightBytes = 768 * 1024

    /// With `W_hh` larger than ``l2WeightBytes``, each part needs this many items: every
    /// worker streams the whole weight from L3 each step, where the column split streams
    /// its share only (`deepbench`, 1760 × 1760 and 16 items, stays split by columns).
    static let minimumRowsFromL3 = 16

    /// The internal override of the policy, for measurement (A/B on a quiet machine) and
    /// tests: `RECURRENT_BATCH_SPLIT=0` never splits the batch, `=1` splits it wherever it is
    /// supported and keeps the bits (even below the policy's sizes); unset, the policy decides.
    static var override: Bool? {
        get { overrideSetting.value }
        set { overrideSetting.value = newValue }
    }

    private static let overrideSetting = PolicyOverride(environment: "RECURRENT_BATCH_SPLIT")

    /// The items of each worker (contiguous, in order), or `nil` to run the batch as one.
    /// `stepMultiplyAdds` is the multiply-adds of one step's recurrent product for the whole
    /// batch (`B · G·H · H_out` for the widest layer); the caller has already checked that
    /// nothing records, draws random numbers, or runs a path this split does not support.
    static func parts(layout: SequenceLayout, stepMultiplyAdds: Int, weightBytes: Int = 0) -> [Range<Int>]? {
        let mode = override
        let threads = ComputeThreads.count
        guard mode != false, threads >= 2, PackedGEMM.isAvailable, !AnomalyMode.isEnabled else { return nil }
        let B = layout.batch
        var workers = Swift.min(threads, B)
        if mode == nil {
            // As the column split: each worker at least minimumStepMultiplyAddsPerWorker a step.
            workers = Swift.min(threads, B / minimumRowsPerWorker, stepMultiplyAdds / FusedRecurrence.minimumStepMultiplyAddsPerWorker)
            // Large steps lose little to the column split's barrier (a few µs against tens),
            // less than copying the parts' inputs and outputs costs (`large`, 8 million a
            // worker's step: 12.0 ms split by items against 10.7 ms by columns).
            if stepMultiplyAdds / Swift.max(workers, 1) > maximumStepMultiplyAddsPerWorker { return nil }
            // Every worker reads all of W_hh each step: a weight past L2 must be worth it
            // (a part of `minimumRowsFromL3` items or more does about one multiply-add per
            // byte read from L3 for every four of the kernel's).
            if weightBytes > l2WeightBytes && B / Swift.max(workers, 1) < minimumRowsFromL3 { return nil }
        }
        guard workers >= 2 else { return nil }
        let parts = (0..<workers).map { FusedRecurrence.chunk($0, of: workers, total: B) }
        return parts.allSatisfy({ keepsBits(layout: layout, part: $0) }) ? parts : nil
    }

    /// Whether a layer's steps run split by items (``FusedRecurrence``, forward, after the
    /// input projection split by columns) on a team of `workers`: by the sizes of the policy
    /// above, and only where each part's step product keeps every row's accumulator chains
    /// (the projection is not split by items there). `stepMultiplyAdds` is one step's product
    /// over all `batch` items; `weightBytes` the size of `W_hh`.
    static func splitsSteps(batch B: Int, workers: Int, stepMultiplyAdds: Int, weightBytes: Int) -> Bool {
        let mode = override
        guard mode != false, workers >= 2, B >= workers else { return false }
        if mode == nil {
            guard B / workers >= minimumRowsPerWorker, stepMultiplyAdds / workers <= maximumStepMultiplyAddsPerWorker,
                  weightBytes <= l2WeightBytes || B / workers >= minimumRowsFromL3 else { return false }
        }
        return (0..<workers).allSatisfy { stepKeepsBits(batch: B, part: FusedRecurrence.chunk($0, of: workers, total: B)) }
    }

    /// Whether a fused layer's steps without a projection — ``FusedRecurrence``'s and
    /// ``FusedVariantRecurrence``'s, forward and backward — run split by items on a team of
    /// `workers` (``splitsSteps(batch:workers:stepMultiplyAdds:weightBytes:)``), for a step
    /// product of `batch` rows by `W_hh`'s `gateColumns × depth`.
    static func splitsLayerSteps(batch B: Int, workers: Int, gateColumns GH: Int, depth: Int) -> Bool {
        workers >= 2 && splitsSteps(batch: B, workers: workers, stepMultiplyAdds: B * GH * depth, weightBytes: 4 * GH * depth)
    }

    /// The batch items `member` computes in each step of a layer: its contiguous chunk of the
    /// `batch` when the steps are split by items (`split`), else all of them.
    static func items(of member: TeamMember, batch B: Int, split: Bool) -> Range<Int> {
        split ? FusedRecurrence.chunk(member.index, of: member.count, total: B) : 0..<B
    }

    /// Whether every row of `part` takes, in a step product of its `part.count` rows, the
    /// number of accumulator chains it takes in the product of all `batch` rows.
    static func stepKeepsBits(batch B: Int, part: Range<Int>) -> Bool {
        let nb = part.count, tail = 12
        for r in 0..<nb where r >= nb - tail || part.lowerBound + r >= B - tail {
            if PackedGEMM.rowChains(rows: nb, row: r) != PackedGEMM.rowChains(rows: B, row: part.lowerBound + r) { return false }
        }
        return true
    }

    /// Whether every row of `part`'s products takes the number of accumulator chains it
    /// takes in the whole batch's: in each step's product and in the input projection. Rows
    /// of two chains lie only in the last two row tiles of a product (at most 12 rows), so
    /// only the rows that are among the last of either product are compared.
    static func keepsBits(layout: SequenceLayout, part: Range<Int>) -> Bool {
        let B = layout.batch, T = layout.steps, nb = part.count
        let tail = 12
        guard stepKeepsBits(batch: B, part: part) else { return false }
        // The input projection: T·B rows in the layout's order, T·nb in the part's.
        let rows = T * B, partRows = T * nb
        func fullRow(_ b: Int, _ t: Int) -> Int { layout.batchFirst ? b * T + t : t * B + b }
        func partRow(_ b: Int, _ t: Int) -> Int { layout.batchFirst ? (b - part.lowerBound) * T + t : t * nb + (b - part.lowerBound) }
        var pairs: [(b: Int, t: Int)] = []
        for row in Swift.max(0, partRows - tail)..<partRows {       // the part's last rows
            pairs.append(layout.batchFirst ? (part.lowerBound + row / T, row % T) : (part.lowerBound + row % nb, row / nb))
        }
        for row in Swift.max(0, rows - tail)..<rows {               // the whole batch's last rows
            let (b, t) = layout.batchFirst ? (row / T, row % T) : (row % B, row / B)
            if part.contains(b) { pairs.append((b, t)) }
        }
        for (b, t) in pairs
        where PackedGEMM.rowChains(rows: partRows, row: partRow(b, t)) != PackedGEMM.rowChains(rows: rows, row: fullRow(b, t)) {
            return false
        }
        return true
    }

    /// Runs `body(input, h0, c0, lengths)` — a whole stack over a batch — once per part, the
    /// parts on the workers of a team, without recording, each over its items of `input`
    /// (`(B, T, ·)` with `batchFirst`, else `(T, B, ·)`), `h0`/`c0` `(count, B, ·)` and
    /// `lengths`; returns the outputs joined along the batch again. Throws the first part's
    /// error, if any.
    static func run(parts: [Range<Int>], layout: SequenceLayout, input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?,
                    body: (Tensor, Tensor?, Tensor?, [Int]?) throws -> (output: Tensor, hN: Tensor, cN: Tensor?))
        throws -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        let batchDim = layout.batchFirst ? 0 : 1
        let slots = UnsafeMutableBufferPointer<Result<(output: Tensor, hN: Tensor, cN: Tensor?), Error>?>.allocate(capacity: parts.count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        ComputeThreads.run(workers: parts.count) { member in
            // The workers cannot read the caller's task-local grad mode: nothing records here.
            withoutGradients {
                for p in stride(from: member.index, to: parts.count, by: member.count) {
                    let part = parts[p]
                    slots[p] = Result {
                        let x = try input.narrow(dim: batchDim, start: part.lowerBound, length: part.count)
                        let h = try h0?.narrow(dim: 1, start: part.lowerBound, length: part.count)
                        let c = try c0?.narrow(dim: 1, start: part.lowerBound, length: part.count)
                        return try body(x, h, c, lengths.map { Array($0[part]) })
                    }
                }
            }
        }
        let results = try slots.map { try $0!.get() }
        let cN = results[0].cN == nil ? nil : try Tensor.cat(results.map { $0.cN! }, dim: 1)
        return (try Tensor.cat(results.map(\.output), dim: batchDim), try Tensor.cat(results.map(\.hN), dim: 1), cN)
    }
}
