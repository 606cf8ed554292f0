#!/usr/bin/env python3
"""Counts the lines of each PyTorch program in Scripts/ports and of its Swift port in
Tests/RecurrentTests/Ports: non-blank lines that are not comments (Python `#` lines and the
module docstring, Swift `//` and `///` lines), without the regions between `fixture:begin`
and `fixture:end` markers (what writes the fixture in Python, what reads and compares it in
Swift). Prints each pair's counts and ratio.

Usage: python3 Scripts/ports/count_lines.py
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
PORTS = os.path.join(HERE, "..", "..", "Tests", "RecurrentTests", "Ports")
PAIRS = [("lstm_tagger.py", "LSTMTaggerPortTests.swift"),
         ("airline_regression.py", "AirlineRegressionPortTests.swift"),
         ("char_rnn_names.py", "CharRNNNamesPortTests.swift")]


def count(path, comment):
    text = open(path).read()
    if comment == "#":
        text = re.sub(r'\A(#![^\n]*\n)?\s*""".*?"""', "", text, flags=re.S)
    n, skipping = 0, False
    for line in text.splitlines():
        s = line.strip()
        if s.endswith("fixture:begin"):
            skipping = True
        elif s.endswith("fixture:end"):
            skipping = False
        elif s and not skipping and not s.startswith(comment):
            n += 1
    return n


for py, swift in PAIRS:
    p, s = os.path.join(HERE, py), os.path.join(PORTS, swift)
    if os.path.exists(p) and os.path.exists(s):
        a, b = count(p, "#"), count(s, "//")
        print(f"{py}: {a} lines; {swift}: {b} lines; ratio {b / a:.3f}")
