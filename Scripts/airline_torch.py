#!/usr/bin/env python3
"""The airline example's protocol in PyTorch, for side-by-side figures with `airline --base srw --combine none`.

Protocol (the same as Examples/Airline/Library/ResidualForecaster.swift with the seasonal
random walk base fixed and no combination; the other candidate bases and the combinations
the Swift program chooses among, --base auto --combine auto, are not reproduced here):
  - series: Examples/Airline/Library/Resources/airline-passengers.csv, 144 months; the last 24
    are the test span, nothing is fitted on them;
  - residual of the seasonal random walk with drift on logs: r[t] = v[t] - (v[t-1] + v[t-12] -
    v[t-13]), v = log y, for t >= 13; standardised with the mean and the population standard
    deviation of the fitting span's residuals;
  - windows of --window residuals predict the next; model nn.RNN/LSTM/GRU(1, H, batch_first=True)
    + nn.Linear(H, 1) on the last step; Adam, full batch, MSE loss, optionally
    clip_grad_norm_(--clip);
  - an ensemble of --ensemble networks (member k seeded seed * ensemble + k; PyTorch's own
    initialisation, so the numbers differ from Swift's seeded ones);
  - validation, rolling origin: the last --validation training months (default 48, months
    72..119 = 1955-1958) split into --folds consecutive folds (default 4 of 12 months; sizes
    differ by at most 1, the later ones longer); for each fold the ensemble is fitted on the
    months before it and its one-step RMSE over the fold is measured every 10 epochs (and at
    the last); the epoch count with the lowest mean of the folds' RMSEs is chosen (at most
    --epochs); final: refitted on months < 120 for that many epochs;
  - forecast y[t] = exp(base[t] + mean + std * mean of the members' z_hat), one step ahead with
    the true history; RMSE in passengers over the test months.

Usage:
  python3 Scripts/airline_torch.py                                   # the Swift defaults, seeds 0-4
  python3 Scripts/airline_torch.py --model gru --hidden 8 --seeds 0
  python3 Scripts/airline_torch.py --seeds 1 --ensemble 1 --save-init /tmp/init.safetensors
  swift run -c release airline --base srw --combine none --ensemble 1 --init-weights /tmp/init.safetensors   # same start
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "..", "Examples", "Airline", "Library", "Resources", "airline-passengers.csv")
SEASON, TEST, EVERY = 12, 24, 10


def load_series(path=CSV):
    values = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line or number == 1:
                continue
            values.append(float(line.split(",")[1]))
    return values


class Model(nn.Module):
    def __init__(self, kind, hidden):
        super().__init__()
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = layer(1, hidden, num_layers=1, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


def rmse(forecast, actual):
    return math.sqrt(sum((f - a) ** 2 for f, a in zip(forecast, actual)) / len(actual))


def fit(y, end, epochs, args, seed, evaluation=None, save_init=None):
    """Trains the ensemble on the targets before `end`; returns the members, the standardisation
    and, with `evaluation`, the validation RMSE at each checkpoint."""
    v = [math.log(x) for x in y]
    first = SEASON + 1
    base = [0.0] * len(y)
    for t in range(first, len(y)):
        base[t] = v[t - 1] + v[t - SEASON] - v[t - SEASON - 1]
    r = [v[t] - base[t] if t >= first else 0.0 for t in range(len(y))]
    fitted = r[first:end]
    mean = sum(fitted) / len(fitted)
    std = math.sqrt(sum((x - mean) ** 2 for x in fitted) / len(fitted))
    z = [(x - mean) / std for x in r]
    L = args.window

    def windows(targets):
        return torch.tensor([[z[s] for s in range(t - L, t)] for t in targets], dtype=torch.float32).unsqueeze(-1)

    targets = list(range(first + L, end))
    x, target = windows(targets), torch.tensor([[z[t]] for t in targets], dtype=torch.float32)
    checkpoints = list(range(EVERY, epochs + 1, EVERY))
    if not checkpoints or checkpoints[-1] != epochs:
        checkpoints.append(epochs)
    sums = {c: [0.0] * len(evaluation) for c in checkpoints} if evaluation else {}
    members = []
    for k in range(args.ensemble):
        torch.manual_seed(seed * args.ensemble + k)
        model = Model(args.model, args.hidden)
        if save_init:
            from safetensors.torch import save_file
            save_file({n: p.detach().clone().contiguous() for n, p in model.state_dict().items()}, save_init)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        for epoch in range(1, epochs + 1):
            optimizer.zero_grad()
            loss = ((model(x) - target) ** 2).mean()
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            if evaluation and epoch in sums:
                with torch.no_grad():
                    for i, p in enumerate(model(windows(evaluation)).squeeze(-1).tolist()):
                        sums[epoch][i] += p / args.ensemble
        members.append(model)
    curve = [(c, rmse([math.exp(base[t] + mean + std * p) for t, p in zip(evaluation, sums[c])], [y[t] for t in evaluation]))
             for c in checkpoints] if evaluation else []

    def forecast(ts):
        with torch.no_grad():
            p = sum(m(windows(ts)).squeeze(-1) for m in members) / len(members)
        return [math.exp(base[t] + mean + std * q) for t, q in zip(ts, p.tolist())]

    return forecast, curve


def folds(end, validation, count):
    """The folds [lower, upper) of the `validation` values before `end`, as in Swift's
    ResidualForecaster.validationFolds."""
    start, short, longer = end - validation, validation // count, validation % count
    result, lower = [], start
    for f in range(count):
        size = short + (1 if f >= count - longer else 0)
        result.append((lower, lower + size))
        lower += size
    return result


def run(seed, args):
    y = load_series()
    n = len(y)
    end = n - TEST
    start = time.perf_counter()
    curves = []
    for lower, upper in folds(end, args.validation, args.folds):
        _, curve = fit(y, lower, args.epochs, args, seed, evaluation=list(range(lower, upper)),
                       save_init=None if curves else args.save_init)
        curves.append(curve)
    mean_curve = [(c[0][0], sum(rmse for _, rmse in c) / len(c)) for c in zip(*curves)]
    epochs, validation = min(mean_curve, key=lambda c: c[1])
    forecast, _ = fit(y, end, epochs, args, seed)
    seconds = time.perf_counter() - start
    test = list(range(end, n))
    srw = [y[t - 1] * y[t - SEASON] / y[t - SEASON - 1] for t in test]
    return dict(model=args.model, seed=seed, epochs=epochs, validationRMSE=validation,
                rmse=rmse(forecast(test), [y[t] for t in test]), trainSeconds=seconds,
                seasonalRandomWalkWithDriftRMSE=rmse(srw, [y[t] for t in test]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="rnn", choices=["rnn", "lstm", "gru"])
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--epochs", type=int, default=500, help="the most epochs; the validation folds choose")
    parser.add_argument("--hidden", type=int, default=4)
    parser.add_argument("--window", type=int, default=13)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--ensemble", type=int, default=10)
    parser.add_argument("--clip", type=float, default=1, help="the largest gradient norm of a step, 0 for none")
    parser.add_argument("--validation", type=int, default=48, help="the training months at the end that choose the epochs")
    parser.add_argument("--folds", type=int, default=4, help="the rolling-origin folds they are split into")
    parser.add_argument("--json", action="store_true", help="one JSON object per seed")
    parser.add_argument("--save-init", metavar="PATH",
                        help="save the initial weights (one seed, --ensemble 1) as safetensors, for `airline --init-weights PATH`")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.save_init and (len(seeds) != 1 or args.ensemble != 1):
        parser.error("--save-init needs exactly one seed and --ensemble 1")
    results = [run(s, args) for s in seeds]
    for r in results:
        if args.json:
            print(json.dumps(r, sort_keys=True))
        else:
            print(f"{r['model']} seed {r['seed']}: test RMSE {r['rmse']:6.2f}  (epochs {r['epochs']} chosen on the validation folds, "
                  f"mean RMSE {r['validationRMSE']:.2f}; {r['trainSeconds']:.1f}s)  seasonal random walk with drift "
                  f"{r['seasonalRandomWalkWithDriftRMSE']:.2f}")
    if not args.json and len(results) > 1:
        print(f"mean {sum(r['rmse'] for r in results) / len(results):.2f}")


if __name__ == "__main__":
    main()
