#!/usr/bin/env python3
"""What torch.Generator draws on the CPU, for TorchGenerator and DataLoader's PyTorch order.

Writes Tests/RecurrentTests/Fixtures/ports/torch_generator.json: for a few seeds, the int64
`random_()` draws PyTorch's DataLoader makes (two 32-bit words each), permutations from 1 to
700 elements (past the twister's 624 words), and the batches of
DataLoader(shuffle=True/False, drop_last=False/True, generator=g) over four epochs, the
third left after its first batch, and the subsets of random_split (sizes and fractions).

Usage: python3 Scripts/ports/torch_generator.py
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Tests", "RecurrentTests", "Fixtures", "ports", "torch_generator.json")


def main():
    torch.set_num_threads(1)
    seeds = []
    for seed in [0, 7, 2024, 2**32 + 7]:
        g = torch.Generator().manual_seed(seed)
        int64 = [torch.empty((), dtype=torch.int64).random_(generator=g).item() for _ in range(3)]
        perms = [torch.randperm(n, generator=g).tolist() for n in [1, 2, 10, 13, 700]]
        seeds.append({"seed": str(seed), "int64": [str(v) for v in int64], "randperm_sizes": [1, 2, 10, 13, 700],
                      "randperms": perms, "after": torch.randperm(5, generator=g).tolist()})
    loaders = []
    for n, batch, shuffle, drop in [(11, 4, True, False), (11, 4, True, True), (12, 3, True, False),
                                    (9, 4, False, False), (5, 5, True, True)]:
        g = torch.Generator().manual_seed(3)
        loader = torch.utils.data.DataLoader(list(range(n)), batch_size=batch, shuffle=shuffle, drop_last=drop, generator=g)
        epochs = [[b.tolist() for b in loader] for _ in range(2)]
        partial = next(iter(loader)).tolist()  # an epoch left after its first batch
        epochs.append([partial])
        epochs.append([b.tolist() for b in loader])
        loaders.append({"count": n, "batch_size": batch, "shuffle": shuffle, "drop_last": drop, "seed": 3,
                        "epochs": epochs})
    splits = []
    for n, lengths, seed in [(150, [.85, .15], 2024), (12, [3, 4, 5], 1), (11, [.3, .3, .4], 5), (7, [.5, .5], 0)]:
        g = torch.Generator().manual_seed(seed)
        parts = torch.utils.data.random_split(range(n), lengths, generator=g)
        splits.append({"count": n, "lengths": lengths, "seed": seed, "subsets": [p.indices for p in parts],
                       "after": torch.randperm(4, generator=g).tolist()})
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "seeds": seeds, "loaders": loaders, "splits": splits}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
