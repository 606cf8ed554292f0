#!/usr/bin/env python3
"""PyTorch's side of recurrent-ddp-bench: samples per second of LSTM training with
DistributedDataParallel over Gloo, the same model, batch and timing.

    python3 Scripts/torch_ddp_bench.py --processes 2 --threads 1 [--json]
    python3 Scripts/torch_ddp_bench.py --processes 1 --threads 1      # one process, no DDP

The model is lstm-medium's shapes, LSTM(64 -> 128, 2 layers, batch_first) on sequences of
50, with a Linear(128 -> 10) head on the last layer's final state, cross-entropy and SGD
(lr 0.01), at a global batch of 64 split evenly over the processes. Each timed sample is
`--steps` training steps after a barrier; the slowest rank's time per step counts, and the
median of `--repeat` samples is reported, as recurrent-ddp-bench does.
"""
import argparse
import json
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn


class LSTMClassifier(nn.Module):
    def __init__(self, inp, hidden, layers, classes):
        super().__init__()
        self.lstm = nn.LSTM(inp, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, args, port, queue):
    torch.set_num_threads(args.threads)
    distributed = args.processes > 1
    if distributed:
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(port)
        dist.init_process_group("gloo", rank=rank, world_size=args.processes)
    torch.manual_seed(1)
    model = LSTMClassifier(args.input, args.hidden, args.layers, 10)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)   # bucket_cap_mb=25, as recurrent
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    local = args.global_batch // args.processes
    generator = torch.Generator().manual_seed(10 + rank)
    x = torch.rand(local, args.sequence, args.input, generator=generator) * 2 - 1
    y = torch.randint(0, 10, (local,), generator=generator)
    criterion = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()   # DDP all-reduces the gradient buckets during backward
        optimizer.step()

    for _ in range(args.warmup):
        step()
    samples = []
    for _ in range(args.repeat):
        if distributed:
            dist.barrier()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        elapsed = torch.tensor([(time.perf_counter() - start) / args.steps], dtype=torch.float64)
        if distributed:
            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
        samples.append(elapsed.item())
    if rank == 0:
        per_step = statistics.median(samples)
        parameters = sum(p.numel() for p in model.parameters())
        queue.put({
            "implementation": "pytorch", "backend": "gloo" if distributed else "none",
            "processes": args.processes, "threadsPerProcess": args.threads, "globalBatch": args.global_batch,
            "input": args.input, "hidden": args.hidden, "layers": args.layers, "sequence": args.sequence,
            "parameters": parameters, "gradientBytesPerStep": 4 * parameters,
            "secondsPerStep": per_step, "samplesPerSecond": args.global_batch / per_step,
            "torch": torch.__version__,
        })
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--sequence", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.processes < 1 or args.global_batch % args.processes:
        parser.error("--global-batch must be a multiple of --processes (at least 1)")
    context = mp.get_context("spawn")
    queue = context.SimpleQueue()
    port = free_port()
    processes = [context.Process(target=worker, args=(rank, args, port, queue)) for rank in range(args.processes)]
    for p in processes:
        p.start()
    result = queue.get()
    for p in processes:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a worker exited with status {p.exitcode}")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"pytorch {result['processes']} process(es) x {result['threadsPerProcess']} thread(s): "
              f"{result['samplesPerSecond']:.1f} samples/s ({result['secondsPerStep'] * 1e3:.2f} ms/step)")


if __name__ == "__main__":
    main()
