#!/usr/bin/env python3
"""The airline example's protocol in PyTorch, for side-by-side figures with `airline`.

Protocol (identical to Examples/Airline/Library/AirlineData.swift, `AirlineProtocol`):
  - series: Examples/Airline/Library/Resources/airline-passengers.csv, 144 months;
  - d[t] = log y[t] - log y[t-1]; standardised with the mean and the population standard
    deviation of the training differences d[1 .. n-25];
  - windows of 12 standardised differences predict the next one; training targets are the
    months 13 .. n-25 (107 windows), test targets the last 24 months;
  - model: nn.RNN/LSTM/GRU(1, 32, batch_first=True) + nn.Linear(32, 1) on the last step;
    Adam lr 0.01, 200 full-batch epochs, MSE loss;
  - forecast y[t] = y[t-1] * exp(mean + std * z_hat); RMSE in passengers over the test months.

Usage:
  python3 Scripts/airline_torch.py                      # rnn, seeds 0-4
  python3 Scripts/airline_torch.py --model lstm --seeds 0
  python3 Scripts/airline_torch.py --seeds 1 --save-init /tmp/init.safetensors
  swift run -c release airline --init-weights /tmp/init.safetensors    # same start, same curve
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "..", "Examples", "Support", "Resources", "airline-passengers.csv")
WINDOW, TEST = 12, 24


def load_series(path=CSV):
    values = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line or (number == 1 and line.startswith("month")):
                continue
            month, count = line.split(",")
            values.append(float(count))
    return values


def protocol(y):
    n = len(y)
    d = [0.0] + [math.log(y[t]) - math.log(y[t - 1]) for t in range(1, n)]
    first_test = n - TEST
    train_d = d[1:first_test]
    mean = sum(train_d) / len(train_d)
    std = math.sqrt(sum((v - mean) ** 2 for v in train_d) / len(train_d))
    z = [(v - mean) / std for v in d]
    train_targets = list(range(WINDOW + 1, first_test))
    test_targets = list(range(first_test, n))

    def windows(targets):
        x = torch.tensor([[z[s] for s in range(t - WINDOW, t)] for t in targets], dtype=torch.float32)
        return x.unsqueeze(-1)

    def targets_of(targets):
        return torch.tensor([[z[t]] for t in targets], dtype=torch.float32)

    return dict(mean=mean, std=std, train_targets=train_targets, test_targets=test_targets,
                train_x=windows(train_targets), train_y=targets_of(train_targets), test_x=windows(test_targets))


def rmse(y, forecast, targets):
    return math.sqrt(sum((f - y[t]) ** 2 for f, t in zip(forecast, targets)) / len(targets))


class Model(nn.Module):
    def __init__(self, kind, hidden):
        super().__init__()
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = layer(1, hidden, num_layers=1, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


def run(kind, seed, epochs, hidden, lr, save_init=None):
    y = load_series()
    p = protocol(y)
    torch.manual_seed(seed)
    model = Model(kind, hidden)
    if save_init:
        from safetensors.torch import save_file
        save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, save_init)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    start = time.perf_counter()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(p["train_x"]), p["train_y"])
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        z_hat = model(p["test_x"]).squeeze(-1).tolist()
    forecast = [y[t - 1] * math.exp(p["mean"] + p["std"] * z) for z, t in zip(z_hat, p["test_targets"])]
    tt = p["test_targets"]
    return dict(model=kind, seed=seed, rmse=rmse(y, forecast, tt), finalTrainLoss=loss.item(), trainSeconds=seconds,
                seasonalNaiveRMSE=rmse(y, [y[t - 12] for t in tt], tt), lastValueRMSE=rmse(y, [y[t - 1] for t in tt], tt))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="rnn", choices=["rnn", "lstm", "gru"])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--json", action="store_true", help="one JSON object per seed")
    parser.add_argument("--save-init", metavar="PATH",
                        help="save the initial weights (one seed) as safetensors, for `airline --init-weights PATH`")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.save_init and len(seeds) != 1:
        parser.error("--save-init needs exactly one seed")
    results = [run(args.model, s, args.epochs, args.hidden, args.lr, args.save_init) for s in seeds]
    for r in results:
        if args.json:
            print(json.dumps(r, sort_keys=True))
        else:
            print(f"{r['model']} seed {r['seed']}: test RMSE {r['rmse']:6.2f}  (final loss {r['finalTrainLoss']:.4f}, "
                  f"{r['trainSeconds']:.2f}s)  seasonal naive {r['seasonalNaiveRMSE']:.2f}  last value {r['lastValueRMSE']:.2f}")
    if not args.json and len(results) > 1:
        values = sorted(r["rmse"] for r in results)
        print(f"median {values[len(values) // 2]:.2f}, min {values[0]:.2f}, max {values[-1]:.2f}")


if __name__ == "__main__":
    main()
