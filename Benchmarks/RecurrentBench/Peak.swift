// The ceiling each case is read against: the FMA peak of one core (PeakFLOPs, measured when
// the benchmark starts) times the threads the case may use.
import Recurrent

/// The measured single-thread peak and the thread count of this run.
struct Peak {
    /// The vector unit the peak was measured on (the widest this CPU has).
    let unit: PeakFLOPs.VectorUnit
    /// GFLOP/s of one core on `unit`.
    let perThreadGFLOPs: Double
    /// Threads of this run (`--threads`).
    let threads: Int

    /// `threads × peak`: the ceiling of a case run on `threads` cores.
    var ceilingGFLOPs: Double { Double(threads) * perThreadGFLOPs }

    /// Measures the peak on the calling thread: `samples` runs of at least `seconds` each,
    /// the fastest counted.
    static func measure(threads: Int, seconds: Double, samples: Int) throws -> Peak {
        let unit = PeakFLOPs.widestUnit
        let flops = try PeakFLOPs.measure(unit: unit, minimumSeconds: seconds, samples: samples)
        return Peak(unit: unit, perThreadGFLOPs: flops / 1e9, threads: threads)
    }

    /// A result's GFLOP/s as a fraction of ``ceilingGFLOPs`` (nil without FLOPs).
    func fraction(_ r: Result) -> Double? {
        guard let g = r.gflops, ceilingGFLOPs > 0 else { return nil }
        return g / ceilingGFLOPs
    }
}
