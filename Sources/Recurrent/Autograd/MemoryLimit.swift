import Foundation

/// The bound that sizes from outside (module configurations, file headers, command-line
/// options) are checked against before anything is allocated: the machine's physical memory.
///
/// Swift cannot recover from a failed allocation, so a size that fits in `Int` but not in
/// memory (an LSTM with a hidden size of 10⁶, a tensor a crafted file declares) would end
/// the process. The library's constructors and readers estimate the bytes they are about to
/// allocate and throw, naming the estimate and the machine's memory, when it is larger.
public enum MemoryLimit {
    /// The machine's physical memory in bytes (`ProcessInfo.physicalMemory`), or the value
    /// of the `RECURRENT_MEMORY_LIMIT` environment variable (bytes) when it is set to a
    /// smaller positive number, for fuzzing and for jobs that must stay within a share of
    /// the machine. Read once, when first used (checks run on every state made).
    public static let physicalMemory: Int = {
        let machine = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let text = ProcessInfo.processInfo.environment["RECURRENT_MEMORY_LIMIT"],
           let limit = Int(text), limit > 0 {
            return Swift.min(limit, machine)
        }
        return machine
    }()

    /// The number of elements `products` describe — the sum of the products of each inner
    /// array — or `nil` when it overflows `Int` or a factor is negative.
    public static func elementCount(_ products: [[Int]]) -> Int? {
        var total = 0
        for factors in products {
            var count = 1
            for factor in factors {
                guard factor >= 0 else { return nil }
                let (product, overflow) = count.multipliedReportingOverflow(by: factor)
                guard !overflow else { return nil }
                count = product
            }
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else { return nil }
            total = sum
        }
        return total
    }

    /// Checks that `byteCount` bytes fit in ``physicalMemory``.
    ///
    /// - Parameters:
    ///   - byteCount: the estimate; `nil` when its computation overflowed `Int`.
    ///   - what: what needs the memory ("LSTM weights", "the file's tensors").
    /// - Throws: ``TensorError/invalidArgument(_:)`` naming the estimate and the machine's
    ///   physical memory.
    public static func check(bytes byteCount: Int?, for what: String) throws {
        let available = physicalMemory
        guard let byteCount else {
            throw TensorError.invalidArgument("\(what) would need more than \(Int.max) bytes (the size overflows Int), but the machine has \(describe(available)) of physical memory")
        }
        guard byteCount <= available else {
            throw TensorError.invalidArgument("\(what) would need about \(describe(byteCount)), but the machine has \(describe(available)) of physical memory")
        }
    }

    /// Checks that the `Float` elements of `products` (see ``elementCount(_:)``) fit in
    /// ``physicalMemory``.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` naming the estimate and the machine's
    ///   physical memory.
    public static func check(floats products: [[Int]], for what: String) throws {
        let bytes = elementCount(products).flatMap { count -> Int? in
            let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
            return overflow ? nil : bytes
        }
        try check(bytes: bytes, for: what)
    }

    /// `n` bytes, with a readable unit.
    static func describe(_ n: Int) -> String {
        let units = ["KB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(n), unit = -1
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit < 0 ? "\(n) bytes" : "\(String(format: "%.1f", value)) \(units[unit]) (\(n) bytes)"
    }
}
