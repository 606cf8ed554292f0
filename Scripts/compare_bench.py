#!/usr/bin/env python3
"""Runs recurrent-bench (the library), Scripts/torch_bench.py (PyTorch) and
Scripts/onnx_bench.py (onnxruntime, forward only) side by side and prints, per case and thread
count: the three times, the library's speed-up against PyTorch and against onnxruntime,
time(1 thread) / time(N threads), and the library's GFLOP/s as a fraction of threads × the
FMA peak of one core (the highest that any recurrent-bench run of the comparison measured).

    python3 Scripts/compare_bench.py [--threads 1,2] [--rounds 2] [--cases a,b] [--markdown] [--no-build]
    python3 Scripts/compare_bench.py --list        # the cases, in the order they run

Each round runs every case in turn and, for each case, the three implementations at every
thread count back to back (which one goes first rotates from round to round), so that the
measurements of one case see the same machine: this VM drifts between speed states over
tens of seconds to minutes, by up to 50 %. The time columns keep each side's best of its
per-round medians; a speed-up is the median over the rounds of the ratio within a round
(other time / library time, measured seconds apart), with its range across rounds, and the
same pairing gives time(1) / time(N) (above 1: the extra threads help), and so does a variant
cell's speed against its plain layer (issue 20), both run in one process, first and second in
turn. onnxruntime runs the
module cases' forward passes only, each checked against PyTorch's output first; without
onnxruntime its column is empty and a note says why. The seed names epoch runs in the first
round only. The last column checks issue 15's targets (and issue 8's at one thread); a line
before the tables gives each case's peak resident memory of a library process that runs only
its training steps, at every thread count, and how much more it took than at the first. --isa avx2 caps the library, PyTorch and oneDNN at AVX2 on a machine with AVX-512.
"""
import argparse
import json
import statistics
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRATCH = ".build-bench"
MODULE_CASES = ["seed-tiny", "small", "medium", "large", "deepbench", "lstm-medium", "gru-medium",
                "lstm-bidir", "gru-bidir", "lstm-large", "lstm-latency", "lstm-batch4"]
# Issue 20's cells beyond PyTorch, each read against the plain fused layer of the same size
# (and the layer-normalised LSTM against PyTorch running the reference cell in a Python loop;
# PyTorch has no form of the other two, and onnxruntime runs none of them here).
VARIANT_CASES = {"ln-lstm-medium": "lstm-medium", "gru-reset-before-medium": "gru-medium",
                 "lstm-peephole-medium": "lstm-medium"}
TORCH_ONLY_REFERENCE = {"ln-lstm-medium"}
TARGET_VARIANT = 0.8       # at least 0.8x the plain layer's speed, forward and training
TARGET_LN_VS_TORCH = 3.0   # the layer-normalised LSTM at least 3x PyTorch's reference loop
# The rows, in order; stream-step-module is a row of the stream-step case.
ORDER = MODULE_CASES + list(VARIANT_CASES) + ["stream-step", "stream-step-module", "autograd-op", "names-epoch"]
RUNNABLE = [c for c in ORDER if c != "stream-step-module"]
MODES = ["forward", "train", "step", "op", "epoch"]
IMPLS = ["swift", "torch", "onnxruntime"]

# Minimum speed-ups (PyTorch time / library time) at one thread: issue 8's, and issue 15's
# "every case at least PyTorch" (LSTM included).
TARGETS_ONE_THREAD = {
    "seed-tiny": 10, "small": 10, "stream-step": 10, "names-epoch": 10,
    "medium": 1, "large": 1.3, "deepbench": 1.3, "gru-medium": 1, "lstm-medium": 1,
    "lstm-bidir": 1, "gru-bidir": 1, "lstm-large": 1, "lstm-latency": 1, "lstm-batch4": 1,
}
# Issue 15 at two threads: at least 1.2x PyTorch's time for every case; everywhere at least
# onnxruntime's forward.
TARGET_MORE_THREADS = 1.2
TARGET_ONNX = 1.0
# Issue 15: time(1) / time(2) for these cases (forward and training), and no case slower.
TARGET_SCALING = 1.7
SCALING_CASES = {"medium", "large", "deepbench", "lstm-medium", "gru-medium", "lstm-bidir", "gru-bidir", "lstm-large"}
# Issue 15: training at this fraction of threads x peak.
TARGET_PEAK = 0.75
PEAK_CASES = {"large", "deepbench", "lstm-large"}


