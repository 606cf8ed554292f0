#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a POSIX mutex: `withLock` gives exclusive `inout` access to it.
///
/// The same use as `Synchronization.Mutex`, but built on `pthread_mutex_t`, which
/// ThreadSanitizer intercepts: `Mutex`'s contended path (futex wait and wake) lives in the
/// uninstrumented Swift runtime, so ThreadSanitizer misses its happens-before edges and
/// reports races on data that is correctly locked. The package's shared state (the BLAS
/// thread regions, the default random stream, the scratch pool, anomaly records) uses this
/// type so that the ThreadSanitizer suite needs no suppressions and catches real races.
public final class PThreadMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// A mutex guarding `value`.
    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        require(status == 0, "PThreadMutex: pthread_mutex_init failed (\(status))")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value and returns its result; rethrows what
    /// `body` throws (the lock is released either way).
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
