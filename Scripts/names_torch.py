#!/usr/bin/env python3
"""The names example's protocol in PyTorch, for side-by-side figures with `names`.

Protocol (identical to Examples/Names/Library/NamesData.swift and NamesTraining.swift):
  - data: Examples/Names/Library/Resources/names/*.txt, languages in file-name order; each name
    folded to ASCII (NFD, combining marks dropped, only a-z A-Z " .,;'" kept); within a
    language the name with index i goes to the test set when i % 5 == 0 (16,053 / 4,021);
  - tutorial (default): i2h = Linear(57 + 128, 128) over cat(onehot(letter), hidden),
    i2o = Linear(128, 18) on the new hidden, LogSoftmax; one name per step from a zero
    hidden state, NLLLoss on the output after the last letter, plain SGD lr 0.005
    (p -= lr * grad), epochs over the training names in an order shuffled each epoch;
  - --model rnn|lstm|gru: nn.RNN/LSTM/GRU(57, 128, batch_first=True) with a Linear(128, 18)
    head on each name's final state (pack_padded_sequence), cross-entropy, Adam lr 0.003,
    shuffled mini-batches of 32.
Reports test accuracy, per-language accuracy and seconds per epoch (training only), with
torch.set_num_threads(1).

Usage:
  python3 Scripts/names_torch.py                 # tutorial cell, 5 epochs
  python3 Scripts/names_torch.py --model gru --json
"""
import argparse
import glob
import json
import os
import random
import string
import time
import unicodedata

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = os.path.join(HERE, "..", "Examples", "Support", "Resources", "names")
LETTERS = string.ascii_letters + " .,;'"


def fold(s):
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn" and c in LETTERS)


def load():
    languages, train, test = [], [], []
    for path in sorted(glob.glob(os.path.join(NAMES, "*.txt"))):
        language = len(languages)
        languages.append(os.path.splitext(os.path.basename(path))[0])
        with open(path, encoding="utf-8") as f:
            names = [line.strip() for line in f.read().splitlines() if line.strip()]
        for i, name in enumerate(names):
            folded = fold(name)
            if not folded:
                continue
            (test if i % 5 == 0 else train).append(([LETTERS.index(c) for c in folded], language))
    return languages, train, test


class TutorialCell(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, x, hidden):
        hidden = self.i2h(torch.cat((x, hidden), 1))
        return self.softmax(self.i2o(hidden)), hidden

    def init_hidden(self):
        return torch.zeros(1, self.hidden_size)


class SequenceClassifier(nn.Module):
    def __init__(self, kind, input_size, hidden_size, classes):
        super().__init__()
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, classes)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)
        if isinstance(h, tuple):
            h = h[0]
        return self.fc(h[-1])


def batch(samples):
    steps = max(len(s[0]) for s in samples)
    x = torch.zeros(len(samples), steps, len(LETTERS))
    for b, (letters, _) in enumerate(samples):
        x[b, torch.arange(len(letters)), torch.tensor(letters)] = 1
    return x, torch.tensor([len(s[0]) for s in samples]), torch.tensor([s[1] for s in samples])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tutorial", choices=["tutorial", "rnn", "lstm", "gru"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    languages, train, test = load()
    lr = args.lr or (0.005 if args.model == "tutorial" else 0.003)
    print(f"{len(train)} train / {len(test)} test names, {len(languages)} languages; model {args.model}, lr {lr}")

    order = list(range(len(train)))
    seconds, cpu_seconds, epoch_losses = 0.0, 0.0, []
    if args.model == "tutorial":
        model = TutorialCell(len(LETTERS), args.hidden, len(languages))
        criterion = nn.NLLLoss()
        rows = torch.eye(len(LETTERS)).unsqueeze(1)   # one-hot (1, 57) per letter, precomputed
        targets = [torch.tensor([k]) for k in range(len(languages))]
        for epoch in range(args.epochs):
            rng.shuffle(order)
            start, cpu_start, total = time.perf_counter(), time.process_time(), 0.0
            for i in order:
                letters, language = train[i]
                hidden = model.init_hidden()
                model.zero_grad()
                for letter in letters:
                    output, hidden = model(rows[letter], hidden)
                loss = criterion(output, targets[language])
                loss.backward()
                for p in model.parameters():
                    p.data.add_(p.grad.data, alpha=-lr)
                total += loss.item()
            seconds += time.perf_counter() - start
            cpu_seconds += time.process_time() - cpu_start
            epoch_losses.append(total / len(order))
            print(f"epoch {epoch + 1}/{args.epochs}  loss {epoch_losses[-1]:.4f}  {time.perf_counter() - start:.2f}s", flush=True)

        def predict(samples):
            with torch.no_grad():
                result = []
                for letters, _ in samples:
                    hidden = model.init_hidden()
                    for letter in letters:
                        output, hidden = model(rows[letter], hidden)
                    result.append(int(output.argmax(1)))
                return result
    else:
        model = SequenceClassifier(args.model, len(LETTERS), args.hidden, len(languages))
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        criterion = nn.CrossEntropyLoss()
        for epoch in range(args.epochs):
            rng.shuffle(order)
            start, cpu_start, total = time.perf_counter(), time.process_time(), 0.0
            for b in range(0, len(order), args.batch_size):
                x, lengths, y = batch([train[i] for i in order[b:b + args.batch_size]])
                optimizer.zero_grad()
                loss = criterion(model(x, lengths), y)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(y)
            seconds += time.perf_counter() - start
            cpu_seconds += time.process_time() - cpu_start
            epoch_losses.append(total / len(order))
            print(f"epoch {epoch + 1}/{args.epochs}  loss {epoch_losses[-1]:.4f}  {time.perf_counter() - start:.2f}s", flush=True)

        def predict(samples):
            with torch.no_grad():
                result = []
                for b in range(0, len(samples), 512):
                    x, lengths, _ = batch(samples[b:b + 512])
                    result += model(x, lengths).argmax(1).tolist()
                return result

    predictions = predict(test)
    correct = [0] * len(languages)
    counts = [0] * len(languages)
    for (letters, language), p in zip(test, predictions):
        counts[language] += 1
        correct[language] += int(p == language)
    accuracy = sum(correct) / len(test)
    per_language = {languages[k]: correct[k] / counts[k] for k in range(len(languages))}
    print(f"Test accuracy: {accuracy:.4f}")
    print(f"Seconds per epoch: {seconds / args.epochs:.3f} (processor time {cpu_seconds / args.epochs:.3f})")
    for k, language in enumerate(languages):
        print(f"  {language:<12}{per_language[language]:.3f}")
    if args.json:
        print(json.dumps(dict(model=args.model, epochs=args.epochs, seed=args.seed, learningRate=lr,
                              testAccuracy=accuracy, perLanguageAccuracy=per_language, epochLosses=epoch_losses,
                              secondsPerEpoch=seconds / args.epochs, cpuSecondsPerEpoch=cpu_seconds / args.epochs), sort_keys=True))


if __name__ == "__main__":
    main()