def run_json(cmd, tolerate_failure=False):
    """The JSON lines a benchmark prints: (results, notes). A failing run raises, or with
    tolerate_failure gives a note with its last lines of stderr."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Read both pipes to the end, then reap the process ourselves for its peak resident memory.
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout, proc.stderr = stdout, stderr
    if proc.returncode != 0:
        if not tolerate_failure:
            sys.stderr.write(proc.stderr)
            raise subprocess.CalledProcessError(proc.returncode, cmd)
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        return [], [f"{os.path.basename(cmd[1] if cmd[0] == sys.executable else cmd[0])} failed: {tail}"]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for r in lines:
        r["max_rss_kb"] = usage.ru_maxrss
    return [r for r in lines if "case" in r], [r["note"] for r in lines if "note" in r]


def best(into, results):
    for r in results:
        key = (r["case"], r["mode"])
        if key not in into or r["ms"] < into[key]["ms"]:
            into[key] = r


def fmt_time(ms):
    if ms >= 1000:
        return f"{ms / 1000:.3f} s"
    if ms >= 1:
        return f"{ms:.3f} ms"
    return f"{ms * 1000:.2f} µs"


def fmt_ratio(values, suffix="x"):
    """Median with its range over the rounds, or '' without pairs."""
    if not values:
        return ""
    spread = f" ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else ""
    return f"{statistics.median(values):.2f}{suffix}{spread}"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def target_checks(threads, case, mode, vs_torch, vs_onnx, scale, fraction):
    """The targets that apply to one row, as 'what: yes/NO' strings."""
    checks = []
    torch_case = case if case != "stream-step-module" else None

    def check(label, value, minimum):
        if value is not None:
            checks.append(f"{label}≥{minimum:g} {'yes' if value >= minimum else 'NO'}")

    if case in TORCH_ONLY_REFERENCE:
        if vs_torch:
            check("PT loop", statistics.median(vs_torch), TARGET_LN_VS_TORCH)
    elif torch_case is not None and vs_torch:
        minimum = TARGETS_ONE_THREAD.get(case) if threads == 1 else TARGET_MORE_THREADS
        if minimum is not None:
            ratio = statistics.median(vs_torch)
            check("PT", ratio, minimum)
            if ratio < minimum and fraction is not None and ratio > 0:
                # What the target asks of the machine: the library's share of the peak scaled
                # by the missing factor (a target above 100 % cannot be met by any code).
                checks[-1] += f" (needs {fraction * minimum / ratio * 100:.0f}% of peak)"

    if vs_onnx:
        check("ORT", statistics.median(vs_onnx), TARGET_ONNX)
    if scale:
        q = statistics.median(scale)
        if case in SCALING_CASES and mode in ("forward", "train"):
            check("t1/tN", q, TARGET_SCALING)
        elif q < 1 / 1.05:
            checks.append("t1/tN SLOWER")
    if case in PEAK_CASES and mode == "train" and fraction is not None:
        check("peak", fraction, TARGET_PEAK)
    return "; ".join(checks)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeat", type=int, default=7, help="timed samples per measurement in every benchmark")
    p.add_argument("--cases", default=None, help="comma-separated cases (default: all; see --list)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--no-onnx", action="store_true", help="leave out the onnxruntime column")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables (for BENCHMARKS.md)")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--save", default=None, help="write all raw results as JSON to this file")
    p.add_argument("--isa", choices=["native", "avx2"], default="native",
                   help="avx2: cap the library (RECURRENT_CPU_CAPABILITY), PyTorch (ATEN_CPU_CAPABILITY) and "
                        "oneDNN (ONEDNN_MAX_CPU_ISA) at AVX2, to measure a machine without AVX-512 on one that "
                        "has it; onnxruntime has no such switch and is left out")
    args = p.parse_args()
    if args.list:
        print("\n".join(RUNNABLE))
        return
    cases = args.cases.split(",") if args.cases else None
    for c in cases or []:
        if c not in RUNNABLE:
            sys.exit(f"unknown case {c}; known: {', '.join(RUNNABLE)}")
    thread_counts = [int(t) for t in args.threads.split(",")]
    if args.rounds < 1 or any(t < 1 for t in thread_counts):
        sys.exit("--rounds and every --threads count must be at least 1")

    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH, "--product", "recurrent-bench"],
                       cwd=ROOT, check=True)
    swift_bin = os.path.join(ROOT, SCRATCH, "release", "recurrent-bench")
    common = ["--json", "--repeat", str(args.repeat), "--clock", args.clock]
    raw = []
    notes = []
    onnx_available = not args.no_onnx
    if args.isa == "avx2":
        os.environ.update(RECURRENT_CPU_CAPABILITY="avx2", ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
        onnx_available = False
        notes.append("--isa avx2: the library, PyTorch and oneDNN capped at AVX2 + FMA; onnxruntime left out "
                     "(it cannot be capped)")
    if args.no_onnx:
        notes.append("onnxruntime left out (--no-onnx)")
    tables = {threads: {impl: {} for impl in IMPLS} for threads in thread_counts}
    paired = {}      # (impl, threads, case, mode) -> [impl time / library time, one per round]
    scaling = {}     # (threads, case, mode) -> [library time(1) / time(threads), one per round]
    versus_plain = {}  # (threads, variant case, mode) -> [plain layer's time / variant's, same process, per round]
    start = time.time()
    # Rounds outermost, then cases, then thread counts: the figures of a case at every thread
    # count and of every implementation are taken within seconds of each other (a shared VM
    # drifts between speed states, which once made whole thread counts look slower or faster).
    for rnd in range(args.rounds):
        selected = cases or RUNNABLE
        if rnd > 0:
            selected = [c for c in selected if c != "names-epoch"]
        for case in selected:
            one_thread = {}
            for threads in thread_counts:
                thread_args = ["--threads", str(threads), "--cases", case] + common
                # A variant layer runs in the same process as its plain layer, seconds apart and
                # first and second in turn, so that "vs plain" is a paired ratio like the others
                # (two runs minutes apart can fall in different speed states of a shared VM).
                swift_args = thread_args
                if case in VARIANT_CASES:
                    pair = [VARIANT_CASES[case], case] if rnd % 2 == 0 else [case, VARIANT_CASES[case]]
                    swift_args = ["--threads", str(threads), "--cases", ",".join(pair)] + common
                runners = {"swift": lambda: run_json([swift_bin] + swift_args)}
                if case not in VARIANT_CASES or case in TORCH_ONLY_REFERENCE:
                    runners["torch"] = lambda: run_json([sys.executable, os.path.join(ROOT, "Scripts", "torch_bench.py")]
                                                        + thread_args)
                if onnx_available and case in MODULE_CASES:
                    runners["onnxruntime"] = lambda: run_json(
                        [sys.executable, os.path.join(ROOT, "Scripts", "onnx_bench.py")] + thread_args,
                        tolerate_failure=True)
                # Who goes first rotates from round to round.
                order = list(runners)
                order = order[rnd % len(order):] + order[:rnd % len(order)]
                got = {}
                for impl in order:
                    got[impl], impl_notes = runners[impl]()
                    for n in impl_notes:
                        if n not in notes:
                            notes.append(n)
                    if impl == "onnxruntime" and impl_notes and not got[impl]:
                        if any("skipped" in n for n in impl_notes):
                            onnx_available = False
                if case in VARIANT_CASES:
                    plain_ms = {r["mode"]: r["ms"] for r in got["swift"] if r["case"] == VARIANT_CASES[case]}
                    got["swift"] = [r for r in got["swift"] if r["case"] == case]
                    for r in got["swift"]:
                        if r["mode"] in plain_ms:
                            versus_plain.setdefault((threads, case, r["mode"]), []).append(plain_ms[r["mode"]] / r["ms"])
                for impl, results in got.items():
                    raw += results
                    best(tables[threads][impl], results)
                swift_results = got["swift"]
                for impl in ("torch", "onnxruntime"):
                    ms = {(r["case"], r["mode"]): r["ms"] for r in got.get(impl, [])}
                    for r in swift_results:
                        other = ms.get((r["case"] if r["case"] != "stream-step-module" else "stream-step", r["mode"]))
                        if other:
                            paired.setdefault((impl, threads, r["case"], r["mode"]), []).append(other / r["ms"])
                for r in swift_results:
                    key = (r["case"], r["mode"])
                    if threads == thread_counts[0]:
                        one_thread[key] = r["ms"]
                    elif key in one_thread:
                        scaling.setdefault((threads, *key), []).append(one_thread[key] / r["ms"])
        print(f"# round {rnd + 1}/{args.rounds} done ({time.time() - start:.0f} s)", file=sys.stderr)

    # The machine: CPU, the library's kernels and the measured one-core peak.
    swift_any = [r for r in raw if r.get("impl") == "swift"]
    peaks = [r["peak_gflops"] for r in swift_any if "peak_gflops" in r]
    print(f"Machine: {cpu_model()}, {os.cpu_count()} logical CPU(s)")
    kernels = sorted({r["cpu_capability"] for r in swift_any if "cpu_capability" in r})
    if kernels:
        print(f"Library kernels: {', '.join(kernels)}")
    if peaks:
        unit = next(r["peak_unit"] for r in swift_any if "peak_unit" in r)
        print(f"FMA peak of one core ({unit}): {max(peaks):.1f} GFLOP/s (the highest of {len(peaks)} runs' "
              f"measurements, lowest {min(peaks):.1f}); 'of peak' is against threads × this peak")
    for n in notes:
        print(f"Note: {n}")

    base = thread_counts[0]
    # Issue 15: a training step's peak resident memory with more threads no more than 10 %
    # above one thread's, read from processes that run only training steps, one per case and
    # thread count (the timed runs also run the forward, whose inference split by items
    # allocates on the workers, and whose memory is not a training step's).
    rss = {}
    if len(thread_counts) > 1:
        train_cases = [c for c in (cases or RUNNABLE) if c in MODULE_CASES + list(VARIANT_CASES) and c != "lstm-latency"]
        for case in train_cases:
            for threads in thread_counts:
                results, _ = run_json([swift_bin, "--threads", str(threads), "--cases", case, "--modes", "train",
                                       "--json", "--repeat", "3", "--clock", args.clock])
                for r in results:
                    rss[(case, threads)] = max(rss.get((case, threads), 0), r.get("max_rss_kb", 0))
    lines = []
    for case in ORDER:
        if (case, base) in rss and rss[(case, base)] > 0:
            parts = [f"{rss[(case, t)] / 1024:.0f} MB" for t in thread_counts if (case, t) in rss]
            worst = max(rss.get((case, t), 0) for t in thread_counts) / rss[(case, base)] - 1
            lines.append(f"{case} {' / '.join(parts)} ({worst * 100:+.0f} %)")
    if len(thread_counts) > 1 and lines:
        print(f"Peak resident memory of a process running only training steps, per case at "
              f"{', '.join(map(str, thread_counts))} thread(s): " + "; ".join(lines))

    for threads in thread_counts:
        swift, torch, onnx = (tables[threads][impl] for impl in IMPLS)
        rows = []
        for case in ORDER:
            for mode in MODES:
                s = swift.get((case, mode))
                if s is None:
                    continue
                torch_case = case if case != "stream-step-module" else "stream-step"
                t = torch.get((torch_case, mode))
                o = onnx.get((case, mode))
                vs_torch = paired.get(("torch", threads, case, mode), [])
                vs_onnx = paired.get(("onnxruntime", threads, case, mode), [])
                scale = scaling.get((threads, case, mode), []) if threads != base else []
                # Against the machine's peak (the highest measured in any run): a run's own
                # measurement reads low when another process interrupted it.
                fraction = s["gflops"] / (threads * max(peaks)) if peaks and "gflops" in s else None
                checks = target_checks(threads, case, mode, vs_torch, vs_onnx, scale, fraction)
                against_plain = versus_plain.get((threads, case, mode), [])
                if against_plain:
                    # The median of the per-round ratios to the plain layer run in the same process.
                    ratio = statistics.median(against_plain)
                    spread = f" ({min(against_plain):.2f}–{max(against_plain):.2f})" if len(against_plain) > 1 else ""
                    checks = "; ".join(x for x in (checks, f"vs plain {ratio:.2f}x{spread} ≥{TARGET_VARIANT:g} "
                                                          f"{'yes' if ratio >= TARGET_VARIANT else 'NO'}") if x)
                rows.append((case, mode, fmt_time(s["ms"]), fmt_time(t["ms"]) if t else "",
                             fmt_time(o["ms"]) if o else "",
                             fmt_ratio(vs_torch), fmt_ratio(vs_onnx),
                             fmt_ratio(scale, suffix="") if threads != base else "",
                             f"{s['gflops']:.1f}" if "gflops" in s else "",
                             f"{fraction * 100:.1f}%" if fraction is not None else "",
                             checks))
        header = ("case", "mode", "library", "PyTorch", "onnxruntime", "vs PyTorch (range)",
                  "vs onnxruntime (range)", f"t({base})/t({threads}) (range)", "library GF/s", "of peak", "targets")
        if threads == base:
            keep = [i for i in range(len(header)) if i != 7]
            header = tuple(header[i] for i in keep)
            rows = [tuple(r[i] for i in keep) for r in rows]
        print()
        print(f"{threads} thread(s)" + (" — Markdown" if args.markdown else ""))
        if args.markdown:
            print("| " + " | ".join(header) + " |")
            print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header) - 1)) + "|---|")
            for r in rows:
                print("| " + " | ".join(r) + " |")
        else:
            widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
            for r in [header] + rows:
                print("  ".join(str(x).rjust(w) if 1 < i < len(r) - 1 else str(x).ljust(w)
                                for i, (x, w) in enumerate(zip(r, widths))).rstrip())
    print()
    print("Speed-ups are PyTorch's (onnxruntime's) time over the library's: above 1, the library is faster; "
          f"t({base})/t(N) above 1: the extra threads help.")
    if args.save:
        with open(args.save, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
