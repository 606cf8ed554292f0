#!/usr/bin/env python3
"""The cases of `recurrent-bench` in PyTorch, with the same timing and the same JSON.

    python3 Scripts/torch_bench.py [--threads N] [--json] [--cases a,b] [--repeat K] [--list]

The module cases are `nn.RNN`, `nn.LSTM` or `nn.GRU` with `batch_first=True` (and
`bidirectional=True` for the `-bidir` cases), built right after `torch.manual_seed(1)`, on an
input drawn from U(-1, 1) after it (`build_case`, which Scripts/onnx_bench.py shares).
Forward passes run under `torch.no_grad()`; forward-only cases (`lstm-latency`) time no
training step; a training step is forward, `output.sum()`,
backward and zeroing the gradients. `stream-step` is one `nn.RNNCell` step (input 64,
hidden 128, batch 1) carrying its state, under `no_grad`. `autograd-op` is the cost of one
small recorded op (forward and backward) in a chain of 91; `names-epoch` is one epoch of
the seed tutorial's names classifier (the i2h/i2o cell, hidden 128, NLL loss, manual SGD
with lr 0.005), one name per step.
"""
import argparse
import collections
import json
import os
import string
import sys
import time
import unicodedata

import torch
import torch.nn as nn

# A module case, as in Benchmarks/RecurrentBench/Cases.swift: batch-first input
# (batch, steps, input); `bidirectional` runs both directions in every layer; a
# `forward_only` case times no training step.
Case = collections.namedtuple("Case", "name input hidden layers batch steps kind bidirectional forward_only",
                              defaults=(False, False))

MODULE_CASES = [
    Case("seed-tiny", 10, 20, 2, 5, 7, "RNN"),
    Case("small", 32, 64, 1, 16, 32, "RNN"),
    Case("medium", 64, 128, 2, 32, 50, "RNN"),
    Case("large", 256, 512, 1, 64, 100, "RNN"),
    Case("deepbench", 1760, 1760, 1, 16, 50, "RNN"),
    Case("lstm-medium", 64, 128, 2, 32, 50, "LSTM"),
    Case("gru-medium", 64, 128, 2, 32, 50, "GRU"),
    Case("lstm-bidir", 64, 128, 2, 32, 50, "LSTM", bidirectional=True),
    Case("gru-bidir", 64, 128, 2, 32, 50, "GRU", bidirectional=True),
    Case("lstm-large", 256, 512, 2, 64, 100, "LSTM"),
    Case("lstm-latency", 64, 256, 2, 1, 100, "LSTM", forward_only=True),
    Case("lstm-batch4", 64, 256, 2, 4, 100, "LSTM"),
    # PyTorch has no fused layer-normalised LSTM: its reference cell (benchmarks/fastrnns/
    # custom_lstms.py, written out in Scripts/layernorm_cells_reference.py) in a Python loop.
    Case("ln-lstm-medium", 64, 128, 2, 32, 50, "LayerNormLSTM"),
]
EXTRA_CASES = ["stream-step", "autograd-op", "names-epoch"]
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3, "LayerNormLSTM": 4}


def clock(kind):
    return time.perf_counter if kind == "wall" else time.process_time


