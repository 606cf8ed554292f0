import Foundation

/// `print(tensor)` as PyTorch prints it (`torch._tensor_str` with the default print options:
/// 4 decimals, 80 columns, 3 edge items, a summary above 1000 elements):
///
/// ```
/// tensor([[ 0.1000, -2.0000],
///         [ 3.5000,  4.0000]], requires_grad=True)
/// ```
///
/// Every value of a small tensor is shown, in one common format chosen from all of them:
/// integers as `1.`, fixed point with 4 decimals, or scientific notation when the magnitudes
/// span more than 1000 or leave `1e-4...1e8`. A tensor of more than 1000 elements shows the
/// first and last 3 entries of each dimension around `...`. The suffix names the operation
/// that made the tensor (`grad_fn=<AddBackward>`) or says that it requires gradients.
extension Tensor {
    /// PyTorch's default print options.
    private static let precision = 4, lineWidth = 80, edgeItems = 3, threshold = 1000

    /// The description in PyTorch's format.
    var pytorchDescription: String {
        let prefix = "tensor("
        let indent = prefix.count
        var suffixes: [String] = []
        let body: String
        if count == 0 {
            body = "[]"
            if rank != 1 { suffixes.append("size=(\(shape.map(String.init).joined(separator: ", "))\(rank == 1 ? "," : ""))") }
        } else {
            let summarize = count > Tensor.threshold
            let formatter = ValueFormatter(summarize ? summarizedValues() : scalars, precision: Tensor.precision)
            body = render(dim: 0, offset: 0, indent: indent, summarize: summarize, formatter: formatter)
        }
        if let fn = gradFn {
            suffixes.append("grad_fn=<\(fn.name)>")
        } else if requiresGrad {
            suffixes.append("requires_grad=True")
        }
        var text = prefix + body
        var lastLine = text.count - (text.lastIndex(of: "\n").map { text.distance(from: text.startIndex, to: $0) } ?? -1) + 1
        for suffix in suffixes {
            if lastLine + suffix.count + 2 > Tensor.lineWidth {
                text += ",\n" + String(repeating: " ", count: indent) + suffix
                lastLine = indent + suffix.count
            } else {
                text += ", " + suffix
                lastLine += suffix.count + 2
            }
        }
        return text + ")"
    }

    /// The row-major strides of ``shape``.
    private var rowMajorStrides: [Int] {
        var s = [Int](repeating: 1, count: rank)
        for d in Swift.stride(from: rank - 2, through: 0, by: -1) { s[d] = s[d + 1] * shape[d + 1] }
        return s
    }

    /// The positions shown along a dimension of `size`: all, or the first and last
    /// ``edgeItems`` with `nil` for the `...` between them.
    private static func shownPositions(_ size: Int, summarize: Bool) -> [Int?] {
        if summarize && size > 2 * edgeItems {
            return Array(0..<edgeItems).map { $0 } + [nil] + Array((size - edgeItems)..<size).map { $0 }
        }
        return Array(0..<size).map { $0 }
    }

    /// The values that are shown (those the format is chosen from when summarising).
    private func summarizedValues() -> [Float] {
        let strides = rowMajorStrides, x = storage.pointer
        var values: [Float] = []
        func visit(_ dim: Int, _ offset: Int) {
            if dim == rank { values.append(x[offset]); return }
            for case let i? in Tensor.shownPositions(shape[dim], summarize: true) { visit(dim + 1, offset + i * strides[dim]) }
        }
        visit(0, 0)
        return values
    }

    /// The nested-bracket text of the sub-tensor at `dim` starting at `offset`.
    private func render(dim: Int, offset: Int, indent: Int, summarize: Bool, formatter: ValueFormatter) -> String {
        let x = storage.pointer
        if rank == 0 { return formatter.format(x[0]) }
        let strides = rowMajorStrides
        let positions = Tensor.shownPositions(shape[dim], summarize: summarize)
        if dim == rank - 1 {
            let items = positions.map { $0.map { formatter.format(x[offset + $0 * strides[dim]]) } ?? " ..." }
            let perLine = Swift.max(1, (Tensor.lineWidth - indent) / (formatter.width + 2))
            let lines = Swift.stride(from: 0, to: items.count, by: perLine).map {
                items[$0..<Swift.min($0 + perLine, items.count)].joined(separator: ", ")
            }
            return "[" + lines.joined(separator: ",\n" + String(repeating: " ", count: indent + 1)) + "]"
        }
        let slices = positions.map {
            $0.map { render(dim: dim + 1, offset: offset + $0 * strides[dim], indent: indent + 1, summarize: summarize, formatter: formatter) } ?? "..."
        }
        let separator = "," + String(repeating: "\n", count: rank - dim - 1) + String(repeating: " ", count: indent + 1)
        return "[" + slices.joined(separator: separator) + "]"
    }
}

/// PyTorch's `_Formatter` for floating tensors: one width and one notation for all values.
private struct ValueFormatter {
    enum Mode { case integer, fixed, scientific }
    let mode: Mode
    let width: Int
    let precision: Int

    init(_ values: [Float], precision: Int) {
        self.precision = precision
        let finite = values.filter { $0.isFinite && $0 != 0 }.map(Double.init)
        var width = 1
        var mode = Mode.integer   // also for zeros and non-finite values only (`0.`, `nan`)
        if !finite.isEmpty {
            let magnitudes = finite.map(Swift.abs)
            let largest = magnitudes.max()!, smallest = magnitudes.min()!
            let integral = finite.allSatisfy { $0.rounded(.up) == $0 }
            if largest / smallest > 1000 || largest > 1e8 || smallest < 1e-4 {
                mode = .scientific
            } else if !integral {
                mode = .fixed
            }
            // The width comes from the non-zero finite values only, as in PyTorch.
            for v in finite {
                switch mode {
                case .integer: width = Swift.max(width, String(format: "%.0f", v).count + 1)
                case .fixed: width = Swift.max(width, String(format: "%.\(precision)f", v).count)
                case .scientific: width = Swift.max(width, String(format: "%.\(precision)e", v).count)
                }
            }
        }
        self.mode = mode
        self.width = width
    }

    static func nonFinite(_ v: Float) -> String { v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }

    func format(_ value: Float) -> String {
        let text: String
        if !value.isFinite {
            text = ValueFormatter.nonFinite(value)
        } else {
            let v = Double(value)
            switch mode {
            case .integer: text = String(format: "%.0f", v) + "."
            case .fixed: text = String(format: "%.\(precision)f", v)
            case .scientific: text = String(format: "%.\(precision)e", v)
            }
        }
        return String(repeating: " ", count: Swift.max(0, width - text.count)) + text
    }
}
