#!/usr/bin/env python3
"""The data-parallel benchmark of BENCHMARKS.md ("Past one machine"), every configuration in
the same run: samples per second of LSTM training (lstm-medium shapes, global batch 64) for

  - recurrent, one process at one thread         (.build/release/recurrent-ddp-bench --threads 1)
  - recurrent, one process at two threads        (--threads 2)
  - recurrent, two processes at one thread each  (mpirun -np 2 ... --threads 1, DistributedDataParallel)
  - PyTorch DDP (Gloo), two processes at one thread each   (Scripts/torch_ddp_bench.py)
  - PyTorch, one process at one thread           (for reference)

in alternating rounds (each round runs every configuration once; the median over rounds is
reported), so that a change in the machine's load reaches every configuration alike.

    swift build -c release --product recurrent-ddp-bench
    python3 Scripts/ddp_bench.py [--rounds 5] [--steps 10] [--repeat 5] [--json]

Targets (issue 19): two processes >= 1.8x one process at one thread, >= 1.3x PyTorch DDP on two
processes; synchronisation <= 10 % of a step at two ranks.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, ".build", "release", "recurrent-ddp-bench")


def run(command):
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"no JSON line from {' '.join(command)}:\n{out}")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--sequence", type=int, default=50)
    parser.add_argument("--bench", default=BENCH, help="the recurrent-ddp-bench binary (a release build)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--json", action="store_true", help="print every result as a JSON line too")
    args = parser.parse_args()
    if not os.path.exists(args.bench):
        raise SystemExit(f"{args.bench} not found: swift build -c release --product recurrent-ddp-bench")
    common = ["--warmup", str(args.warmup), "--steps", str(args.steps), "--repeat", str(args.repeat),
              "--global-batch", str(args.global_batch), "--sequence", str(args.sequence), "--json"]
    mpirun = ["mpirun", "--oversubscribe", "-np", "2"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    torch = [sys.executable, os.path.join(ROOT, "Scripts", "torch_ddp_bench.py")]
    configurations = [
        ("recurrent 1 process x 1 thread", [args.bench, "--threads", "1"] + common),
        ("recurrent 1 process x 2 threads", [args.bench, "--threads", "2"] + common),
        ("recurrent 2 processes x 1 thread", mpirun + [args.bench, "--threads", "1"] + common),
    ]
    if not args.no_torch:
        configurations += [
            ("pytorch DDP gloo 2 processes x 1 thread", torch + ["--processes", "2", "--threads", "1"] + common),
            ("pytorch 1 process x 1 thread", torch + ["--processes", "1", "--threads", "1"] + common),
        ]
    results = {name: [] for name, _ in configurations}
    for r in range(args.rounds):
        for name, command in configurations:
            result = run(command)
            results[name].append(result)
            if args.json:
                print(json.dumps(dict(result, configuration=name, round=r), sort_keys=True))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    def rate(name):
        return statistics.median(x["samplesPerSecond"] for x in results[name])

    base = rate("recurrent 1 process x 1 thread")
    print(f"{'configuration':42} {'samples/s':>10} {'vs recurrent 1x1':>17} {'sync share':>11} {'all-reduce':>11}")
    for name, _ in configurations:
        sync = [x.get("synchronizeFraction") for x in results[name] if x.get("processes", 1) > 1 and "synchronizeFraction" in x]
        alone = [x.get("allReduceSeconds") for x in results[name] if x.get("processes", 1) > 1 and "allReduceSeconds" in x]
        sync_text = f"{100 * statistics.median(sync):.1f} %" if sync else "-"
        alone_text = f"{1e3 * statistics.median(alone):.2f} ms" if alone else "-"
        print(f"{name:42} {rate(name):10.1f} {rate(name) / base:16.2f}x {sync_text:>11} {alone_text:>11}")
    two = rate("recurrent 2 processes x 1 thread")
    print(f"\ntwo processes / one process at one thread: {two / base:.2f}x (target >= 1.8x)")
    if not args.no_torch:
        print(f"two processes / PyTorch DDP (gloo) on two: {two / rate('pytorch DDP gloo 2 processes x 1 thread'):.2f}x (target >= 1.3x)")
    first = results["recurrent 2 processes x 1 thread"][0]
    print(f"gradient bytes per rank per step: {first['gradientBytesPerStep']} ({first['parameters']} parameters, {first['buckets']} bucket(s))")


if __name__ == "__main__":
    main()
