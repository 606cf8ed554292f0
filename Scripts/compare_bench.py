#!/usr/bin/env python3
"""Runs recurrent-bench (Swift) and torch_bench.py (PyTorch) side by side and prints, per
case and thread count: Swift time, PyTorch time, the speed-up (PyTorch time / Swift time)
and Swift's fraction of the sgemm roofline.

    python3 Scripts/compare_bench.py [--threads 1,2] [--rounds 2] [--markdown] [--no-build]

Each round runs every case in turn and, for each case, Swift and PyTorch at every thread
count back to back (which of the two goes first alternates between rounds), so that the
measurements of one case see the same machine: this VM drifts between speed states over
tens of seconds to minutes, by up to 50 %. The time columns keep each side's best of its
per-round medians; the speed-up is the median over the rounds of the ratio within a round
(PyTorch / Swift, measured seconds apart), with its range across rounds, and the same
pairing gives the two-against-one-thread comparison. The seed names epoch runs in the first
round only.
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
ORDER = ["seed-tiny", "small", "medium", "large", "deepbench", "lstm-medium", "gru-medium",
         "stream-step", "stream-step-module", "autograd-op", "names-epoch"]

# Targets of issue 8, as minimum speed-ups (PyTorch time / Swift time) at one thread.
TARGETS = {
    "seed-tiny": 10, "small": 10, "stream-step": 10, "names-epoch": 10,
    "medium": 1, "large": 1.3, "deepbench": 1.3, "gru-medium": 1, "lstm-medium": 0.7,
}


def run_json(cmd):
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--cases", default=None, help="comma-separated cases (default: all)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--save", default=None, help="write all raw results as JSON to this file")
    args = p.parse_args()

    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH, "--product", "recurrent-bench"],
                       cwd=ROOT, check=True)
    swift_bin = os.path.join(ROOT, SCRATCH, "release", "recurrent-bench")
    common = ["--json", "--repeat", str(args.repeat), "--clock", args.clock]
    cases = args.cases.split(",") if args.cases else None
    raw = []
    tables = {}
    ratios = {}      # (threads, case, mode) -> [PyTorch / Swift, one per round]
    scaling = {}     # (threads, case, mode) -> [Swift time(threads) / time(1 thread), one per round]
    start = time.time()
    thread_counts = [int(t) for t in args.threads.split(",")]
    for threads in thread_counts:
        tables[threads] = ({}, {})
    # Rounds outermost, then cases, then thread counts: the one- and two-thread figures of a
    # case and both implementations' are taken within seconds of each other (a shared VM
    # drifts between speed states, which once made whole thread counts look slower or faster).
    for rnd in range(args.rounds):
        selected = [c for c in (cases or ORDER) if c != "stream-step-module"]
        if rnd > 0:
            selected = [c for c in selected if c != "names-epoch"]
        for case in selected:
            one_thread = {}
            for threads in thread_counts:
                swift, torch = tables[threads]
                run_swift = lambda: run_json([swift_bin, "--threads", str(threads), "--cases", case] + common)
                run_torch = lambda: run_json([sys.executable, os.path.join(ROOT, "Scripts", "torch_bench.py"),
                                              "--threads", str(threads), "--cases", case] + common)
                if rnd % 2 == 0:
                    s = run_swift(); t = run_torch()
                else:
                    t = run_torch(); s = run_swift()
                raw += s + t
                best(swift, s)
                best(torch, t)
                t_ms = {(r["case"], r["mode"]): r["ms"] for r in t}
                for r in s:
                    key = (r["case"], r["mode"])
                    other = t_ms.get((key[0] if key[0] != "stream-step-module" else "stream-step", key[1]))
                    if other:
                        ratios.setdefault((threads, *key), []).append(other / r["ms"])
                    if threads == 1:
                        one_thread[key] = r["ms"]
                    elif key in one_thread:
                        scaling.setdefault((threads, *key), []).append(r["ms"] / one_thread[key])
        print(f"# round {rnd + 1}/{args.rounds} done ({time.time() - start:.0f} s)", file=sys.stderr)

    for threads, (swift, torch) in tables.items():
        rows = []
        for case in ORDER:
            for mode in ["forward", "train", "step", "op", "epoch"]:
                s = swift.get((case, mode))
                if s is None:
                    continue
                t = torch.get((case if case != "stream-step-module" else "stream-step", mode))
                paired = ratios.get((threads, case, mode), [])
                ratio = statistics.median(paired) if paired else None
                spread = f" ({min(paired):.2f}–{max(paired):.2f})" if len(paired) > 1 else ""
                roof = s.get("roofline_fraction")
                target = TARGETS.get(case) if threads == 1 and case != "stream-step-module" else None
                ok = "" if target is None or ratio is None else ("yes" if ratio >= target else "NO")
                rows.append((case, mode, fmt_time(s["ms"]), fmt_time(t["ms"]) if t else "",
                             f"{ratio:.2f}x{spread}" if ratio else "", f"{s['gflops']:.1f}" if "gflops" in s else "",
                             f"{t['gflops']:.1f}" if t and "gflops" in t else "",
                             f"{roof * 100:.0f}%" if roof else "",
                             f"{target}x {ok}" if target else ""))
        header = ("case", "mode", "Swift", "PyTorch", "speed-up (range)", "Swift GF/s", "PyTorch GF/s", "roofline", "target (1 thread)")
        print()
        print(f"{threads} thread(s)" + (" — Markdown" if args.markdown else ""))
        if args.markdown:
            print("| " + " | ".join(header) + " |")
            print("|" + "|".join("---" for _ in header) + "|")
            for r in rows:
                print("| " + " | ".join(r) + " |")
        else:
            widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
            for r in [header] + rows:
                print("  ".join(str(x).rjust(w) if i > 1 else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths))))

    if len(tables) > 1 and 1 in tables:
        # No case may get slower with more threads: the median over rounds of the ratio of
        # times taken seconds apart, with its range.
        print()
        print("More threads against one (Swift): time(N) / time(1) per round, median (range); > 1 means slower")
        for (threads, case, mode), qs in sorted(scaling.items(),
                                               key=lambda kv: (kv[0][0], ORDER.index(kv[0][1]) if kv[0][1] in ORDER else 99)):
            q = statistics.median(qs)
            print(f"  {threads} threads  {case:20} {mode:8} {q:.2f} ({min(qs):.2f}–{max(qs):.2f}){'  SLOWER' if q > 1.05 else ''}")
    if args.save:
        with open(args.save, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
