#!/usr/bin/env python3
"""Runs recurrent-bench (Swift) and torch_bench.py (PyTorch) side by side and prints, per
case and thread count: Swift time, PyTorch time, the speed-up (PyTorch time / Swift time)
and Swift's fraction of the sgemm roofline.

    python3 Scripts/compare_bench.py [--threads 1,2] [--rounds 2] [--markdown] [--no-build]

Both suites run alternately, `--rounds` times, each round over every thread count (Swift,
PyTorch, Swift, …) so that all of them see the same machine; each case keeps the best of
its per-round medians, which damps the noise of a shared machine. The seed names epoch runs in the first round only.
"""
import argparse
import json
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
    start = time.time()
    thread_counts = [int(t) for t in args.threads.split(",")]
    for threads in thread_counts:
        tables[threads] = ({}, {})
    # Rounds outermost: every round runs each thread count in turn, so that the one- and
    # two-thread figures see the same machine (a shared VM drifts between speed states over
    # minutes, which once made whole thread counts look slower or faster).
    for rnd in range(args.rounds):
        for threads in thread_counts:
            swift, torch = tables[threads]
            selected = cases or ORDER
            if rnd > 0:
                selected = [c for c in selected if c != "names-epoch"]
            sel_swift = [c for c in selected if c != "stream-step-module"]
            sel_torch = [c for c in sel_swift]
            s = run_json([swift_bin, "--threads", str(threads), "--cases", ",".join(sel_swift)] + common)
            t = run_json([sys.executable, os.path.join(ROOT, "Scripts", "torch_bench.py"), "--threads", str(threads),
                          "--cases", ",".join(sel_torch)] + common)
            raw += s + t
            best(swift, s)
            best(torch, t)
            print(f"# threads {threads}, round {rnd + 1}/{args.rounds} done ({time.time() - start:.0f} s)", file=sys.stderr)

    for threads, (swift, torch) in tables.items():
        rows = []
        for case in ORDER:
            for mode in ["forward", "train", "step", "op", "epoch"]:
                s = swift.get((case, mode))
                if s is None:
                    continue
                t = torch.get((case if case != "stream-step-module" else "stream-step", mode))
                ratio = t["ms"] / s["ms"] if t else None
                roof = s.get("roofline_fraction")
                target = TARGETS.get(case) if threads == 1 and case != "stream-step-module" else None
                ok = "" if target is None or ratio is None else ("yes" if ratio >= target else "NO")
                rows.append((case, mode, fmt_time(s["ms"]), fmt_time(t["ms"]) if t else "",
                             f"{ratio:.2f}x" if ratio else "", f"{s['gflops']:.1f}" if "gflops" in s else "",
                             f"{t['gflops']:.1f}" if t and "gflops" in t else "",
                             f"{roof * 100:.0f}%" if roof else "",
                             f"{target}x {ok}" if target else ""))
        header = ("case", "mode", "Swift", "PyTorch", "speed-up", "Swift GF/s", "PyTorch GF/s", "roofline", "target (1 thread)")
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
        # No case may get slower with more threads.
        print()
        print("Two threads against one (Swift): time(2) / time(1), > 1 means slower")
        s1, _ = tables[1]
        for threads, (sN, _) in tables.items():
            if threads == 1:
                continue
            for key, r in sorted(sN.items(), key=lambda kv: (ORDER.index(kv[0][0]) if kv[0][0] in ORDER else 99)):
                if key in s1:
                    q = r["ms"] / s1[key]["ms"]
                    print(f"  {key[0]:20} {key[1]:8} {q:.2f}{'  SLOWER' if q > 1.05 else ''}")
    if args.save:
        with open(args.save, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
