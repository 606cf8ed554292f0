// A small persistent pool of worker threads for the recurrent layers: a team of workers runs
// one function together (worker 0 on the calling thread), with barriers between the time
// steps. The threads are created once and wait between teams (briefly spinning, then
// sleeping), so running a team creates nothing.
#ifndef RECURRENT_RK_TEAM_H
#define RECURRENT_RK_TEAM_H

#ifdef __cplusplus
extern "C" {
#endif

/// The function a team runs: `worker` is in 0..<`workers`; `team` is the handle to pass to
/// rk_team_barrier (NULL for a team of one).
typedef void (*rk_team_fn)(void *context, const void *team, int worker, int workers);

/// Sets the number of threads a team may use, the caller included (at least 1); creates the
/// missing worker threads. Returns 0, or an errno value when a thread could not be created
/// (the pool then keeps the threads it has).
int rk_team_set_threads(int threads);

/// The number of threads a team may use (1 until rk_team_set_threads).
int rk_team_threads(void);

/// Runs fn(context, team, w, n) for every w in 0..<n on n threads, n = min(requested,
/// rk_team_threads()), and returns n once every call has returned. When the pool is running
/// another team (another thread's, or the caller is itself a worker) it runs fn(context, NULL,
/// 0, 1) on the calling thread and returns 1.
int rk_team_run(int requested, rk_team_fn fn, void *context);

/// Waits until every worker of `team` has reached this barrier; what each wrote before it is
/// visible to all after it. A no-op for NULL. Every worker of the team must call it the same
/// number of times.
void rk_team_barrier(const void *team);

/// Progress counters for workers that hand work to one another without a team barrier (a
/// producer publishes how far it has got; a consumer waits until it has got far enough), as
/// the stacked layers of a wavefront do: `counter` is any aligned `long` that only these
/// functions touch while workers share it.
/// Publishes `value` (release: every write made before it is visible to a worker whose
/// rk_progress_wait returns after seeing it).
void rk_progress_publish(long *counter, long value);

/// Waits until `*counter >= target` (acquire), spinning briefly with a pause and then yielding
/// the core, as the team barrier does; returns the value seen.
long rk_progress_wait(const long *counter, long target);

#ifdef __cplusplus
}
#endif
#endif
