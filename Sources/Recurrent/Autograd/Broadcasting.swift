/// NumPy/PyTorch broadcasting: shapes are aligned from the right, and a dimension of 1
/// (or a missing one) stretches to the other's size.
@usableFromInline
enum Broadcast {
    /// The broadcast shape of `a` and `b`, or `nil` when they are incompatible.
    @usableFromInline
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { result[i] = da } else if da == 1 { result[i] = db } else { return nil }
        }
        return result
    }

    /// The strides with which an input of shape `shape` is read for an output of shape
    /// `outShape` (0 along broadcast dimensions).
    @usableFromInline
    static func strides(of shape: [Int], in outShape: [Int]) -> [Int] {
        let rank = outShape.count
        var strides = [Int](repeating: 0, count: rank)
        var step = 1
        for i in Swift.stride(from: shape.count - 1, through: 0, by: -1) {
            let o = i + rank - shape.count
            strides[o] = shape[i] == 1 ? 0 : step
            step *= shape[i]
        }
        return strides
    }

    /// Calls `body(outIndex, aIndex, bIndex)` for every element of `outShape`, with the
    /// positions of the corresponding elements of two broadcast inputs.
    @inlinable
    static func forEach(_ outShape: [Int], _ stridesA: [Int], _ stridesB: [Int],
                        _ body: (Int, Int, Int) -> Void) {
        let rank = outShape.count
        let total = outShape.reduce(1, *)
        if total == 0 { return }
        if rank == 0 { body(0, 0, 0); return }
        var index = [Int](repeating: 0, count: rank)
        var ia = 0, ib = 0
        let last = rank - 1
        let n = outShape[last], sa = stridesA[last], sb = stridesB[last]
        var out = 0
        while out < total {
            for j in 0..<n { body(out + j, ia + j * sa, ib + j * sb) }
            out += n
            // Advance the multi-index over the leading dimensions.
            var d = last - 1
            while d >= 0 {
                index[d] += 1
                ia += stridesA[d]
                ib += stridesB[d]
                if index[d] < outShape[d] { break }
                ia -= stridesA[d] * outShape[d]
                ib -= stridesB[d] * outShape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}
