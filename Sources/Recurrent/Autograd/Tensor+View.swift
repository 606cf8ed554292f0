/// PyTorch's view and copy operations under their PyTorch names: `view`/`reshape`, `squeeze`,
/// `unsqueeze`, `flatten`, `permute`, `transpose`, `expand` and `clone`.
///
/// Every tensor of this library is contiguous, so `view`, `reshape`, `squeeze`, `unsqueeze` and
/// `flatten` share storage with `self` (writing into one shows in the other, as with PyTorch's
/// views), while `permute`, `transpose` and `expand` make contiguous copies (PyTorch returns
/// strided views; the values and gradients are the same).
extension Tensor {
    /// The same elements with the shape `shape` (`torch.Tensor.view`); one size may be `-1`,
    /// inferred from the others. Shares storage with `self`.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the element counts differ,
    ///   ``TensorError/invalidArgument(_:)`` for more than one `-1` or another negative size.
    public func view(_ shape: Int...) throws -> Tensor { try reshaped(shape) }

    /// The same elements with the shape `shape` (`torch.Tensor.view`); see ``view(_:)-(Int...)``.
    /// - Throws: like ``view(_:)-(Int...)``.
    public func view(_ shape: [Int]) throws -> Tensor { try reshaped(shape) }

    /// The same elements with the shape `shape` (`torch.reshape`); one size may be `-1`.
    /// Shares storage with `self` (every tensor here is contiguous, so a reshape is a view).
    /// - Throws: like ``view(_:)-(Int...)``.
    public func reshape(_ shape: Int...) throws -> Tensor { try reshaped(shape) }

    /// The tensor without its dimensions of size 1 (`torch.squeeze`); a scalar stays a scalar.
    /// Shares storage with `self`.
    public func squeeze() -> Tensor {
        let target = shape.filter { $0 != 1 }
        return target == shape ? self : alias(shape: target)
    }

    /// The tensor without dimension `dim` if its size is 1, otherwise unchanged
    /// (`torch.squeeze(x, dim)`); `dim` may be negative. Shares storage with `self`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dim` is outside `-rank..<rank`
    ///   (`-1...0` for a scalar).
    public func squeeze(dim: Int) throws -> Tensor {
        if rank == 0 {
            guard dim == 0 || dim == -1 else {
                throw TensorError.invalidArgument("squeeze: dimension \(dim) is outside -1...0 for a scalar tensor")
            }
            return self
        }
        let d = try normalized(dim: dim, "squeeze")
        guard shape[d] == 1 else { return self }
        var target = shape
        target.remove(at: d)
        return alias(shape: target)
    }

