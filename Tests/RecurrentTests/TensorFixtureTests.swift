import Foundation
import XCTest
@testable import Recurrent

/// The tensor operations of issue 16 against PyTorch (`Fixtures/tensor_ops.json`, written by
/// `Scripts/generate_fixtures.py`): for every entry, the same call on the stored inputs must
/// give the stored outputs and, for the loss `Σ (output ⊙ seed)`, the stored gradients.
final class TensorFixtureTests: XCTestCase {
    typealias Op = @Sendable ([String: Tensor]) throws -> [Tensor]

    /// Each fixture entry's Swift call, under the entry's name.
    static let operations: [String: Op] = [
        "abs": { [$0["x"]!.abs()] },
        "sqrt": { [$0["x"]!.sqrt()] },
        "exp": { [$0["x"]!.exp()] },
        "log": { [$0["x"]!.log()] },
        "pow_2.5": { [$0["x"]!.pow(2.5)] },
        "pow_3": { [$0["x"]!.pow(3)] },
        "pow_-1.5": { [$0["x"]!.pow(-1.5)] },
        "pow_2": { [$0["x"]!.pow(2)] },
        "pow_4": { [$0["x"]!.pow(4)] },
        "sin": { [$0["x"]!.sin()] },
        "cos": { [$0["x"]!.cos()] },
        "sin_large": { [$0["x"]!.sin()] },
        "cos_large": { [$0["x"]!.cos()] },
        "clamp": { [try $0["x"]!.clamp(min: -0.5, max: 0.7)] },
        "clamp_min": { [try $0["x"]!.clamp(min: 0.2)] },
        "clamp_max": { [try $0["x"]!.clamp(max: -0.1)] },
        "sign": { [$0["x"]!.sign()] },
        "maximum": { [try $0["a"]!.maximum($0["b"]!)] },
        "minimum": { [try $0["a"]!.minimum($0["b"]!)] },
        "maximum_ties": { [try $0["a"]!.maximum($0["b"]!)] },
        "minimum_ties": { [try $0["a"]!.minimum($0["b"]!)] },
        "comparisons": { t in
            let a = t["a"]!, b = t["b"]!
            return [try a.eq(b), try a.ne(b), try a.lt(b), try a.le(b), try a.gt(b), try a.ge(b)]
        },
        "where": { t in [try Tensor.where(t["mask_c"]!, t["a"]!, t["b"]!)] },
        "masked_fill": { t in [try t["x"]!.maskedFill(t["mask_m"]!, value: -1.5)] },
        "sum_dim1_keep": { [try $0["x"]!.sum(dim: 1, keepDim: true)] },
        "sum_dims_0_2": { [try $0["x"]!.sum(dims: [0, 2])] },
        "mean_dims_1_2_keep": { [try $0["x"]!.mean(dims: [1, 2], keepDim: true)] },
        "max_dim1": { let r = try $0["x"]!.max(dim: 1); return [r.values, r.indices] },
        "min_dim0_keep": { let r = try $0["x"]!.min(dim: 0, keepDim: true); return [r.values, r.indices] },
        "max_dim_ties": { let r = try $0["x"]!.max(dim: 1); return [r.values, r.indices] },
        "max_all_ties": { [try $0["x"]!.max()] },
        "min_all": { [try $0["x"]!.min()] },
        "logsumexp_dim1": { [try $0["x"]!.logsumexp(dim: 1)] },
        "logsumexp_dim-1_keep": { [try $0["x"]!.logsumexp(dim: -1, keepDim: true)] },
        "var_dim1": { [try $0["x"]!.var(dim: 1)] },
        "var_dim2_correction0_keep": { [try $0["x"]!.var(dim: 2, correction: 0, keepDim: true)] },
        "std_dim0": { [try $0["x"]!.std(dim: 0)] },
        "std_all": { [try $0["x"]!.std()] },
        "var_all": { [try $0["x"]!.var()] },
        "permute_2_0_1": { [try $0["x"]!.permute(2, 0, 1)] },
        "transpose_0_2": { [try $0["x"]!.transpose(0, 2)] },
        "expand": { [try $0["x"]!.expand(2, 3, 5, 4)] },
        "squeeze_unsqueeze_flatten": { [try $0["x"]!.squeeze().unsqueeze(dim: 0).flatten(startDim: 1)] },
        "clone": { [$0["x"]!.clone() * $0["x"]!] },
        "index_select_dim1": { [try $0["x"]!.indexSelect(dim: 1, indices: [2, 0, 2])] },
        "gather_dim1": { t in
            [try t["x"]!.gather(dim: 1, index: Tensor([[[2, 0, 1, 1]], [[0, 0, 2, 1]]]))]
        },
        "gather_dim2": { t in
            [try t["x"]!.gather(dim: 2, index: Tensor([[[3, 3], [0, 1]], [[1, 2], [2, 0]]]))]
        },
        "arange": { _ in [try Tensor.arange(-1, 2, step: 0.3)] },
        "arange_down": { _ in [try Tensor.arange(5, 0, step: -0.7)] },
        "linspace": { _ in [try Tensor.linspace(-1, 2, steps: 7)] },
        "linspace_odd": { _ in [try Tensor.linspace(0.1, 0.9, steps: 10)] },
        "linspace_one": { _ in [try Tensor.linspace(0.1, 0.9, steps: 1)] },
        "eye": { _ in [try Tensor.eye(3, 4)] },
        "layer_norm": { t in
            [try Tensor.layerNorm(t["x"]!, normalizedShape: [3, 4], weight: t["w"]!, bias: t["b"]!)]
        },
        "layer_norm_no_affine": { [try Tensor.layerNorm($0["x"]!, normalizedShape: [6], eps: 1e-3)] },
        "layer_norm_weight_only": { [try Tensor.layerNorm($0["x"]!, normalizedShape: [6], weight: $0["w"]!)] },
    ]

