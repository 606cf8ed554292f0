/// Shape operations — reshape, permute, transpose, select, narrow, cat — with their backward.
extension Tensor {
    /// `dim` made non-negative (PyTorch's negative dimensions count from the end).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dim` is outside `-rank..<rank`.
    @usableFromInline
    func normalized(dim: Int, _ op: String, rank: Int? = nil) throws -> Int {
        let r = rank ?? self.rank
        let d = dim < 0 ? dim + r : dim
        guard d >= 0 && d < r else {
            throw TensorError.invalidArgument("\(op): dimension \(dim) is outside -\(r)..<\(r) for a tensor of shape \(shape)")
        }
        return d
    }

    /// The products of the dimensions before and after `dim`.
    @usableFromInline
    func split(at dim: Int) -> (outer: Int, size: Int, inner: Int) {
        (shape[..<dim].reduce(1, *), shape[dim], shape[(dim + 1)...].reduce(1, *))
    }

    /// The same elements with another shape (one dimension may be `-1`, inferred). Shares
    /// storage with `self`, like a PyTorch view.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the element counts differ.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var target = newShape
        let inferred = target.indices.filter { target[$0] == -1 }
        guard inferred.count <= 1, target.allSatisfy({ $0 >= -1 }) else {
            throw TensorError.invalidArgument("reshape: at most one -1 and no other negative size in \(newShape)")
        }
        // Products with overflow checks: a shape from outside may hold Int.max.
        if let i = inferred.first {
            guard let known = MemoryLimit.elementCount([target.filter { $0 != -1 }]), known > 0, count % known == 0 else {
                throw TensorError.shapeMismatch("reshape: cannot infer a size to reshape \(shape) (\(count) elements) to \(newShape)")
            }
            target[i] = count / known
        }
        guard MemoryLimit.elementCount([target]) == count else {
            throw TensorError.shapeMismatch("reshape: expected a shape of \(count) elements for \(shape), got \(newShape)")
        }
        let output = Tensor(shape: target, storage: storage)
        if Tensor.needsRecording(self) {
            let n = count
            let node = Node(name: "ReshapeBackward", inputs: [self], outputCount: n, savedOutput: nil) { g, grads in
                if let gx = grads[0] { for i in 0..<n { gx[i] += g[i] } }
            }
            output.gradFn = node
            output.requiresGrad = true
        }
        return output
    }

    /// The dimensions reordered: dimension `i` of the result is dimension `dims[i]` of `self`
    /// (`torch.permute`). The result is a new contiguous tensor.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dims` is not a permutation of the
    ///   dimensions.
    public func permuted(_ dims: [Int]) throws -> Tensor {
        let order = try dims.map { try normalized(dim: $0, "permute") }
        guard order.count == rank, Set(order).count == rank else {
            throw TensorError.invalidArgument("permute: expected a permutation of \(rank) dimensions for shape \(shape), got \(dims)")
        }
        let outShape = order.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for d in Swift.stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        let gather = order.map { inStrides[$0] }
        let zeros = [Int](repeating: 0, count: rank)
        let n = count, x = storage.pointer
        let storage = TensorBuffer(count: n) { y in
            Broadcast.forEach(outShape, gather, zeros) { o, i, _ in y[o] = x[i] }
        }
        return Tensor.result("PermuteBackward", shape: outShape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            Broadcast.forEach(outShape, gather, zeros) { o, i, _ in gx[i] += g[o] }
        }
    }

    /// The tensor with dimensions `dim0` and `dim1` swapped (`torch.transpose`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func transposed(_ dim0: Int = -2, _ dim1: Int = -1) throws -> Tensor {
        let a = try normalized(dim: dim0, "transpose"), b = try normalized(dim: dim1, "transpose")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return try permuted(order)
    }

    /// The slice at `index` along `dim`, with that dimension removed (`torch.select`;
    /// `x.select(dim: 1, index: -1)` is `x[:, -1]`).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension or index out of range.
    public func select(dim: Int, index: Int) throws -> Tensor {
        let d = try normalized(dim: dim, "select")
        let i = index < 0 ? index + shape[d] : index
        guard i >= 0 && i < shape[d] else {
            throw TensorError.invalidArgument("select: index \(index) is out of range for dimension \(dim) of size \(shape[d])")
        }
        var outShape = shape
        outShape.remove(at: d)
        return try narrow(dim: d, start: i, length: 1).reshaped(outShape)
    }

    /// The `length` slices from `start` along `dim` (`torch.narrow`; `x[:, 2:5]`).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the range is outside the dimension.
    public func narrow(dim: Int, start: Int, length: Int) throws -> Tensor {
        let d = try normalized(dim: dim, "narrow")
        let s = start < 0 ? start + shape[d] : start
        // `length <= size - s`, not `s + length <= size`: the sum could overflow.
        guard s >= 0, s <= shape[d], length >= 0, length <= shape[d] - s else {
            throw TensorError.invalidArgument("narrow: start \(start) and length \(length) do not fit dimension \(dim) of size \(shape[d])")
        }
        let (outer, size, inner) = split(at: d)
        var outShape = shape
        outShape[d] = length
        let block = length * inner, x = storage.pointer
        let storage = TensorBuffer(count: outer * block) { y in
            for o in 0..<outer {
                (y + o * block).update(from: x + (o * size + s) * inner, count: block)
            }
        }
        return Tensor.result("NarrowBackward", shape: outShape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            for o in 0..<outer {
                let src = g + o * block, dst = gx + (o * size + s) * inner
                for k in 0..<block { dst[k] += src[k] }
            }
        }
    }

    /// The tensors joined along `dim` (`torch.cat`); all other dimensions must agree.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for an empty list or a bad dimension,
    ///   ``TensorError/shapeMismatch(_:)`` when the other dimensions differ.
    public static func cat(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        guard let first = tensors.first else { throw TensorError.invalidArgument("cat: expected at least one tensor") }
        let d = try first.normalized(dim: dim, "cat")
        for t in tensors {
            var a = t.shape, b = first.shape
            guard a.count == b.count else {
                throw TensorError.shapeMismatch("cat: expected tensors of rank \(b.count) like \(b), got \(a)")
            }
            a[d] = 0; b[d] = 0
            guard a == b else {
                throw TensorError.shapeMismatch("cat: expected shapes matching \(first.shape) except in dimension \(d), got \(t.shape)")
            }
        }
        let (outer, _, inner) = first.split(at: d)
        let sizes = tensors.map { $0.shape[d] }
        let total = sizes.reduce(0, +)
        var outShape = first.shape
        outShape[d] = total
        let rowLength = total * inner
        let sources = tensors.map { $0.storage }
        // Every element is copied from a source: no zero-fill first (a bidirectional layer's
        // outputs, 1.6 MB for `lstm-bidir`, were zeroed and then overwritten).
        let storage = TensorBuffer(uninitializedCount: outer * rowLength)
        var offset = 0
        for (k, src) in sources.enumerated() {
            let block = sizes[k] * inner
            for o in 0..<outer {
                (storage.pointer + o * rowLength + offset).update(from: src.pointer + o * block, count: block)
            }
            offset += block
        }
        return result("CatBackward", shape: outShape, storage: storage, inputs: tensors,
                      recording: needsRecording(tensors)) { g, grads in
            var offset = 0
            for (k, gx) in grads.enumerated() {
                let block = sizes[k] * inner
                if let gx {
                    for o in 0..<outer {
                        let src = g + o * rowLength + offset, dst = gx + o * block
                        Elementwise.add(UnsafePointer(dst), src, into: dst, count: block)
                    }
                }
                offset += block
            }
        }
    }

    /// The tensors stacked along a new dimension `dim` (`torch.stack`).
    /// - Throws: like ``cat(_:dim:)``, when the shapes differ.
    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        guard let first = tensors.first else { throw TensorError.invalidArgument("stack: expected at least one tensor") }
        let d = try first.normalized(dim: dim, "stack", rank: first.rank + 1)
        let expanded = try tensors.map { t -> Tensor in
            guard t.shape == first.shape else {
                throw TensorError.shapeMismatch("stack: expected every tensor of shape \(first.shape), got \(t.shape)")
            }
            var s = t.shape
            s.insert(1, at: d)
            return try t.reshaped(s)
        }
        return try cat(expanded, dim: d)
    }
}