    /// The tensor with a new dimension of size 1 inserted at `dim` (`torch.unsqueeze`); `dim`
    /// is in `-(rank+1)...rank`, negative values counting from the end of the result. Shares
    /// storage with `self`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func unsqueeze(dim: Int) throws -> Tensor {
        let d = try normalized(dim: dim, "unsqueeze", rank: rank + 1)
        var target = shape
        target.insert(1, at: d)
        return alias(shape: target)
    }

    /// The dimensions `startDim...endDim` merged into one (`torch.flatten`; by default all of
    /// them, giving a 1-D tensor). A scalar becomes a one-element 1-D tensor. Shares storage
    /// with `self`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a dimension is out of range or
    ///   `startDim` comes after `endDim`.
    public func flatten(startDim: Int = 0, endDim: Int = -1) throws -> Tensor {
        if rank == 0 {
            for dim in [startDim, endDim] where !(dim == 0 || dim == -1) {
                throw TensorError.invalidArgument("flatten: dimension \(dim) is outside -1...0 for a scalar tensor")
            }
            return alias(shape: [1])
        }
        let s = try normalized(dim: startDim, "flatten"), e = try normalized(dim: endDim, "flatten")
        guard s <= e else {
            throw TensorError.invalidArgument("flatten: startDim \(startDim) comes after endDim \(endDim) for shape \(shape)")
        }
        let target = Array(shape[..<s]) + [shape[s...e].reduce(1, *)] + Array(shape[(e + 1)...])
        return target == shape ? self : alias(shape: target)
    }

    /// The dimensions reordered (`torch.permute(x, dims)`): dimension `i` of the result is
    /// dimension `dims[i]` of `self`. A contiguous copy; see ``permuted(_:)``.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dims` is not a permutation.
    public func permute(_ dims: Int...) throws -> Tensor { try permuted(dims) }

    /// The tensor with dimensions `dim0` and `dim1` swapped (`torch.transpose(x, dim0, dim1)`).
    /// A contiguous copy; see ``transposed(_:_:)``.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func transpose(_ dim0: Int, _ dim1: Int) throws -> Tensor { try transposed(dim0, dim1) }

    /// The tensor repeated along its dimensions of size 1 (and new leading dimensions) to
    /// `shape` (`torch.Tensor.expand`); `-1` keeps a dimension's size. A contiguous copy (PyTorch
    /// returns a view with stride 0); the backward sums the gradient over the repeats. `self`
    /// itself when `shape` is its shape.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `shape` has fewer dimensions than
    ///   `self` or a dimension is neither equal nor 1; ``TensorError/invalidArgument(_:)`` for
    ///   `-1` in a new leading dimension or a size below `-1`.
    public func expand(_ shape: [Int]) throws -> Tensor {
        guard shape.count >= rank else {
            throw TensorError.shapeMismatch("expand: expected at least \(rank) sizes for shape \(self.shape), got \(shape)")
        }
        let lead = shape.count - rank
        var target = shape
        for (i, size) in shape.enumerated() {
            guard size >= -1 else {
                throw TensorError.invalidArgument("expand: expected sizes of at least -1, got \(shape)")
            }
            if i < lead {
                guard size != -1 else {
                    throw TensorError.invalidArgument("expand: -1 is not allowed in the new leading dimension \(i) of \(shape)")
                }
                continue
            }
            let own = self.shape[i - lead]
            if size == -1 { target[i] = own; continue }
            guard own == size || own == 1 else {
                throw TensorError.shapeMismatch("expand: dimension \(i - lead) of size \(own) in \(self.shape) cannot expand to \(size) (target \(shape))")
            }
        }
        if target == self.shape { return self }
        let gather = Broadcast.strides(of: self.shape, in: target)
        let zeros = [Int](repeating: 0, count: target.count)
        let x = storage.pointer
        let storage = TensorBuffer(count: target.reduce(1, *)) { y in
            Broadcast.forEach(target, gather, zeros) { o, i, _ in y[o] = x[i] }
        }
        return Tensor.result("ExpandBackward", shape: target, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            Broadcast.forEach(target, gather, zeros) { o, i, _ in gx[i] += g[o] }
        }
    }

    /// The tensor expanded to `shape`; see ``expand(_:)-([Int])``.
    /// - Throws: like ``expand(_:)-([Int])``.
    public func expand(_ shape: Int...) throws -> Tensor { try expand(shape) }

    /// The tensor expanded to `other`'s shape (`torch.Tensor.expand_as`).
    /// - Throws: like ``expand(_:)-([Int])``.
    public func expand(as other: Tensor) throws -> Tensor { try expand(other.shape) }

    /// A copy of the tensor with its own storage that stays in the graph (`torch.clone`):
    /// gradients flow back to `self`, unlike ``detached()``.
    public func clone() -> Tensor {
        let n = count
        let storage = TensorBuffer(copying: self.storage.buffer)
        return Tensor.result("CloneBackward", shape: shape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            if let gx = grads[0] { for i in 0..<n { gx[i] += g[i] } }
        }
    }

    /// A tensor of shape `shape` (same element count) sharing storage with `self`, recorded
    /// as a reshape.
    func alias(shape target: [Int]) -> Tensor {
        let output = Tensor(shape: target, storage: storage)
        if Tensor.needsRecording(self) {
            let n = count
            output.gradFn = Node(name: "ViewBackward", inputs: [self], outputCount: n, savedOutput: nil) { g, grads in
                if let gx = grads[0] { for i in 0..<n { gx[i] += g[i] } }
            }
            output.requiresGrad = true
        }
        return output
    }
}