    /// Tolerances for operations whose float32 results may differ from PyTorch's in the last
    /// bits (transcendental kernels, sums in another order).
    static let tolerance: [String: Float] = ["sin_large": 2e-5, "cos_large": 2e-5, "layer_norm_weight_only": 1e-4]

    func testEveryOperationMatchesPyTorch() throws {
        let fixture = try Fixture("tensor_ops")
        let ops = fixture.object("ops")
        XCTAssertEqual(Set(ops.keys), Set(Self.operations.keys), "fixture entries and Swift calls differ")
        for name in ops.keys.sorted() {
            guard let call = Self.operations[name], let entry = ops[name] as? [String: Any] else { continue }
            let inputs = (entry["inputs"] as? [String: Any] ?? [:]).compactMapValues {
                ($0 as? [String: Any]).flatMap(Fixture.tensor(from:))
            }
            for (key, t) in inputs where !key.hasPrefix("mask") { t.requiresGrad = true }
            let outputs = try call(inputs)
            let expected = (entry["outputs"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).flatMap(Fixture.tensor(from:)) }
            XCTAssertEqual(outputs.count, expected.count, name)
            let tol = Self.tolerance[name] ?? 1e-5
            for (k, (out, want)) in zip(outputs, expected).enumerated() {
                XCTAssertEqual(out.shape, want.shape, "\(name) output \(k)")
                assertClose(out.scalars, want.scalars, rtol: tol, atol: tol, "\(name) output \(k)")
            }
            let seeds = (entry["seeds"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).flatMap(Fixture.tensor(from:)) }
            guard !seeds.isEmpty else { continue }
            let differentiable = outputs.filter(\.requiresGrad)
            XCTAssertEqual(differentiable.count, seeds.count, "\(name): differentiable outputs")
            var loss: Tensor?
            for (out, seed) in zip(differentiable, seeds) {
                let term = (out * seed).sum()
                loss = loss.map { $0 + term } ?? term
            }
            loss?.backward()
            let grads = (entry["grads"] as? [String: Any] ?? [:]).compactMapValues {
                ($0 as? [String: Any]).flatMap(Fixture.tensor(from:))
            }
            for (key, want) in grads {
                let got = inputs[key]?.grad?.scalars ?? [Float](repeating: 0, count: want.count)
                assertClose(got, want.scalars, rtol: tol, atol: tol, "\(name) gradient of \(key)")
            }
        }
    }
}
