#!/usr/bin/env python3
"""Fixtures for the cells beyond PyTorch's, from onnxruntime.

Builds single-node ONNX LSTM (with peepholes `P`) and GRU (`linear_before_reset` 0 and 1)
models with `onnx.helper`, random weights, biases and initial states, runs them with
onnxruntime, and writes the inputs, the ONNX tensors (W, R, B, P, in ONNX's layout and gate
orders: LSTM iofc, GRU zrh) and the outputs Y, Y_h (and Y_c) to
Tests/RecurrentTests/Fixtures/onnx/<name>.json, each tensor as {"shape": [...], "data": [...]}.

Only for generating the fixtures (the tests and CI read the JSON): needs numpy, onnx and
onnxruntime.  Run from the repository root:  python3 Scripts/onnx_cell_fixtures.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "RecurrentTests", "Fixtures", "onnx")


def tensor(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def run(op, name, T, B, I, H, directions, seed, lengths=None, peepholes=False, linear_before_reset=None):
    rng = np.random.default_rng(seed)
    G = 4 if op == "LSTM" else 3
    D = 2 if directions == "bidirectional" else 1
    bound = 1 / np.sqrt(H)
    feeds = {
        "X": rng.uniform(-1, 1, (T, B, I)).astype(np.float32),
        "W": rng.uniform(-bound, bound, (D, G * H, I)).astype(np.float32),
        "R": rng.uniform(-bound, bound, (D, G * H, H)).astype(np.float32),
        "B": rng.uniform(-bound, bound, (D, 2 * G * H)).astype(np.float32),
        "initial_h": rng.uniform(-0.5, 0.5, (D, B, H)).astype(np.float32),
    }
    if op == "LSTM":
        feeds["initial_c"] = rng.uniform(-0.5, 0.5, (D, B, H)).astype(np.float32)
        if peepholes:
            feeds["P"] = rng.uniform(-bound, bound, (D, 3 * H)).astype(np.float32)
    if lengths is not None:
        feeds["sequence_lens"] = np.asarray(lengths, dtype=np.int32)

    # Optional inputs by position: X, W, R, B, sequence_lens, initial_h, initial_c, P.
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h"] + (["initial_c", "P"] if op == "LSTM" else [])
    node_inputs = [k if k in feeds else "" for k in order]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    attributes = {"hidden_size": H, "direction": directions}
    if linear_before_reset is not None:
        attributes["linear_before_reset"] = linear_before_reset
    node = helper.make_node(op, node_inputs, outputs, **attributes)
    graph_inputs = [helper.make_tensor_value_info(k, TensorProto.INT32 if k == "sequence_lens" else TensorProto.FLOAT,
                                                  list(feeds[k].shape)) for k in order if k in feeds]
    graph_outputs = [helper.make_tensor_value_info(k, TensorProto.FLOAT, shape) for k, shape in
                     zip(outputs, [[T, D, B, H], [D, B, H], [D, B, H]])]
    graph = helper.make_graph([node], name, graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    results = dict(zip(outputs, session.run(outputs, feeds)))

    fixture = {
        "config": {"op": op, "T": T, "B": B, "I": I, "H": H, "direction": directions,
                   "peepholes": peepholes, "linear_before_reset": linear_before_reset or 0,
                   "lengths": lengths, "onnxruntime": ort.__version__, "seed": seed},
        "inputs": {k: tensor(v) for k, v in feeds.items() if k != "sequence_lens"},
        "outputs": {k: tensor(v) for k, v in results.items()},
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
    print(name, {k: v.shape for k, v in results.items()})


def main():
    run("LSTM", "lstm_peephole", T=5, B=3, I=4, H=6, directions="forward", seed=1, peepholes=True)
    run("LSTM", "lstm_peephole_bidirectional_lengths", T=6, B=3, I=3, H=5, directions="bidirectional", seed=2,
        lengths=[6, 2, 4], peepholes=True)
    run("LSTM", "lstm_plain_reverse", T=4, B=2, I=3, H=5, directions="reverse", seed=3)
    run("GRU", "gru_reset_before", T=5, B=3, I=4, H=6, directions="forward", seed=4, linear_before_reset=0)
    run("GRU", "gru_reset_before_bidirectional_lengths", T=6, B=3, I=3, H=5, directions="bidirectional", seed=5,
        lengths=[6, 3, 1], linear_before_reset=0)
    run("GRU", "gru_reset_after", T=5, B=2, I=4, H=6, directions="forward", seed=6, linear_before_reset=1)
    run("GRU", "gru_reset_after_bidirectional_lengths", T=5, B=3, I=2, H=4, directions="bidirectional", seed=7,
        lengths=[2, 5, 3], linear_before_reset=1)


if __name__ == "__main__":
    main()