def measure(body, repeats, min_sample, now, warmup=0.05):
    """Median seconds per call: warm up, pick n calls per sample lasting >= min_sample."""
    start = now()
    calls = 0
    while True:
        body()
        calls += 1
        if now() - start >= warmup or calls >= 1000:
            break
    per_call = (now() - start) / calls
    n = max(1, int(-(-min_sample // max(per_call, 1e-9))))
    samples = []
    for _ in range(max(1, repeats)):
        s = now()
        for _ in range(n):
            body()
        samples.append((now() - s) / n)
    samples.sort()
    return samples[len(samples) // 2]


def forward_flops(case):
    """FLOPs of one forward pass: per layer and direction 2·T·B·G·(I_l·H + H·H), where I_l is
    the input size for the first layer and directions·H above it (as recurrent-bench counts)."""
    directions = 2 if case.bidirectional else 1
    total = 0.0
    for layer in range(case.layers):
        i = case.input if layer == 0 else directions * case.hidden
        total += directions * 2.0 * case.steps * case.batch * GATES[case.kind] * (i * case.hidden + case.hidden ** 2)
    return total


def build_case(case):
    """The case's module (weights drawn right after torch.manual_seed(1)) and its input
    (batch, steps, input) from U(-1, 1), drawn next."""
    torch.manual_seed(1)
    if case.kind == "LayerNormLSTM":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from layernorm_cells_reference import LayerNormLSTM
        kind = LayerNormLSTM
    else:
        kind = getattr(nn, case.kind)
    module = kind(case.input, case.hidden, num_layers=case.layers, batch_first=True,
                  bidirectional=case.bidirectional)
    x = torch.rand(case.batch, case.steps, case.input) * 2 - 1
    return module, x


def describe(case):
    """One line for --list."""
    text = (f"{case.name:16}{case.kind:6}input {case.input}, hidden {case.hidden}, layers {case.layers}, "
            f"batch {case.batch}, steps {case.steps}")
    if case.bidirectional:
        text += ", bidirectional"
    return text + ("; forward only" if case.forward_only else "; forward, train")


def module_case(case, args, now):
    name = case.name
    module, x = build_case(case)
    fl = forward_flops(case)
    results = []
    modes = args.modes.split(",")
    if "forward" in modes:
        def fwd():
            with torch.no_grad():
                module(x)
        t = measure(fwd, args.repeat, args.min_sample, now)
        results.append(dict(case=name, mode="forward", seconds=t, flops=fl))
    if "train" in modes and not case.forward_only:
        params = list(module.parameters())

        def train():
            out, _ = module(x)
            out.sum().backward()
            for p in params:
                p.grad = None
        t = measure(train, args.repeat, args.min_sample, now)
        results.append(dict(case=name, mode="train", seconds=t, flops=3 * fl))
    return results


def stream_step(args, now):
    torch.manual_seed(1)
    cell = nn.RNNCell(64, 128)
    x = torch.rand(1, 64) * 2 - 1
    state = {"h": torch.zeros(1, 128)}

    def step():
        with torch.no_grad():
            state["h"] = cell(x, state["h"])
    t = measure(step, args.repeat, args.min_sample, now)
    return [dict(case="stream-step", mode="step", seconds=t, flops=2.0 * 128 * (64 + 128),
                 extra={"api": "nn.RNNCell"})]


def autograd_op(args, now):
    torch.manual_seed(7)
    w = (torch.rand(1, 20) * 2 - 1).requires_grad_()
    b = (torch.rand(1, 20) * 2 - 1).requires_grad_()
    x = torch.rand(1, 20) * 2 - 1
    rounds = 30
    ops = rounds * 3 + 1

    def chain():
        y = x
        for _ in range(rounds):
            y = torch.tanh(y * w + b)
        y.sum().backward()
        w.grad = None
        b.grad = None
    t = measure(chain, args.repeat, args.min_sample, now)
    return [dict(case="autograd-op", mode="op", seconds=t / ops, extra={"ops_per_iteration": ops})]


ALL_LETTERS = string.ascii_letters + " .,;'"


def load_names(directory):
    files = sorted(f for f in os.listdir(directory) if f.endswith(".txt"))
    items = []
    for k, f in enumerate(files):
        with open(os.path.join(directory, f), encoding="utf-8") as fh:
            for line in fh.read().splitlines():
                letters = [ALL_LETTERS.index(c) for c in unicodedata.normalize("NFD", line)
                           if c in ALL_LETTERS]
                if letters:
                    items.append((k, letters))
    return [f[:-4] for f in files], items


class TutorialRNN(nn.Module):
    """The seed tutorial's cell: i2h and i2o on cat(input, hidden), log-softmax output.

    As in CombinedCell, the output is computed from the new hidden state."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, x, hidden):
        combined = torch.cat((x, hidden), 1)
        hidden = self.i2h(combined)
        output = self.softmax(self.i2o(hidden))
        return output, hidden

    def init_hidden(self):
        return torch.zeros(1, self.hidden_size)


def names_epoch(args, now):
    directory = args.names_data
    categories, items = load_names(directory)
    torch.manual_seed(0)
    rnn = TutorialRNN(len(ALL_LETTERS), 128, len(categories))
    criterion = nn.NLLLoss()
    letters = torch.eye(len(ALL_LETTERS)).unsqueeze(1)  # (57, 1, 57)
    lr = 0.005

    def train(category, name):
        hidden = rnn.init_hidden()
        rnn.zero_grad()
        for l in name:
            output, hidden = rnn(letters[l], hidden)
        loss = criterion(output, torch.tensor([category]))
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-lr)
        return loss.item()

    for c, n in items[:500]:
        train(c, n)
    samples = []
    mean_loss = 0.0
    for _ in range(max(1, args.names_epochs)):
        s = now()
        total = 0.0
        for c, n in items:
            total += train(c, n)
        samples.append(now() - s)
        mean_loss = total / len(items)
    samples.sort()
    return [dict(case="names-epoch", mode="epoch", seconds=samples[len(samples) // 2],
                 extra={"names": len(items), "mean_loss": round(mean_loss, 4)})]


def common_arguments(doc, modes):
    """The options torch_bench.py and onnx_bench.py share (those of recurrent-bench)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--cases", default=None, help="comma-separated cases (default: all)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--min-sample", type=float, default=0.02)
    p.add_argument("--modes", default=modes)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    return p


def selected_cases(args):
    """The --cases names (all when absent); exits naming the known ones for an unknown one."""
    known = [c.name for c in MODULE_CASES] + EXTRA_CASES
    selected = args.cases.split(",") if args.cases else known
    for s in selected:
        if s not in known:
            sys.exit(f"unknown case {s}; known: {', '.join(known)}")
    return selected


def format_seconds(sec):
    return f"{sec:.3f} s" if sec >= 1 else (f"{sec * 1e3:.3f} ms" if sec >= 1e-3 else f"{sec * 1e6:.3f} µs")


def main():
    p = common_arguments(__doc__, "forward,train")
    p.add_argument("--names-epochs", type=int, default=1)
    here = os.path.dirname(os.path.abspath(__file__))
    default_names = os.path.join(here, "..", "Examples", "Support", "Resources", "names")
    if not os.path.isdir(default_names):
        default_names = "/work/shared/data/names"
    p.add_argument("--names-data", default=default_names)
    args = p.parse_args()
    if args.list:
        for c in MODULE_CASES:
            print(describe(c))
        for name in EXTRA_CASES:
            print(name)
        return

    torch.set_num_threads(args.threads)
    now = clock(args.clock)
    selected = selected_cases(args)
    if args.json:
        # Which vector kernels PyTorch's own ops run (oneDNN picks its LSTM/GRU kernels alike,
        # within ONEDNN_MAX_CPU_ISA).
        print(json.dumps({"note": f"PyTorch {torch.__version__} CPU capability: {torch.backends.cpu.get_cpu_capability()}"}), flush=True)
    if not args.json:
        print(f"torch_bench: torch {torch.__version__}, {torch.get_num_threads()} thread(s), median of {args.repeat}")
        print(f"{'case':18}{'mode':8}{'time':>13}{'GFLOP/s':>10}")
    for name in selected:
        case = next((c for c in MODULE_CASES if c.name == name), None)
        if case:
            results = module_case(case, args, now)
        elif name == "stream-step":
            results = stream_step(args, now)
        elif name == "autograd-op":
            results = autograd_op(args, now)
        else:
            results = names_epoch(args, now)
        for r in results:
            sec = r["seconds"]
            gf = r["flops"] / sec / 1e9 if r.get("flops") else None
            if args.json:
                obj = {"impl": "torch", "case": r["case"], "mode": r["mode"], "threads": torch.get_num_threads(),
                       "ms": sec * 1e3, "us": sec * 1e6}
                if gf is not None:
                    obj["gflops"] = gf
                obj.update(r.get("extra", {}))
                print(json.dumps(obj), flush=True)
            else:
                print(f"{r['case']:18}{r['mode']:8}{format_seconds(sec):>13}{(f'{gf:.1f}' if gf else ''):>10}", flush=True)


if __name__ == "__main__":
    main()
