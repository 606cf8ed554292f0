#!/usr/bin/env python3
"""Write the PyTorch reference fixture for ``Embedding`` (``torch.nn.Embedding``).

The file ``Tests/RecurrentTests/Fixtures/embedding.json`` uses the format of the other
fixtures (``Tests/RecurrentTests/Fixtures/README.md``): every tensor is
``{"shape": [...], "data": [flat row-major float32 values]}``. Its keys:

- ``module``: ``"Embedding"``; ``name``: ``"embedding"``.
- ``config``: the constructor arguments (``num_embeddings``, ``embedding_dim``,
  ``padding_idx``, given negative here so that it counts from the end) and
  ``padding_idx_normalized`` (what PyTorch stores: ``padding_idx`` made non-negative).
- ``parameters.weight``: the table as PyTorch initialised it (N(0, 1), padding row zero).
- ``inputs.indices``: a list of ints (row-major) and ``inputs.shape``, its shape
  ``(batch, seq)``. It repeats indices and uses the padding index.
- ``outputs.output``: ``embedding(indices)``, shape ``shape + [embedding_dim]``.
- ``grad_seeds.output``: a ``randn`` tensor of the output's shape; ``loss`` is
  ``(output * seed).sum()``; ``grads.weight`` is the gradient of the loss with respect to
  the weight (repeated indices accumulate; the padding row is zero).

The seed is ``torch.manual_seed(crc32("embedding"))``, as in ``generate_fixtures.py``, so two
runs give byte-identical files with the same PyTorch version.

Usage::

    python3 -m pip install torch
    python3 Scripts/embedding_fixture.py                     # writes the file
    python3 Scripts/embedding_fixture.py --out /tmp/fx       # somewhere else
    python3 Scripts/embedding_fixture.py --verify            # recompute and compare, write nothing
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib

import torch
import torch.nn as nn

NAME = "embedding"
DEFAULT_OUT = os.path.join("Tests", "RecurrentTests", "Fixtures")


def seed_for(name: str) -> int:
    """The per-case seed: CRC-32 of the case name (as in ``generate_fixtures.py``)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def enc(t: torch.Tensor) -> dict:
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def dec(d: dict) -> torch.Tensor:
    return torch.tensor(d["data"], dtype=torch.float32).reshape(d["shape"])


def run(config: dict, weight: torch.Tensor, indices: list, shape: list, seed: torch.Tensor = None) -> dict:
    """Embedding with ``weight`` on ``indices``; the gradient of ``(output * seed).sum()``."""
    m = nn.Embedding(config["num_embeddings"], config["embedding_dim"], padding_idx=config["padding_idx"])
    with torch.no_grad():
        m.weight.copy_(weight)
    output = m(torch.tensor(indices, dtype=torch.long).reshape(shape))
    if seed is None:
        seed = torch.randn(output.shape)
    loss = (output * seed).sum()
    loss.backward()
    return {"module": m, "output": output, "seed": seed, "loss": loss, "grad": m.weight.grad}


def make() -> dict:
    torch.manual_seed(seed_for(NAME))
    config = {"num_embeddings": 7, "embedding_dim": 4, "padding_idx": -2}
    m = nn.Embedding(**config)
    weight = m.weight.detach().clone()
    padding = m.padding_idx                      # 5: PyTorch stores it non-negative
    assert padding == 5 and weight[padding].abs().max().item() == 0
    # (batch 3, seq 5), batch-first, padded with the padding index; index 2 appears 4 times,
    # index 0 and 6 (first and last rows) appear, index 4 never does.
    indices = [[2, 0, 3, 2, 6],
               [1, 2, 3, padding, padding],
               [6, 2, padding, padding, padding]]
    shape = [3, 5]
    flat = [i for row in indices for i in row]
    r = run(config, weight, flat, shape)
    assert r["grad"][padding].abs().max().item() == 0 and r["grad"][4].abs().max().item() == 0
    return {
        "module": "Embedding",
        "config": dict(config, padding_idx_normalized=padding),
        "parameters": {"weight": enc(weight)},
        "inputs": {"indices": flat, "shape": shape},
        "outputs": {"output": enc(r["output"])},
        "grad_seeds": {"output": enc(r["seed"])},
        "loss": r["loss"].item(),
        "grads": {"weight": enc(r["grad"])},
        "name": NAME,
    }


def verify(path: str) -> float:
    """Recomputes the stored file from its weights, indices and seed; the largest difference."""
    with open(path) as fh:
        f = json.load(fh)
    config = {k: f["config"][k] for k in ("num_embeddings", "embedding_dim", "padding_idx")}
    r = run(config, dec(f["parameters"]["weight"]), f["inputs"]["indices"], f["inputs"]["shape"],
            dec(f["grad_seeds"]["output"]))
    return max((r["output"].detach() - dec(f["outputs"]["output"])).abs().max().item(),
               (r["grad"] - dec(f["grads"]["weight"])).abs().max().item(),
               abs(r["loss"].item() - f["loss"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="the directory to write embedding.json into")
    parser.add_argument("--verify", action="store_true", help="recompute the file in --out and compare; write nothing")
    args = parser.parse_args()
    path = os.path.join(args.out, NAME + ".json")
    if args.verify:
        worst = verify(path)
        print(f"{path}: max |diff| {worst:.3g}")
        return 0 if worst <= 1e-6 else 1
    os.makedirs(args.out, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(make(), fh)
        fh.write("\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
