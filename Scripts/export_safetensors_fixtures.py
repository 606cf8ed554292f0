#!/usr/bin/env python3
"""Export the safetensors fixtures of the Recurrent test suite (SafeTensorsTests).

It trains three small PyTorch models on synthetic data and saves each ``state_dict()``
with ``safetensors.torch.save_file`` (the file a PyTorch user would hand over), together
with the model's outputs on a few inputs (JSON):

- ``lstm_classifier``: ``nn.LSTM(4, 8, num_layers=2, batch_first=True)`` and
  ``nn.Linear(8, 3)`` on the last step's output, three classes of noisy sinusoids;
- ``gru_classifier``: ``nn.GRU(3, 5, num_layers=2, bidirectional=True)`` (sequence first)
  and ``nn.Linear(10, 2)`` on the last step's output;
- ``rnn_regressor``: ``nn.RNN(4, 6, nonlinearity="relu", bias=False, batch_first=True)``
  and ``nn.Linear(6, 1)``.

It also writes the files that test the dtype conversions and the format's corners:

- ``values_f32``, ``values_f64``, ``values_f16``, ``values_bf16``: the same tensors
  (random values, special values: signed zeros, infinities, NaN, the largest and
  smallest halves, values that round up or overflow) stored in each dtype, as PyTorch
  converts them (``.double()``, ``.half()``, ``.bfloat16()``), plus ``fine``, made in
  float64 so that its float32 reading rounds;
- ``mixed_dtypes``: one tensor of every other dtype PyTorch writes (I64, I32, I16, I8, U8,
  BOOL, F8_E4M3, F8_E5M2);
- ``metadata``: a ``__metadata__`` map, a zero-sized tensor ``(0, 3)``, a scalar (shape
  ``[]``) and names with dots, slashes, quotes and non-ASCII letters.

``values.json`` holds, for every tensor of every file above, the float32 values PyTorch
reads (``tensor.float()``); NaN and infinities are the strings ``"nan"``, ``"inf"``,
``"-inf"``. Floats are written exactly (the shortest repr of the float32 value).

Usage::

    python3 Scripts/export_safetensors_fixtures.py           # Tests/RecurrentTests/Fixtures/safetensors
    python3 Scripts/export_safetensors_fixtures.py --out DIR
    python3 Scripts/export_safetensors_fixtures.py --verify-swift FILE.safetensors FILE.json
        # loads a state dict written by the Swift library into the LSTM classifier with
        # strict=True and compares its outputs with the JSON the Swift test wrote

Deterministic: every part seeds ``torch.manual_seed`` itself; two runs with the same
PyTorch version write identical files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

DEFAULT_OUT = os.path.join("Tests", "RecurrentTests", "Fixtures", "safetensors")


def encode(t: torch.Tensor) -> dict:
    """A tensor as {"shape", "data"} with its exact float32 values."""
    values = []
    for v in t.detach().float().reshape(-1).tolist():
        if math.isnan(v):
            values.append("nan")
        elif math.isinf(v):
            values.append("inf" if v > 0 else "-inf")
        else:
            values.append(v)
    return {"shape": list(t.shape), "data": values}


def write_json(path: str, obj: dict) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------

class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 8, num_layers=2, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


class GRUClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 5, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(10, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.fc(out[-1])


class RNNRegressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(4, 6, nonlinearity="relu", bias=False, batch_first=True)
        self.fc = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def sinusoids(n: int, steps: int, features: int, classes: int, generator: torch.Generator):
    """Noisy sinusoids whose frequency is the class: (n, steps, features), labels (n,)."""
    labels = torch.randint(0, classes, (n,), generator=generator)
    t = torch.arange(steps, dtype=torch.float32)
    phase = torch.rand(n, 1, generator=generator) * 2 * math.pi
    freq = (0.4 + 0.5 * labels.float()).unsqueeze(1)
    x = torch.randn(n, steps, features, generator=generator) * 0.2
    x[:, :, 0] += torch.sin(freq * t + phase)
    x[:, :, 1] += torch.cos(freq * t + phase)
    return x, labels


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, epochs: int, batch_first: bool) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    n = x.shape[0] if batch_first else x.shape[1]
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        for start in range(0, n, 32):
            xb = x[start:start + 32] if batch_first else x[:, start:start + 32]
            yb = y[start:start + 32]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
    return float(loss.detach())


def export_model(out: str, name: str, model: nn.Module, x_train, y_train, x_test, loss_fn, epochs: int,
                 batch_first: bool, config: dict, accuracy: bool) -> None:
    final_loss = train(model, x_train, y_train, loss_fn, epochs, batch_first)
    model.eval()
    with torch.no_grad():
        outputs = model(x_test)
        report = {"final_training_loss": final_loss}
        if accuracy:
            predictions = model(x_train).argmax(dim=1)
            report["training_accuracy"] = float((predictions == y_train).float().mean())
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(out, f"{name}.safetensors"))
    write_json(os.path.join(out, f"{name}.json"), {
        "config": config,
        "state_dict_keys": list(state.keys()),
        "input": encode(x_test),
        "output": encode(outputs),
        "training": report,
    })


def export_models(out: str) -> None:
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(11)
    x, y = sinusoids(256, 10, 4, 3, g)
    x_test, _ = sinusoids(5, 10, 4, 3, g)
    export_model(out, "lstm_classifier", LSTMClassifier(), x, y, x_test, nn.CrossEntropyLoss(), 25, True,
                 {"lstm": "LSTM(4, 8, num_layers=2, batch_first=True)", "fc": "Linear(8, 3)",
                  "forward": "fc(lstm(x)[0][:, -1])"}, accuracy=True)

    torch.manual_seed(2)
    g = torch.Generator().manual_seed(12)
    x, y = sinusoids(128, 7, 3, 2, g)
    x_test, _ = sinusoids(4, 7, 3, 2, g)
    export_model(out, "gru_classifier", GRUClassifier(), x.transpose(0, 1).contiguous(), y,
                 x_test.transpose(0, 1).contiguous(), nn.CrossEntropyLoss(), 15, False,
                 {"gru": "GRU(3, 5, num_layers=2, bidirectional=True)", "fc": "Linear(10, 2)",
                  "forward": "fc(gru(x)[0][-1])", "input_layout": "(L, N, features)"}, accuracy=True)

    torch.manual_seed(3)
    g = torch.Generator().manual_seed(13)
    x = torch.randn(128, 6, 4, generator=g)
    y = x.sum(dim=(1, 2)).unsqueeze(1) * 0.1
    x_test = torch.randn(3, 6, 4, generator=g)
    export_model(out, "rnn_regressor", RNNRegressor(), x, y, x_test, nn.MSELoss(), 15, True,
                 {"rnn": "RNN(4, 6, nonlinearity='relu', bias=False, batch_first=True)", "fc": "Linear(6, 1)",
                  "forward": "fc(rnn(x)[0][:, -1])"}, accuracy=False)


# ---------------------------------------------------------------------------------------
# Dtypes and corners of the format
# ---------------------------------------------------------------------------------------

SPECIAL = [0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), float("nan"),
           65504.0,          # largest half
           65519.0,          # rounds down to 65504 in half
           65520.0,          # overflows to inf in half
           6.1035156e-05,    # smallest normal half
           5.9604645e-08,    # smallest subnormal half
           2.9802322e-08,    # exactly half the smallest subnormal: ties to even, 0
           4.4703484e-08,    # 0.75 of the smallest subnormal: rounds up
           1.0009765625,     # 1 + 2^-10, exact in half, tie in bfloat16
           1.00048828125,    # 1 + 2^-11: a tie in half (to even, 1)
           1.00146484375,    # 1 + 3 * 2^-11: a tie in half (to even, up)
           3.0e38, -1.0e-40,  # beyond half/bfloat16 range, a float32 subnormal
           3.3895314e38]     # largest bfloat16


def export_values(out: str, expected: dict) -> None:
    torch.manual_seed(4)
    x = torch.randn(3, 5) * 3
    special = torch.tensor(SPECIAL, dtype=torch.float32)
    fine64 = torch.randn(2, 3, dtype=torch.float64) / 3
    base = {"x": x, "special": special}
    files = {
        "values_f32": {**base, "fine": fine64.float()},
        "values_f64": {**{k: v.double() for k, v in base.items()}, "fine": fine64},
        "values_f16": {k: v.half() for k, v in base.items()},
        "values_bf16": {k: v.bfloat16() for k, v in base.items()},
    }
    for name, tensors in files.items():
        save_file(tensors, os.path.join(out, f"{name}.safetensors"))
        expected[name] = {k: encode(v) for k, v in tensors.items()}

    mixed = {
        "i64": torch.tensor([[-(2 ** 40), -1], [0, 2 ** 24 + 1]], dtype=torch.int64),
        "i32": torch.tensor([-(2 ** 31), 2 ** 31 - 1, 7], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767, -3], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0, -1], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True], dtype=torch.bool),
        "f8_e4m3": torch.tensor([0.0, -0.0, 1.0, -1.5, 448.0, 0.001953125, 0.013671875, 3.25, float("nan")],
                                dtype=torch.float32).to(torch.float8_e4m3fn),
        "f8_e5m2": torch.tensor([0.0, 1.0, -1.25, 57344.0, 1.52587890625e-05, float("inf"), float("-inf"), 3.5],
                                dtype=torch.float32).to(torch.float8_e5m2),
    }
    save_file(mixed, os.path.join(out, "mixed_dtypes.safetensors"))
    expected["mixed_dtypes"] = {k: encode(v) for k, v in mixed.items()}

    corners = {
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(3.5),
        "layer.0/weight:\u00fc\"quoted\"": torch.tensor([1.25, -0.5]),
        "vector": torch.arange(4, dtype=torch.float32),
    }
    metadata = {"format": "pt", "note": "written by export_safetensors_fixtures.py \u2713 \"quoted\"\n", "epochs": "25"}
    save_file(corners, os.path.join(out, "metadata.safetensors"), metadata=metadata)
    expected["metadata"] = {k: encode(v) for k, v in corners.items()}
    expected["metadata.__metadata__"] = metadata


def verify_swift(path: str, json_path: str) -> int:
    """Loads a Swift-written state dict into LSTMClassifier with strict=True and compares outputs."""
    with open(json_path) as f:
        reference = json.load(f)
    model = LSTMClassifier()
    state = load_file(path)
    result = model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.tensor(reference["input"]["data"], dtype=torch.float32).reshape(reference["input"]["shape"])
    expected = torch.tensor(reference["output"]["data"], dtype=torch.float32).reshape(reference["output"]["shape"])
    with torch.no_grad():
        got = model(x)
    diff = (got - expected).abs().max().item()
    print(f"load_state_dict(strict=True): {result}; keys {sorted(state.keys())}")
    print(f"max |PyTorch output - Swift output| = {diff:.3g}")
    return 0 if diff <= 1e-5 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--verify-swift", nargs=2, metavar=("SAFETENSORS", "JSON"))
    args = parser.parse_args()
    if args.verify_swift:
        return verify_swift(*args.verify_swift)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    export_models(args.out)
    expected: dict = {}
    export_values(args.out, expected)
    write_json(os.path.join(args.out, "values.json"), expected)
    for name in sorted(os.listdir(args.out)):
        print(f"{os.path.getsize(os.path.join(args.out, name)):8d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
