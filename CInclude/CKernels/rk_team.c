// The worker pool behind rk_team_run; see include/rk_team.h.
#define _GNU_SOURCE
#include "rk_team.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define RK_PAUSE() __asm__ __volatile__("yield")
#else
#define RK_PAUSE() ((void)0)
#endif

#define RK_TEAM_MAX 256
// An idle worker checks for work this many times (with a pause) before yielding, and yields
// this many times before it sleeps: about 0.1 ms of polling, so that the teams of one layer
// call after another find their workers awake, while a process that stops computing stops
// using the cores.
#define RK_SPINS 4000
#define RK_YIELDS 200

struct rk_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int threads;                 // the team size allowed (caller included); under lock
    int created;                 // worker threads created (indices 1...created); under lock
    int sleepers;                // workers waiting on `wake`; under lock
    atomic_int busy;             // 1 while a team runs
    // The current job: `ticket` holds a generation count (high 32 bits) and the team size (low
    // 32 bits), published with release after fn and context. Only a team member (index <
    // team size) reads fn and context, which stay unchanged until every member has finished.
    rk_team_fn fn;
    void *context;
    int workers;                 // the team size, for rk_team_barrier (members only)
    atomic_ullong ticket;
    atomic_int remaining;        // workers other than the caller still running the job
    // The barrier of the current team.
    atomic_int arrived;
    atomic_uint phase;
};

static struct rk_pool pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .threads = 1,
};

static void spin_pause(unsigned *spins) {
    if (*spins < RK_SPINS) { RK_PAUSE(); (*spins)++; }
    else sched_yield();
}

// What a new worker starts from: its index, and the ticket current when it was created (read
// by the creator: a job published after that, even before the thread first runs, is new to it).
struct worker_start { int index; unsigned long long ticket; };

static void *worker_main(void *arg) {
    const struct worker_start start = *(struct worker_start *)arg;
    free(arg);
    const int index = start.index;
    unsigned long long seen = start.ticket;
    for (;;) {
        unsigned spins = 0;
        unsigned long long now;
        while ((now = atomic_load_explicit(&pool.ticket, memory_order_acquire)) == seen) {
            if (spins < RK_SPINS) { RK_PAUSE(); spins++; continue; }
            if (spins < RK_SPINS + RK_YIELDS) { sched_yield(); spins++; continue; }
            pthread_mutex_lock(&pool.lock);
            pool.sleepers++;
            while ((now = atomic_load_explicit(&pool.ticket, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
            pthread_mutex_unlock(&pool.lock);
            break;
        }
        seen = now;
        const int workers = (int)(now & 0xFFFFFFFFu);
        if (index < workers) {
            pool.fn(pool.context, &pool, index, workers);
            atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_acq_rel);
        }
    }
    return NULL;
}

int rk_team_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > RK_TEAM_MAX) threads = RK_TEAM_MAX;
    int result = 0;
    pthread_mutex_lock(&pool.lock);
    while (pool.created < threads - 1) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        struct worker_start *start = malloc(sizeof *start);
        if (!start) { pthread_attr_destroy(&attributes); result = ENOMEM; break; }
        start->index = pool.created + 1;
        start->ticket = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        int error = pthread_create(&thread, &attributes, worker_main, start);
        pthread_attr_destroy(&attributes);
        if (error) { free(start); result = error; break; }
        pool.created++;
    }
    pool.threads = pool.created + 1 < threads ? pool.created + 1 : threads;
    pthread_mutex_unlock(&pool.lock);
    return result;
}

int rk_team_threads(void) {
    pthread_mutex_lock(&pool.lock);
    int threads = pool.threads;
    pthread_mutex_unlock(&pool.lock);
    return threads;
}

int rk_team_run(int requested, rk_team_fn fn, void *context) {
    int expected = 0;
    int workers = requested;
    if (workers > 1) {
        pthread_mutex_lock(&pool.lock);
        if (workers > pool.threads) workers = pool.threads;
        pthread_mutex_unlock(&pool.lock);
    }
    if (workers <= 1 || !atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
        fn(context, NULL, 0, 1);
        return 1;
    }
    pool.fn = fn;
    pool.context = context;
    pool.workers = workers;
    atomic_store_explicit(&pool.arrived, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.remaining, workers - 1, memory_order_relaxed);
    const unsigned long long generation = (atomic_load_explicit(&pool.ticket, memory_order_relaxed) >> 32) + 1;
    atomic_store_explicit(&pool.ticket, (generation << 32) | (unsigned long long)workers, memory_order_release);
    pthread_mutex_lock(&pool.lock);
    if (pool.sleepers > 0) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    fn(context, &pool, 0, workers);

    unsigned spins = 0;
    while (atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0) spin_pause(&spins);
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return workers;
}

void rk_team_barrier(const void *team) {
    if (!team) return;
    struct rk_pool *p = (struct rk_pool *)team;
    const int workers = p->workers;
    if (workers <= 1) return;
    const unsigned phase = atomic_load_explicit(&p->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->arrived, 1, memory_order_acq_rel) == workers - 1) {
        atomic_store_explicit(&p->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&p->phase, phase + 1, memory_order_release);
    } else {
        unsigned spins = 0;
        while (atomic_load_explicit(&p->phase, memory_order_acquire) == phase) spin_pause(&spins);
    }
}

void rk_progress_publish(long *counter, long value) {
    __atomic_store_n(counter, value, __ATOMIC_RELEASE);
}

long rk_progress_wait(const long *counter, long target) {
    long seen;
    unsigned spins = 0;
    while ((seen = __atomic_load_n(counter, __ATOMIC_ACQUIRE)) < target) spin_pause(&spins);
    return seen;
}
