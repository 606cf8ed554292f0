// Wall-clock timing: warm up, calibrate a batch of iterations long enough to time
// precisely, then take the median over repeated batches.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which clock times the cases: wall-clock (the default) or the process's CPU time (all
/// threads added up; steadier on a loaded machine, meaningful for one thread only).
nonisolated(unsafe) var clockID = CLOCK_MONOTONIC

/// Seconds on the selected clock.
@inline(__always)
func now() -> Double {
    var ts = timespec()
    clock_gettime(clockID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// How long to measure.
struct TimingPolicy {
    /// Timed samples (the median of them is reported).
    var repeats = 7
    /// Each sample runs the body enough times to last at least this long.
    var minSampleSeconds = 0.02
    /// Warm-up time before calibrating.
    var warmupSeconds = 0.05
    /// For profiling (callgrind, perf): run exactly this many calls, untimed calibration off.
    var fixedIterations: Int? = nil
}

/// A timing: the median seconds per iteration over the samples, and the spread.
struct Timing {
    var median: Double
    var min: Double
    var max: Double
    var iterationsPerSample: Int
}

/// Times `body`: at least one warm-up call (more until `warmupSeconds` pass), then
/// `repeats` samples of `n` calls each, `n` chosen so that a sample lasts at least
/// `minSampleSeconds`. Returns seconds per call.
func measure(_ policy: TimingPolicy, _ body: () throws -> Void) rethrows -> Timing {
    if let n = policy.fixedIterations {
        let start = now()
        for _ in 0..<n { try body() }
        let t = (now() - start) / Double(max(n, 1))
        return Timing(median: t, min: t, max: t, iterationsPerSample: n)
    }
    var start = now()
    var calls = 0
    repeat {
        try body()
        calls += 1
    } while now() - start < policy.warmupSeconds && calls < 1000
    let perCall = (now() - start) / Double(calls)
    let n = Swift.max(1, Int((policy.minSampleSeconds / Swift.max(perCall, 1e-9)).rounded(.up)))
    var samples: [Double] = []
    for _ in 0..<Swift.max(1, policy.repeats) {
        start = now()
        for _ in 0..<n { try body() }
        samples.append((now() - start) / Double(n))
    }
    samples.sort()
    return Timing(median: samples[samples.count / 2], min: samples.first!, max: samples.last!, iterationsPerSample: n)
}
