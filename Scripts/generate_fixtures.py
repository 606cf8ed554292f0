#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures that the Recurrent test suite compares against.

Every fixture is one JSON file (format: ``Tests/RecurrentTests/Fixtures/README.md``):
a PyTorch module or cell with its parameters, the inputs of one call, the outputs, the
random "grad seeds" that define the scalar loss

    loss = sum over outputs of (output * seed).sum()

and the gradients of that loss with respect to the input, the initial states that were
passed (``h0`` / ``c0``) and every parameter. A few files hold other references: the
seed tutorial's two programs (``seed_manual_cell``, ``seed_nn_rnn``), the losses
(``losses``), the optimizers and gradient clipping (``optimizers``) and ``Linear``
(``linear``).

Every case calls ``torch.manual_seed`` with a seed derived from its own name (CRC-32),
so the output is deterministic and adding or removing a case changes no other file.
All tensors are float32; values are written as the exact float32 values (``tolist()``).

Usage::

    python3 -m pip install torch
    python3 Scripts/generate_fixtures.py                 # writes Tests/RecurrentTests/Fixtures/*.json
    python3 Scripts/generate_fixtures.py --out /tmp/fx   # somewhere else
    python3 Scripts/generate_fixtures.py --only lstm_proj rnn_lengths
    python3 Scripts/generate_fixtures.py --list
    python3 Scripts/generate_fixtures.py --verify Tests/RecurrentTests/Fixtures/shared

``--verify DIR`` does not write anything: it recomputes every fixture in DIR with PyTorch
from the stored parameters, inputs and seeds (for the seed tutorial's manual cell, by
rerunning its training loop; for the optimizers, by replaying the steps) and reports the
largest difference from the stored results. It checks that this script's reading of the
format is the one the files were written with.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
import zlib
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

DEFAULT_OUT = os.path.join("Tests", "RecurrentTests", "Fixtures")

RECURRENT_MODULES = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def seed_for(name: str) -> int:
    """The per-case seed: CRC-32 of the case name (stable across Python runs)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def enc(t: torch.Tensor) -> dict:
    """A tensor as ``{"shape": [...], "data": [flat row-major float32 values]}``."""
    t = t.detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def dec(d: dict) -> torch.Tensor:
    """The inverse of :func:`enc` (and of :func:`enc_nonfinite`)."""
    data = [float(v) if isinstance(v, str) else v for v in d["data"]]
    return torch.tensor(data, dtype=torch.float32).reshape(d["shape"])


def enc_nonfinite(t: torch.Tensor) -> dict:
    """Like :func:`enc`, with NaN and infinities written as the strings ``"nan"``, ``"inf"``
    and ``"-inf"`` (JSON has no literal for them)."""
    d = enc(t)
    d["data"] = [v if v == v and abs(v) != float("inf") else str(v) for v in d["data"]]
    return d


def grad_or_zeros(t: torch.Tensor) -> torch.Tensor:
    return t.grad if t.grad is not None else torch.zeros_like(t)


# ---------------------------------------------------------------------------------------
# Recurrent modules (RNN / LSTM / GRU), with optional variable lengths
# ---------------------------------------------------------------------------------------

def module_config(module: str, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                  batch_first: bool, bidirectional: bool, dropout: float,
                  nonlinearity: str, proj_size: int) -> dict:
    """The constructor arguments, in the key order of the shared fixtures."""
    config = {
        "input_size": input_size,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "bias": bias,
        "batch_first": batch_first,
        "bidirectional": bidirectional,
        "dropout": float(dropout),
    }
    if module == "LSTM":
        config["proj_size"] = proj_size
    if module == "RNN":
        config["nonlinearity"] = nonlinearity
    return config


def run_recurrent(module: str, config: dict, params: Dict[str, torch.Tensor],
                  inputs: Dict[str, object], training: bool,
                  seeds: Optional[Dict[str, torch.Tensor]] = None,
                  draw_seeds: bool = False) -> dict:
    """Runs one module call and the backward pass of the seeded loss.

    ``inputs`` holds ``input`` and optionally ``h0``, ``c0`` (tensors) and ``lengths``
    (a list of ints). With ``lengths`` the call is
    ``pad_packed_sequence(module(pack_padded_sequence(input, lengths, batch_first,
    enforce_sorted=False), state), batch_first, total_length=T)``.
    Returns outputs, grad_seeds (drawn with ``torch.randn`` in output order when
    ``draw_seeds``), loss and grads (input, h0, c0, then every parameter).
    """
    m = RECURRENT_MODULES[module](**config)
    m.train(training)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(params[name])
    x = inputs["input"].clone().requires_grad_(True)
    leaves = {"input": x}
    for key in ("h0", "c0"):
        if key in inputs:
            leaves[key] = inputs[key].clone().requires_grad_(True)

    state = None
    if module == "LSTM":
        if "h0" in leaves:
            state = (leaves["h0"], leaves["c0"])
    elif "h0" in leaves:
        state = leaves["h0"]

    lengths = inputs.get("lengths")
    if lengths is not None:
        batch_first = config["batch_first"]
        total_length = x.shape[1] if batch_first else x.shape[0]
        packed = pack_padded_sequence(x, torch.tensor(lengths, dtype=torch.int64),
                                      batch_first=batch_first, enforce_sorted=False)
        packed_out, hidden = m(packed, state)
        output, _ = pad_packed_sequence(packed_out, batch_first=batch_first,
                                        total_length=total_length)
    else:
        output, hidden = m(x, state)

    outputs = {"output": output}
    if module == "LSTM":
        outputs["h_n"], outputs["c_n"] = hidden
    else:
        outputs["h_n"] = hidden

    if draw_seeds:
        seeds = {k: torch.randn(v.shape) for k, v in outputs.items()}
    loss = sum((outputs[k] * seeds[k]).sum() for k in outputs)
    loss.backward()

    grads = {k: grad_or_zeros(v) for k, v in leaves.items()}
    for name, p in m.named_parameters():
        grads[name] = grad_or_zeros(p)
    return {"outputs": outputs, "grad_seeds": seeds, "loss": loss, "grads": grads}


def recurrent_case(name: str, module: str, *, input_size: int = 4, hidden_size: int = 6,
                   num_layers: int = 1, bias: bool = True, batch_first: bool = True,
                   bidirectional: bool = False, dropout: float = 0.0,
                   nonlinearity: str = "tanh", proj_size: int = 0, batch: Optional[int] = 3,
                   seq: int = 5, with_state: bool = True,
                   lengths: Optional[List[int]] = None, training: Optional[bool] = None) -> dict:
    """A module fixture. ``batch=None`` makes it unbatched (2-D input and states).

    Draw order after ``manual_seed``: the module's default initialisation, the input,
    ``h0``, ``c0``, then one seed per output (``output``, ``h_n``, ``c_n``).
    """
    torch.manual_seed(seed_for(name))
    config = module_config(module, input_size, hidden_size, num_layers, bias, batch_first,
                           bidirectional, dropout, nonlinearity, proj_size)
    m = RECURRENT_MODULES[module](**config)
    params = {k: v.detach().clone() for k, v in m.named_parameters()}

    directions = 2 if bidirectional else 1
    h_size = proj_size if proj_size > 0 else hidden_size
    if batch is None:
        x_shape = (seq, input_size)
        h_shape = (num_layers * directions, h_size)
        c_shape = (num_layers * directions, hidden_size)
    else:
        x_shape = (batch, seq, input_size) if batch_first else (seq, batch, input_size)
        h_shape = (num_layers * directions, batch, h_size)
        c_shape = (num_layers * directions, batch, hidden_size)

    inputs: Dict[str, object] = {"input": torch.randn(x_shape)}
    if with_state:
        inputs["h0"] = torch.randn(h_shape)
        if module == "LSTM":
            inputs["c0"] = torch.randn(c_shape)
    if lengths is not None:
        assert batch is not None and len(lengths) == batch and max(lengths) <= seq
        inputs["lengths"] = list(lengths)

    r = run_recurrent(module, config, params, inputs, training if training is not None else True,
                      draw_seeds=True)
    fixture = {
        "module": module,
        "config": config,
        "parameters": {k: enc(v) for k, v in params.items()},
        "inputs": {k: (v if k == "lengths" else enc(v)) for k, v in inputs.items()},
        "outputs": {k: enc(v) for k, v in r["outputs"].items()},
        "grad_seeds": {k: enc(v) for k, v in r["grad_seeds"].items()},
        "loss": r["loss"].item(),
        "grads": {k: enc(v) for k, v in r["grads"].items()},
    }
    if training is not None:
        fixture["training"] = training
    fixture["name"] = name
    return fixture


# ---------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------

def cell_config(module: str, input_size: int, hidden_size: int, bias: bool, nonlinearity: str) -> dict:
    config = {"input_size": input_size, "hidden_size": hidden_size, "bias": bias}
    if module == "RNNCell":
        config["nonlinearity"] = nonlinearity
    return config


def run_cell(module: str, config: dict, params: Dict[str, torch.Tensor],
             inputs: Dict[str, torch.Tensor], seeds: Optional[Dict[str, torch.Tensor]] = None,
             draw_seeds: bool = False) -> dict:
    m = CELLS[module](**config)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(params[name])
    leaves = {k: inputs[k].clone().requires_grad_(True) for k in ("input", "h0", "c0") if k in inputs}
    x = leaves["input"]
    if module == "LSTMCell":
        state = (leaves["h0"], leaves["c0"]) if "h0" in leaves else None
        h1, c1 = m(x, state)
        outputs = {"h_1": h1, "c_1": c1}
    else:
        outputs = {"h_1": m(x, leaves.get("h0"))}
    if draw_seeds:
        seeds = {k: torch.randn(v.shape) for k, v in outputs.items()}
    loss = sum((outputs[k] * seeds[k]).sum() for k in outputs)
    loss.backward()
    grads = {k: grad_or_zeros(v) for k, v in leaves.items()}
    for name, p in m.named_parameters():
        grads[name] = grad_or_zeros(p)
    return {"outputs": outputs, "grad_seeds": seeds, "loss": loss, "grads": grads}


def cell_case(name: str, module: str, *, input_size: int = 4, hidden_size: int = 6,
              bias: bool = True, nonlinearity: str = "tanh", batch: Optional[int] = 3,
              with_state: bool = True) -> dict:
    """A cell fixture. ``batch=None`` makes it unbatched (1-D input and state)."""
    torch.manual_seed(seed_for(name))
    config = cell_config(module, input_size, hidden_size, bias, nonlinearity)
    m = CELLS[module](**config)
    params = {k: v.detach().clone() for k, v in m.named_parameters()}
    lead = () if batch is None else (batch,)
    inputs = {"input": torch.randn(lead + (input_size,))}
    if with_state:
        inputs["h0"] = torch.randn(lead + (hidden_size,))
        if module == "LSTMCell":
            inputs["c0"] = torch.randn(lead + (hidden_size,))
    r = run_cell(module, config, params, inputs, draw_seeds=True)
    return {
        "module": module,
        "config": config,
        "parameters": {k: enc(v) for k, v in params.items()},
        "inputs": {k: enc(v) for k, v in inputs.items()},
        "outputs": {k: enc(v) for k, v in r["outputs"].items()},
        "grad_seeds": {k: enc(v) for k, v in r["grad_seeds"].items()},
        "loss": r["loss"].item(),
        "grads": {k: enc(v) for k, v in r["grads"].items()},
        "name": name,
    }


# ---------------------------------------------------------------------------------------
# Linear
# ---------------------------------------------------------------------------------------

def run_linear(config: dict, params: Dict[str, torch.Tensor], inputs: Dict[str, torch.Tensor],
               seeds: Optional[Dict[str, torch.Tensor]] = None, draw_seeds: bool = False) -> dict:
    m = nn.Linear(**config)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(params[name])
    x = inputs["input"].clone().requires_grad_(True)
    outputs = {"output": m(x)}
    if draw_seeds:
        seeds = {k: torch.randn(v.shape) for k, v in outputs.items()}
    loss = sum((outputs[k] * seeds[k]).sum() for k in outputs)
    loss.backward()
    grads = {"input": x.grad}
    for name, p in m.named_parameters():
        grads[name] = p.grad
    return {"outputs": outputs, "grad_seeds": seeds, "loss": loss, "grads": grads}


def linear_case(name: str = "linear") -> dict:
    torch.manual_seed(seed_for(name))
    config = {"in_features": 5, "out_features": 3, "bias": True}
    m = nn.Linear(**config)
    params = {k: v.detach().clone() for k, v in m.named_parameters()}
    inputs = {"input": torch.randn(4, 5)}
    r = run_linear(config, params, inputs, draw_seeds=True)
    return {
        "module": "Linear",
        "config": config,
        "parameters": {k: enc(v) for k, v in params.items()},
        "inputs": {k: enc(v) for k, v in inputs.items()},
        "outputs": {k: enc(v) for k, v in r["outputs"].items()},
        "grad_seeds": {k: enc(v) for k, v in r["grad_seeds"].items()},
        "loss": r["loss"].item(),
        "grads": {k: enc(v) for k, v in r["grads"].items()},
        "name": name,
    }


# ---------------------------------------------------------------------------------------
# The seed tutorial's two programs
# ---------------------------------------------------------------------------------------

def train_manual_cell(config: dict, params: Dict[str, torch.Tensor],
                      sequence: List[torch.Tensor]) -> dict:
    """The tutorial's loop: per epoch zero the grads, hidden = zeros(1, hidden), for each
    step ``hidden = i2h(cat(input, hidden))``, ``output = log_softmax(i2o(hidden), 1)``;
    NLLLoss of the last output against ``target``; backward; one SGD step."""
    i2h = nn.Linear(config["input_size"] + config["hidden_size"], config["hidden_size"])
    i2o = nn.Linear(config["hidden_size"], config["output_size"])
    named = {"i2h.weight": i2h.weight, "i2h.bias": i2h.bias,
             "i2o.weight": i2o.weight, "i2o.bias": i2o.bias}
    with torch.no_grad():
        for k, p in named.items():
            p.copy_(params[k])
    optimizer = torch.optim.SGD(list(named.values()), lr=config["lr"])
    criterion = nn.NLLLoss()
    log_softmax = nn.LogSoftmax(dim=1)
    target = torch.tensor([config["target"]])
    losses = []
    for _ in range(config["epochs"]):
        optimizer.zero_grad()
        hidden = torch.zeros(1, config["hidden_size"])
        output = None
        for x in sequence:
            hidden = i2h(torch.cat((x, hidden), 1))
            output = log_softmax(i2o(hidden))
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses, "final_parameters": {k: p.detach().clone() for k, p in named.items()}}


def seed_manual_cell_case(name: str = "seed_manual_cell") -> dict:
    torch.manual_seed(seed_for(name))
    config = {"input_size": 5, "hidden_size": 10, "output_size": 2, "lr": 0.01,
              "epochs": 100, "target": 1}
    i2h = nn.Linear(config["input_size"] + config["hidden_size"], config["hidden_size"])
    i2o = nn.Linear(config["hidden_size"], config["output_size"])
    params = {"i2h.weight": i2h.weight.detach().clone(), "i2h.bias": i2h.bias.detach().clone(),
              "i2o.weight": i2o.weight.detach().clone(), "i2o.bias": i2o.bias.detach().clone()}
    sequence = [torch.randn(1, config["input_size"]) for _ in range(3)]
    r = train_manual_cell(config, params, sequence)
    return {
        "module": "SeedCell",
        "config": config,
        "parameters": {k: enc(v) for k, v in params.items()},
        "sequence": [enc(s) for s in sequence],
        "losses": r["losses"],
        "final_parameters": {k: enc(v) for k, v in r["final_parameters"].items()},
        "name": name,
    }


class SeedRNN(nn.Module):
    """``nn.RNN(input, hidden, num_layers, batch_first=True)`` (zero h0) then
    ``Linear(hidden, output)`` on the last time step."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, num_layers: int):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


def run_seed_rnn(config: dict, params: Dict[str, torch.Tensor], x: torch.Tensor,
                 seeds: Optional[Dict[str, torch.Tensor]] = None, draw_seeds: bool = False) -> dict:
    m = SeedRNN(**config)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(params[name])
    outputs = {"output": m(x)}
    if draw_seeds:
        seeds = {k: torch.randn(v.shape) for k, v in outputs.items()}
    loss = sum((outputs[k] * seeds[k]).sum() for k in outputs)
    loss.backward()
    grads = {name: p.grad for name, p in m.named_parameters()}
    return {"outputs": outputs, "grad_seeds": seeds, "loss": loss, "grads": grads}


def seed_nn_rnn_case(name: str = "seed_nn_rnn") -> dict:
    torch.manual_seed(seed_for(name))
    config = {"input_size": 10, "hidden_size": 20, "output_size": 1, "num_layers": 2}
    m = SeedRNN(**config)
    params = {k: v.detach().clone() for k, v in m.named_parameters()}
    x = torch.randn(5, 7, config["input_size"])
    r = run_seed_rnn(config, params, x, draw_seeds=True)
    # Same keys as the shared file: no `loss`, no input gradient.
    return {
        "module": "SeedRNN",
        "config": config,
        "parameters": {k: enc(v) for k, v in params.items()},
        "inputs": {"input": enc(x)},
        "outputs": {k: enc(v) for k, v in r["outputs"].items()},
        "grad_seeds": {k: enc(v) for k, v in r["grad_seeds"].items()},
        "grads": {k: enc(v) for k, v in r["grads"].items()},
        "name": name,
    }


# ---------------------------------------------------------------------------------------
# Losses and optimizers
# ---------------------------------------------------------------------------------------

def compute_losses(logits: torch.Tensor, target: List[int], mse_pred: torch.Tensor,
                   mse_target: torch.Tensor) -> dict:
    t = torch.tensor(target, dtype=torch.int64)
    out = {}
    z = logits.clone().requires_grad_(True)
    ls = torch.log_softmax(z, dim=1)
    out["log_softmax"] = ls
    nll = nn.functional.nll_loss(ls, t)
    nll.backward()
    out["nll_mean"], out["nll_grad_logits"] = nll, z.grad
    z = logits.clone().requires_grad_(True)
    ce = nn.functional.cross_entropy(z, t)
    ce.backward()
    out["cross_entropy_mean"], out["cross_entropy_grad_logits"] = ce, z.grad
    p = mse_pred.clone().requires_grad_(True)
    mse = nn.functional.mse_loss(p, mse_target)
    mse.backward()
    out["mse_mean"], out["mse_grad_pred"] = mse, p.grad
    return out


def losses_case(name: str = "losses") -> dict:
    torch.manual_seed(seed_for(name))
    logits = torch.randn(6, 4) * 3
    target = torch.randint(0, 4, (6,)).tolist()
    mse_pred = torch.randn(6, 4)
    mse_target = torch.randn(6, 4)
    r = compute_losses(logits, target, mse_pred, mse_target)
    return {
        "module": "Losses",
        "logits": enc(logits),
        "target": target,
        "log_softmax": enc(r["log_softmax"]),
        "nll_mean": r["nll_mean"].item(),
        "nll_grad_logits": enc(r["nll_grad_logits"]),
        "cross_entropy_mean": r["cross_entropy_mean"].item(),
        "cross_entropy_grad_logits": enc(r["cross_entropy_grad_logits"]),
        "mse_pred": enc(mse_pred),
        "mse_target": enc(mse_target),
        "mse_mean": r["mse_mean"].item(),
        "mse_grad_pred": enc(r["mse_grad_pred"]),
        "name": name,
    }


OPTIMIZER_RUNS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}),
]


def run_optimizer(optimizer: str, options: dict, param0: torch.Tensor,
                  grads: List[torch.Tensor]) -> List[torch.Tensor]:
    """One parameter, one ``step()`` per gradient; the parameter after each step."""
    p = nn.Parameter(param0.clone())
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items()}
    opt = getattr(torch.optim, optimizer)([p], **kwargs)
    trajectory = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        trajectory.append(p.detach().clone())
    return trajectory


def run_clip(grads: List[torch.Tensor], max_norm: float):
    ps = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    return total, [p.grad.detach().clone() for p in ps]


def optimizers_case(name: str = "optimizers") -> dict:
    torch.manual_seed(seed_for(name))
    param0 = torch.randn(4, 3)
    grads = [torch.randn(4, 3) for _ in range(3)]
    runs = []
    for optimizer, options in OPTIMIZER_RUNS:
        runs.append({"optimizer": optimizer, "options": options,
                     "params_after_each_step": [enc(t) for t in run_optimizer(optimizer, options, param0, grads)]})
    clip_grads = [torch.randn(3, 4), torch.randn(5)]
    total, clipped = run_clip(clip_grads, 1.0)
    return {
        "module": "Optimizers",
        "param0": enc(param0),
        "grads": [enc(g) for g in grads],
        "runs": runs,
        "clip": {"grads": [enc(g) for g in clip_grads], "max_norm": 1.0,
                 "total_norm": total.item(), "clipped": [enc(g) for g in clipped]},
        "name": name,
    }


# ---------------------------------------------------------------------------------------
# Training losses (issue 17): BCE, BCE with logits, L1, smooth L1, Huber; NLL and
# cross-entropy with class weights, ignore_index and (N, C, d1, ...) inputs
# ---------------------------------------------------------------------------------------

REDUCTIONS = ["mean", "sum", "none"]


def run_pointwise_loss(loss: str, options: dict, reduction: str, inputs: Dict[str, torch.Tensor],
                       seed: Optional[torch.Tensor]) -> dict:
    """One pointwise loss: its value and the gradients of ``value`` (``(value * seed).sum()``
    for ``reduction="none"``) with respect to the input and the target."""
    x = inputs["input"].clone().requires_grad_(True)
    y = inputs["target"].clone().requires_grad_(True)
    kwargs = dict(options)
    if "weight" in inputs:
        kwargs["weight"] = inputs["weight"]
    if "pos_weight" in inputs:
        kwargs["pos_weight"] = inputs["pos_weight"]
    value = getattr(nn, loss)(reduction=reduction, **kwargs)(x, y)
    (value * seed).sum().backward() if seed is not None else value.backward()
    return {"value": value.detach(), "grad_input": x.grad, "grad_target": grad_or_zeros(y)}


def run_class_loss(loss: str, reduction: str, inputs: Dict[str, torch.Tensor], target: List[int],
                   target_shape: List[int], options: dict, seed: Optional[torch.Tensor]) -> dict:
    x = inputs["input"].clone().requires_grad_(True)
    t = torch.tensor(target, dtype=torch.int64).reshape(target_shape)
    kwargs = dict(options)
    if "weight" in inputs:
        kwargs["weight"] = inputs["weight"]
    value = getattr(nn, loss)(reduction=reduction, **kwargs)(x, t)
    (value * seed).sum().backward() if seed is not None else value.backward()
    return {"value": value.detach(), "grad_input": x.grad}


def training_losses_case(name: str = "training_losses") -> dict:
    torch.manual_seed(seed_for(name))
    entries = []

    def pointwise(loss: str, options: dict, **inputs: torch.Tensor) -> None:
        for reduction in REDUCTIONS:
            seed = torch.randn(inputs["input"].shape) if reduction == "none" else None
            r = run_pointwise_loss(loss, options, reduction, inputs, seed)
            entry = {"loss": loss, "options": options, "reduction": reduction,
                     "inputs": {k: enc(v) for k, v in inputs.items()},
                     "value": enc(r["value"]), "grad_input": enc(r["grad_input"]),
                     # Saturated probabilities give PyTorch's unclamped infinite target gradients.
                     "grad_target": enc_nonfinite(r["grad_target"])}
            if seed is not None:
                entry["seed"] = enc(seed)
            entries.append(entry)

    def classes(loss: str, options: dict, input: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> None:
        inputs = {"input": input} if weight is None else {"input": input, "weight": weight}
        for reduction in REDUCTIONS:
            seed = torch.randn(target.shape) if reduction == "none" else None
            r = run_class_loss(loss, reduction, inputs, target.reshape(-1).tolist(), list(target.shape), options, seed)
            entry = {"loss": loss, "options": options, "reduction": reduction,
                     "inputs": {k: enc(v) for k, v in inputs.items()},
                     "target": target.reshape(-1).tolist(), "target_shape": list(target.shape),
                     "value": enc(r["value"]), "grad_input": enc(r["grad_input"])}
            if seed is not None:
                entry["seed"] = enc(seed)
            entries.append(entry)

    probs = torch.sigmoid(torch.randn(5, 3) * 2)
    soft = torch.rand(5, 3)
    pointwise("BCELoss", {}, input=probs, target=soft)
    pointwise("BCELoss", {}, input=probs, target=soft, weight=torch.rand(3) + 0.5)
    # Saturated probabilities (0 and 1): PyTorch clamps the logarithms at -100.
    pointwise("BCELoss", {}, input=torch.tensor([[0.0, 1.0, 0.3], [1.0, 0.0, 0.999]]),
              target=torch.tensor([[0.0, 1.0, 1.0], [0.5, 0.25, 0.0]]))
    logits = torch.randn(4, 2, 3) * 3
    binary = (torch.rand(4, 2, 3) > 0.5).float()
    pointwise("BCEWithLogitsLoss", {}, input=logits, target=binary)
    pointwise("BCEWithLogitsLoss", {}, input=logits, target=torch.rand(4, 2, 3),
              weight=torch.rand(2, 1) + 0.5, pos_weight=torch.rand(3) * 3)
    pointwise("BCEWithLogitsLoss", {}, input=torch.tensor([[-60.0, 40.0, 0.0]]), target=torch.tensor([[1.0, 0.0, 0.5]]),
              pos_weight=torch.tensor([2.0, 0.5, 1.5]))
    a, b = torch.randn(6, 4) * 2, torch.randn(6, 4) * 2
    pointwise("L1Loss", {}, input=a, target=b)
    pointwise("SmoothL1Loss", {}, input=a, target=b)
    pointwise("SmoothL1Loss", {"beta": 2.5}, input=a, target=b)
    pointwise("SmoothL1Loss", {"beta": 0.0}, input=a, target=b)
    pointwise("HuberLoss", {}, input=a, target=b)
    pointwise("HuberLoss", {"delta": 0.4}, input=a, target=b)

    # NLL and cross-entropy: (N, C), (N, C, L) and (N, C, d1, d2), with class weights and ignore_index.
    x2 = torch.randn(5, 4) * 2
    t2 = torch.tensor([1, 3, -100, 0, 3])
    w = torch.rand(4) + 0.2
    classes("CrossEntropyLoss", {}, x2, t2, weight=w)
    x3 = torch.randn(3, 4, 5) * 2
    t3 = torch.randint(0, 4, (3, 5))
    t3[1, 2] = 2
    t3[0, 4] = 2
    classes("CrossEntropyLoss", {}, x3, t3)
    classes("CrossEntropyLoss", {"ignore_index": 2}, x3, t3, weight=w)
    classes("NLLLoss", {"ignore_index": 2}, torch.log_softmax(x3, dim=1), t3, weight=w)
    x4 = torch.randn(2, 3, 2, 4)
    t4 = torch.randint(0, 3, (2, 2, 4))
    t4[1, 1, 1] = -100
    classes("CrossEntropyLoss", {}, x4, t4, weight=torch.rand(3) + 0.5)
    classes("NLLLoss", {}, torch.log_softmax(x4, dim=1), t4)
    return {"module": "TrainingLosses", "entries": entries, "name": name}


def verify_training_losses(f: dict, report: Dict[str, float]) -> None:
    for i, e in enumerate(f["entries"]):
        inputs = {k: dec(v) for k, v in e["inputs"].items()}
        seed = dec(e["seed"]) if "seed" in e else None
        if "target_shape" in e:
            r = run_class_loss(e["loss"], e["reduction"], inputs, e["target"], e["target_shape"], e["options"], seed)
        else:
            r = run_pointwise_loss(e["loss"], e["options"], e["reduction"], inputs, seed)
        report[f"entries[{i}] {e['loss']} {e['reduction']}"] = max(max_diff(r[k], dec(e[k])) for k in r)


# ---------------------------------------------------------------------------------------
# Training optimizers (issue 17): Adagrad, Adamax, NAdam, RAdam, parameter groups and
# clip_grad_value_, as trajectories over 100 steps
# ---------------------------------------------------------------------------------------

TRAINING_OPTIMIZER_RUNS = [
    ("Adagrad", {}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}, None),
    ("Adamax", {}, None),
    ("Adamax", {"lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.1}, None),
    ("NAdam", {}, None),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.1}, None),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, None),
    ("RAdam", {}, None),
    ("RAdam", {"lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.1}, None),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, None),
    # Parameter groups: the first group overrides the learning rate and weight decay.
    ("SGD", {"lr": 0.05, "momentum": 0.9}, [{"lr": 0.01, "weight_decay": 0.1}, {}]),
    ("Adam", {"lr": 0.01}, [{"lr": 0.002, "weight_decay": 0.05}, {}]),
    ("AdamW", {"lr": 0.01}, [{"weight_decay": 0.5}, {"lr": 0.03}]),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}, [{"lr": 0.001}, {"weight_decay": 0.2}]),
    ("Adagrad", {"lr": 0.05}, [{"lr": 0.2, "weight_decay": 0.1}, {}]),
    ("Adamax", {}, [{"lr": 0.02}, {"weight_decay": 0.3}]),
    ("NAdam", {}, [{"lr": 0.02, "weight_decay": 0.1}, {}]),
    ("RAdam", {"lr": 0.01}, [{}, {"lr": 0.05, "weight_decay": 0.1}]),
]


def run_training_optimizer(optimizer: str, options: dict, groups: Optional[List[dict]],
                           a0: torch.Tensor, b0: torch.Tensor, grads: List[List[torch.Tensor]]) -> torch.Tensor:
    """Two parameters ``a`` and ``b`` (in one group, or one group each with ``groups``' overrides);
    one ``step()`` per pair of gradients; returns ``(steps, a.numel() + b.numel())``, both
    parameters flattened after each step."""
    a, b = nn.Parameter(a0.clone()), nn.Parameter(b0.clone())
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items()}
    params = [a, b] if groups is None else [dict(params=[p], **g) for p, g in zip([a, b], groups)]
    opt = getattr(torch.optim, optimizer)(params, **kwargs)
    rows = []
    for ga, gb in grads:
        a.grad, b.grad = ga.clone(), gb.clone()
        opt.step()
        rows.append(torch.cat([a.detach().reshape(-1), b.detach().reshape(-1)]))
    return torch.stack(rows)


def run_clip_value(grads: List[torch.Tensor], clip_value: float) -> List[torch.Tensor]:
    ps = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_value_(ps, clip_value)
    return [p.grad.detach().clone() for p in ps]


def training_optimizers_case(name: str = "training_optimizers") -> dict:
    torch.manual_seed(seed_for(name))
    a0, b0 = torch.randn(3, 2), torch.randn(4)
    grads = [[torch.randn(3, 2), torch.randn(4)] for _ in range(100)]
    runs = [{"optimizer": o, "options": opts, "groups": groups,
             "trajectory": enc(run_training_optimizer(o, opts, groups, a0, b0, grads))}
            for o, opts, groups in TRAINING_OPTIMIZER_RUNS]
    clip_grads = [torch.randn(3, 4), torch.randn(5)]
    return {
        "module": "TrainingOptimizers",
        "a0": enc(a0), "b0": enc(b0),
        "grads_a": enc(torch.stack([g[0] for g in grads])), "grads_b": enc(torch.stack([g[1] for g in grads])),
        "runs": runs,
        "clip_value": {"grads": [enc(g) for g in clip_grads], "clip_value": 0.5,
                       "clipped": [enc(g) for g in run_clip_value(clip_grads, 0.5)]},
        "name": name,
    }


def verify_training_optimizers(f: dict, report: Dict[str, float]) -> None:
    a0, b0 = dec(f["a0"]), dec(f["b0"])
    grads = list(zip(dec(f["grads_a"]).unbind(0), dec(f["grads_b"]).unbind(0)))
    for i, run in enumerate(f["runs"]):
        t = run_training_optimizer(run["optimizer"], run["options"], run["groups"], a0, b0, grads)
        report[f"runs[{i}] {run['optimizer']} {run['options']} {run['groups']}"] = max_diff(t, dec(run["trajectory"]))
    c = f["clip_value"]
    clipped = run_clip_value([dec(g) for g in c["grads"]], c["clip_value"])
    report["clip_value"] = max(max_diff(x, dec(y)) for x, y in zip(clipped, c["clipped"]))


# ---------------------------------------------------------------------------------------
# Learning-rate schedulers (issue 17): trajectories over 100 steps, two parameter groups
# ---------------------------------------------------------------------------------------

def make_scheduler(spec: dict, opt: torch.optim.Optimizer):
    kind, options = spec["scheduler"], dict(spec.get("options", {}))
    if kind == "SequentialLR":
        children = [make_scheduler(c, opt) for c in spec["children"]]
        return torch.optim.lr_scheduler.SequentialLR(opt, children, milestones=options["milestones"])
    if kind == "ChainedScheduler":
        return torch.optim.lr_scheduler.ChainedScheduler([make_scheduler(c, opt) for c in spec["children"]], optimizer=opt)
    return getattr(torch.optim.lr_scheduler, kind)(opt, **options)


def run_scheduler(spec: dict, metrics: Optional[List[float]]) -> torch.Tensor:
    """SGD over two groups (lr 0.1 and 0.02); the learning rates after construction and after
    each of 100 ``step()`` calls (``step(metric)`` for ReduceLROnPlateau): ``(101, 2)``."""
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD([{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 0.02}], lr=0.1)
    scheduler = make_scheduler(spec, opt)
    rows = [[g["lr"] for g in opt.param_groups]]
    for k in range(100):
        opt.step()
        scheduler.step(metrics[k]) if metrics is not None else scheduler.step()
        rows.append([g["lr"] for g in opt.param_groups])
    return torch.tensor(rows, dtype=torch.float64)


SCHEDULER_SPECS = [
    {"scheduler": "StepLR", "options": {"step_size": 7, "gamma": 0.5}},
    {"scheduler": "MultiStepLR", "options": {"milestones": [10, 30, 30, 60], "gamma": 0.3}},
    {"scheduler": "ExponentialLR", "options": {"gamma": 0.95}},
    {"scheduler": "CosineAnnealingLR", "options": {"T_max": 30, "eta_min": 0.001}},
    {"scheduler": "CosineAnnealingLR", "options": {"T_max": 100}},
    {"scheduler": "LinearLR", "options": {}},
    {"scheduler": "LinearLR", "options": {"start_factor": 0.25, "end_factor": 0.5, "total_iters": 20}},
    {"scheduler": "OneCycleLR", "options": {"max_lr": [0.5, 0.1], "total_steps": 100, "cycle_momentum": False}},
    {"scheduler": "OneCycleLR", "options": {"max_lr": 0.2, "total_steps": 120, "pct_start": 0.4, "anneal_strategy": "linear",
                                             "div_factor": 10.0, "final_div_factor": 100.0, "three_phase": True,
                                             "cycle_momentum": False}},
    {"scheduler": "ReduceLROnPlateau", "options": {"factor": 0.5, "patience": 3, "cooldown": 2, "threshold": 0.01}},
    {"scheduler": "ReduceLROnPlateau", "options": {"mode": "max", "factor": 0.3, "patience": 2, "threshold": 0.05,
                                                    "threshold_mode": "abs", "min_lr": [0.001, 0.0005]}},
    {"scheduler": "SequentialLR", "options": {"milestones": [10]},
     "children": [{"scheduler": "LinearLR", "options": {"start_factor": 0.1, "total_iters": 10}},
                  {"scheduler": "CosineAnnealingLR", "options": {"T_max": 90, "eta_min": 0.0001}}]},
    {"scheduler": "SequentialLR", "options": {"milestones": [5, 40]},
     "children": [{"scheduler": "LinearLR", "options": {"start_factor": 0.5, "total_iters": 5}},
                  {"scheduler": "StepLR", "options": {"step_size": 10, "gamma": 0.5}},
                  {"scheduler": "ExponentialLR", "options": {"gamma": 0.97}}]},
    {"scheduler": "ChainedScheduler",
     "children": [{"scheduler": "LinearLR", "options": {"start_factor": 0.2, "total_iters": 8}},
                  {"scheduler": "ExponentialLR", "options": {"gamma": 0.96}}]},
    {"scheduler": "ChainedScheduler",
     "children": [{"scheduler": "StepLR", "options": {"step_size": 15, "gamma": 0.5}},
                  {"scheduler": "ExponentialLR", "options": {"gamma": 0.99}},
                  {"scheduler": "MultiStepLR", "options": {"milestones": [30, 70], "gamma": 0.3}}]},
]


def schedulers_case(name: str = "schedulers") -> dict:
    torch.manual_seed(seed_for(name))
    # A noisy, flattening validation loss (and, for mode "max", an accuracy).
    steps = torch.arange(100, dtype=torch.float64)
    loss = (1.0 / (1.0 + 0.1 * steps) + 0.05 * torch.randn(100, dtype=torch.float64)).tolist()
    accuracy = (1.0 - 0.5 * torch.exp(-0.05 * steps) + 0.03 * torch.randn(100, dtype=torch.float64)).tolist()
    runs = []
    for spec in SCHEDULER_SPECS:
        metrics = None
        if spec["scheduler"] == "ReduceLROnPlateau":
            metrics = accuracy if spec["options"].get("mode") == "max" else loss
        run = dict(spec, learning_rates=run_scheduler(spec, metrics).tolist())
        if metrics is not None:
            run["metrics"] = metrics
        runs.append(run)
    momentum_runs = [dict(spec, trajectory=run_one_cycle_momentum(spec).tolist()) for spec in ONE_CYCLE_MOMENTUM_RUNS]
    return {"module": "Schedulers", "group_learning_rates": [0.1, 0.02], "runs": runs,
            "momentum_runs": momentum_runs, "name": name}


ONE_CYCLE_MOMENTUM_RUNS = [
    {"optimizer": "SGD", "optimizer_options": {"lr": 0.1, "momentum": 0.9},
     "options": {"max_lr": 0.3, "total_steps": 100}},
    {"optimizer": "Adam", "optimizer_options": {"lr": 0.01},
     "options": {"max_lr": 0.05, "total_steps": 100, "base_momentum": 0.8, "max_momentum": 0.9, "three_phase": True}},
]


def run_one_cycle_momentum(spec: dict) -> torch.Tensor:
    """OneCycleLR with PyTorch's default cycle_momentum=True over one group: the learning
    rate and the momentum (SGD's ``momentum`` or Adam's ``betas[0]``) after creation and after
    each of 100 steps: ``(101, 2)``."""
    p = nn.Parameter(torch.zeros(1))
    opt = getattr(torch.optim, spec["optimizer"])([p], **spec["optimizer_options"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, **spec["options"])

    def row():
        g = opt.param_groups[0]
        return [g["lr"], g["betas"][0] if "betas" in g else g["momentum"]]
    rows = [row()]
    for _ in range(100):
        opt.step()
        scheduler.step()
        rows.append(row())
    return torch.tensor(rows, dtype=torch.float64)


def verify_schedulers(f: dict, report: Dict[str, float]) -> None:
    for i, run in enumerate(f["runs"]):
        lrs = run_scheduler(run, run.get("metrics"))
        report[f"runs[{i}] {run['scheduler']}"] = (lrs - torch.tensor(run["learning_rates"], dtype=torch.float64)).abs().max().item()
    for i, run in enumerate(f.get("momentum_runs", [])):
        t = run_one_cycle_momentum(run)
        report[f"momentum_runs[{i}] {run['optimizer']}"] = (t - torch.tensor(run["trajectory"], dtype=torch.float64)).abs().max().item()


# ---------------------------------------------------------------------------------------
# CTC loss (issue 17): values and gradients of torch.nn.CTCLoss
# ---------------------------------------------------------------------------------------

def run_ctc(log_probs: torch.Tensor, targets: List[List[int]], input_lengths: List[int], blank: int,
            reduction: str, zero_infinity: bool, seed: Optional[torch.Tensor]) -> dict:
    x = log_probs.clone().requires_grad_(True)
    flat = torch.tensor([v for t in targets for v in t], dtype=torch.int64)
    lengths = torch.tensor([len(t) for t in targets], dtype=torch.int64)
    loss = nn.CTCLoss(blank=blank, reduction=reduction, zero_infinity=zero_infinity)(
        x, flat, torch.tensor(input_lengths, dtype=torch.int64), lengths)
    (loss * seed).sum().backward() if seed is not None else loss.backward()
    return {"value": loss.detach(), "grad": x.grad}


def ctc_case(name: str = "ctc_loss") -> dict:
    torch.manual_seed(seed_for(name))
    entries = []

    def add(T: int, C: int, targets: List[List[int]], input_lengths: List[int], blank: int = 0,
            zero_infinity: bool = False, unbatched: bool = False) -> None:
        shape = (T, C) if unbatched else (T, len(targets), C)
        log_probs = torch.log_softmax(torch.randn(*shape) * 2, dim=-1)
        for reduction in REDUCTIONS:
            seed = torch.randn(len(targets)) if reduction == "none" and not unbatched else None
            r = run_ctc(log_probs, targets, input_lengths, blank, reduction, zero_infinity, seed)
            entry = {"log_probs": enc(log_probs), "targets": targets, "input_lengths": input_lengths, "blank": blank,
                     "reduction": reduction, "zero_infinity": zero_infinity,
                     "value": enc_nonfinite(r["value"]), "grad": enc_nonfinite(r["grad"])}
            if seed is not None:
                entry["seed"] = enc(seed)
            entries.append(entry)

    add(12, 5, [[1, 2, 2, 3], [4], [1, 1, 1], [3, 4, 2, 1, 2]], [12, 9, 10, 11])
    add(8, 4, [[3, 1], [2, 2], []], [8, 5, 3], blank=0)
    add(10, 6, [[0, 1, 2], [4, 4, 3, 0]], [10, 7], blank=5)
    # An impossible alignment (3 repeated labels need 5 steps, only 4 given): infinite, or zero.
    add(6, 3, [[1, 1, 1], [2, 1]], [4, 6])
    add(6, 3, [[1, 1, 1], [2, 1]], [4, 6], zero_infinity=True)
    add(7, 4, [[2, 3, 1]], [7], unbatched=True)
    return {"module": "CTCLoss", "entries": entries, "name": name}


def verify_ctc(f: dict, report: Dict[str, float]) -> None:
    for i, e in enumerate(f["entries"]):
        r = run_ctc(dec(e["log_probs"]), e["targets"], e["input_lengths"], e["blank"], e["reduction"],
                    e["zero_infinity"], dec(e["seed"]) if "seed" in e else None)
        report[f"entries[{i}]"] = max(max_diff(r["value"].nan_to_num(posinf=1e30), dec(e["value"]).nan_to_num(posinf=1e30)),
                                      max_diff(r["grad"].nan_to_num(), dec(e["grad"]).nan_to_num()))


# ---------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------

LARGE = dict(input_size=7, hidden_size=16, batch=4, seq=9)

# ---------------------------------------------------------------------------------------
# Tensor operations (issue 16): values and gradients of each operation
# ---------------------------------------------------------------------------------------

TENSOR_OP_FUNCTIONS: Dict[str, Dict[str, Callable]] = {}


def run_tensor_op(fn: Callable, inputs: Dict[str, torch.Tensor], seeds: Optional[List[torch.Tensor]] = None):
    """Runs ``fn(**inputs)`` on copies that require gradients (floating inputs only) and, when
    the outputs are differentiable, backpropagates ``sum((out * seed).sum())``. Returns the
    outputs (integer outputs as float32), the seeds and the gradients by input name."""
    ins = {k: v.clone().requires_grad_(v.is_floating_point() and not k.startswith("mask"))
           for k, v in inputs.items()}
    out = fn(**ins)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    differentiable = [o for o in outs if o.is_floating_point() and o.requires_grad]
    if seeds is None:
        seeds = [torch.randn(o.shape) for o in differentiable]
    grads = {}
    if differentiable:
        loss = sum((o * s).sum() for o, s in zip(differentiable, seeds))
        loss.backward()
        grads = {k: enc(grad_or_zeros(v)) for k, v in ins.items() if v.requires_grad}
    return [o.to(torch.float32) for o in outs], seeds, grads


def tensor_ops_case(name: str = "tensor_ops") -> dict:
    """One entry per operation: ``inputs`` (tensors by name), ``outputs`` (a list), ``seeds``
    (one per differentiable output) and ``grads`` (by input name). The Swift test maps each
    entry's name to the same call (``TensorFixtureTests``)."""
    torch.manual_seed(seed_for(name))
    ops = {}
    functions = TENSOR_OP_FUNCTIONS.setdefault(name, {})

    def add(op: str, fn: Callable, **inputs: torch.Tensor) -> None:
        functions[op] = fn
        outs, seeds, grads = run_tensor_op(fn, inputs)
        ops[op] = {"inputs": {k: enc(v) for k, v in inputs.items()},
                   "outputs": [enc(o) for o in outs],
                   "seeds": [enc(s) for s in seeds],
                   "grads": grads}

    x = torch.randn(3, 4)
    positive = torch.rand(3, 4) + 0.1
    b4 = torch.randn(4)
    x3 = torch.randn(2, 3, 4)
    ties = torch.tensor([[1.0, -2.0, 3.0, 3.0], [0.0, 5.0, -1.0, 5.0], [2.0, 2.0, 2.0, -4.0]])
    ties_b = torch.tensor([1.0, 5.0, 2.0, 3.0])

    # Elementwise
    add("abs", lambda x: x.abs(), x=x)
    add("sqrt", lambda x: x.sqrt(), x=positive)
    add("exp", lambda x: x.exp(), x=x)
    add("log", lambda x: x.log(), x=positive)
    add("pow_2.5", lambda x: x.pow(2.5), x=positive)
    add("pow_3", lambda x: x.pow(3), x=x)
    add("pow_-1.5", lambda x: x.pow(-1.5), x=positive)
    add("pow_2", lambda x: x.pow(2), x=x)
    add("pow_4", lambda x: x.pow(4), x=x)
    add("sin", lambda x: x.sin(), x=x * 3)
    add("cos", lambda x: x.cos(), x=x * 3)
    add("sin_large", lambda x: x.sin(), x=torch.cat([x.reshape(-1) * 1000, x.reshape(-1) * 20000]))
    add("cos_large", lambda x: x.cos(), x=torch.cat([x.reshape(-1) * 1000, x.reshape(-1) * 20000]))
    add("clamp", lambda x: x.clamp(-0.5, 0.7), x=x)
    add("clamp_min", lambda x: x.clamp(min=0.2), x=x)
    add("clamp_max", lambda x: x.clamp(max=-0.1), x=x)
    add("sign", lambda x: x.sign(), x=ties - 2)
    add("maximum", lambda a, b: torch.maximum(a, b), a=x, b=b4)
    add("minimum", lambda a, b: torch.minimum(a, b), a=x, b=b4)
    add("maximum_ties", lambda a, b: torch.maximum(a, b), a=ties, b=ties_b)
    add("minimum_ties", lambda a, b: torch.minimum(a, b), a=ties, b=ties_b)

    # Masks, where, masked_fill
    add("comparisons", lambda a, b: [(a == b), (a != b), (a < b), (a <= b), (a > b), (a >= b)],
        a=ties, b=ties_b.reshape(1, 4))
    add("where", lambda mask_c, a, b: torch.where(mask_c != 0, a, b), mask_c=(x > 0).float(), a=x, b=b4)
    add("masked_fill", lambda x, mask_m: x.masked_fill(mask_m != 0, -1.5), x=x,
        mask_m=torch.tensor([[1.0, 0.0, 0.0, 1.0]]))

    # Reductions
    add("sum_dim1_keep", lambda x: x.sum(1, keepdim=True), x=x3)
    add("sum_dims_0_2", lambda x: x.sum((0, 2)), x=x3)
    add("mean_dims_1_2_keep", lambda x: x.mean((1, 2), keepdim=True), x=x3)
    add("max_dim1", lambda x: x.max(1), x=x3)
    add("min_dim0_keep", lambda x: x.min(0, keepdim=True), x=x3)
    add("max_dim_ties", lambda x: x.max(1), x=ties)
    add("max_all_ties", lambda x: x.max(), x=ties)
    add("min_all", lambda x: x.min(), x=x3)
    add("logsumexp_dim1", lambda x: torch.logsumexp(x, 1), x=x3)
    add("logsumexp_dim-1_keep", lambda x: torch.logsumexp(x, -1, keepdim=True), x=x3 * 30)
    add("var_dim1", lambda x: x.var(1), x=x3)
    add("var_dim2_correction0_keep", lambda x: x.var(2, correction=0, keepdim=True), x=x3)
    add("std_dim0", lambda x: x.std(0), x=x3)
    add("std_all", lambda x: x.std(), x=x3)
    add("var_all", lambda x: x.var(), x=x3)

    # Shapes
    add("permute_2_0_1", lambda x: x.permute(2, 0, 1), x=x3)
    add("transpose_0_2", lambda x: x.transpose(0, 2), x=x3)
    add("expand", lambda x: x.expand(2, 3, 5, 4), x=torch.randn(3, 1, 4))
    add("squeeze_unsqueeze_flatten", lambda x: x.squeeze().unsqueeze(0).flatten(1), x=torch.randn(3, 1, 4))
    add("clone", lambda x: x.clone() * x, x=x)

    # Indexing
    add("index_select_dim1", lambda x: x.index_select(1, torch.tensor([2, 0, 2])), x=x3)
    add("gather_dim1", lambda x: x.gather(1, torch.tensor([[[2, 0, 1, 1]], [[0, 0, 2, 1]]])), x=x3)
    add("gather_dim2", lambda x: x.gather(2, torch.tensor([[[3, 3], [0, 1]], [[1, 2], [2, 0]]])), x=x3)

    # Constructors (no inputs)
    add("arange", lambda: torch.arange(-1.0, 2.0, 0.3))
    add("arange_down", lambda: torch.arange(5.0, 0.0, -0.7))
    add("linspace", lambda: torch.linspace(-1.0, 2.0, 7))
    add("linspace_odd", lambda: torch.linspace(0.1, 0.9, 10))
    add("linspace_one", lambda: torch.linspace(0.1, 0.9, 1))
    add("eye", lambda: torch.eye(3, 4))

    # Layer normalisation (torch.nn.functional.layer_norm)
    add("layer_norm", lambda x, w, b: torch.nn.functional.layer_norm(x, (3, 4), w, b, 1e-5),
        x=torch.randn(2, 5, 3, 4) * 3 + 1, w=torch.randn(3, 4), b=torch.randn(3, 4))
    add("layer_norm_no_affine", lambda x: torch.nn.functional.layer_norm(x, (6,), eps=1e-3), x=torch.randn(4, 6))
    add("layer_norm_weight_only", lambda x, w: torch.nn.functional.layer_norm(x, (6,), w, None),
        x=torch.randn(3, 6) + 100, w=torch.randn(6))
    return {"module": "TensorOps", "name": name, "torch_version": torch.__version__, "ops": ops}


def tensor_descriptions_case(name: str = "tensor_descriptions") -> dict:
    """``repr`` of tensors of every shape and value range the printer distinguishes (default
    print options), with ``requires_grad`` set on some; the Swift ``description`` must match."""
    torch.manual_seed(seed_for(name))
    samples = [
        (torch.tensor(3.5), False),
        (torch.tensor(-2.0), True),
        (torch.tensor([1.0, -2.0, 3.0]), False),
        (torch.tensor([[0.1, -2.0], [3.5, 4.0]]), True),
        (torch.randn(3, 4), False),
        (torch.randn(2, 3, 4), True),
        (torch.randn(2, 2, 2, 3), False),
        (torch.tensor([1e-5, 1.0, 2.0]), False),
        (torch.tensor([1e9, 2.0]), False),
        (torch.tensor([1000.0, 0.5]), False),
        (torch.tensor([[0.0, 0.0], [0.0, 0.0]]), False),
        (torch.tensor([float("nan"), 1.5, float("inf"), -float("inf")]), False),
        (torch.tensor([float("nan"), 0.0]), False),
        (torch.tensor([1.0, 20.0, -300.0]), False),
        (torch.randn(30), False),
        (torch.randn(2000), False),
        (torch.randn(40, 40), True),
        (torch.randn(12, 3, 100), False),
        (torch.zeros(0, 3), False),
        (torch.zeros(0), False),
        (torch.randn(1, 25) * 1000, True),
    ]
    entries = []
    for t, requires_grad in samples:
        t = t.clone().requires_grad_(requires_grad)
        entries.append({"tensor": enc_nonfinite(t), "requires_grad": requires_grad, "repr": repr(t)})
    return {"module": "TensorDescriptions", "name": name, "torch_version": torch.__version__, "entries": entries}


def verify_tensor_ops(f: dict, report: Dict[str, float]) -> None:
    """Reruns every operation of a ``TensorOps`` file on its stored inputs and seeds."""
    tensor_ops_case(f["name"])  # registers the functions under their names
    for op, entry in f["ops"].items():
        inputs = {k: dec(v) for k, v in entry["inputs"].items()}
        seeds = [dec(s) for s in entry["seeds"]]
        fn = TENSOR_OP_FUNCTIONS[f["name"]][op]
        outs, _, grads = run_tensor_op(fn, inputs, seeds)
        report[op] = max([max_diff(o, dec(e)) for o, e in zip(outs, entry["outputs"])] +
                         [max_diff(dec(grads[k]), dec(v)) for k, v in entry["grads"].items()] + [0.0])


CASES: Dict[str, Callable[[str], dict]] = {
    # --- the shared set (same names and configurations as /work/shared/fixtures) ---
    "rnn_tanh_1layer": lambda n: recurrent_case(n, "RNN"),
    "rnn_relu_2layer": lambda n: recurrent_case(n, "RNN", num_layers=2, nonlinearity="relu"),
    "rnn_bidirectional_2layer": lambda n: recurrent_case(n, "RNN", num_layers=2, bidirectional=True),
    "rnn_no_h0": lambda n: recurrent_case(n, "RNN", num_layers=2, with_state=False),
    "rnn_tanh_seqfirst_nobias": lambda n: recurrent_case(n, "RNN", num_layers=2, bias=False, batch_first=False),
    "rnn_unbatched": lambda n: recurrent_case(n, "RNN", num_layers=2, batch=None),
    "rnncell": lambda n: cell_case(n, "RNNCell"),
    "rnncell_relu_nobias": lambda n: cell_case(n, "RNNCell", bias=False, nonlinearity="relu"),
    "lstmcell": lambda n: cell_case(n, "LSTMCell"),
    "grucell": lambda n: cell_case(n, "GRUCell"),
    "lstm_2layer": lambda n: recurrent_case(n, "LSTM", num_layers=2),
    "lstm_bidirectional": lambda n: recurrent_case(n, "LSTM", num_layers=2, bidirectional=True, batch_first=False),
    "lstm_proj": lambda n: recurrent_case(n, "LSTM", num_layers=2, proj_size=3),
    "gru_2layer": lambda n: recurrent_case(n, "GRU", num_layers=2),
    "gru_bidirectional_nobias": lambda n: recurrent_case(n, "GRU", bias=False, bidirectional=True),
    "losses": losses_case,
    "optimizers": optimizers_case,
    "seed_manual_cell": seed_manual_cell_case,
    "seed_nn_rnn": seed_nn_rnn_case,

    # --- extra module cases ---
    "rnn_3layer_relu": lambda n: recurrent_case(n, "RNN", num_layers=3, nonlinearity="relu"),
    "rnn_batch1": lambda n: recurrent_case(n, "RNN", num_layers=2, batch=1),
    "rnn_seq1": lambda n: recurrent_case(n, "RNN", num_layers=2, seq=1),
    "rnn_dropout0_train": lambda n: recurrent_case(n, "RNN", num_layers=2, dropout=0.0, training=True),
    "rnn_large": lambda n: recurrent_case(n, "RNN", num_layers=2, **LARGE),
    "lstm_3layer": lambda n: recurrent_case(n, "LSTM", num_layers=3),
    "lstm_unbatched": lambda n: recurrent_case(n, "LSTM", num_layers=2, batch=None),
    "lstm_proj_bidirectional": lambda n: recurrent_case(n, "LSTM", num_layers=2, bidirectional=True, proj_size=3),
    "lstm_no_state": lambda n: recurrent_case(n, "LSTM", num_layers=2, with_state=False),
    "lstm_large": lambda n: recurrent_case(n, "LSTM", num_layers=2, **LARGE),
    "gru_unbatched": lambda n: recurrent_case(n, "GRU", num_layers=2, batch=None),
    "gru_seqfirst": lambda n: recurrent_case(n, "GRU", num_layers=2, batch_first=False),
    "gru_3layer_bidirectional": lambda n: recurrent_case(n, "GRU", num_layers=3, bidirectional=True),
    "gru_large": lambda n: recurrent_case(n, "GRU", num_layers=2, bidirectional=True, batch_first=False, **LARGE),

    # --- extra cells ---
    "rnncell_unbatched": lambda n: cell_case(n, "RNNCell", batch=None),
    "lstmcell_unbatched": lambda n: cell_case(n, "LSTMCell", batch=None),
    "grucell_unbatched": lambda n: cell_case(n, "GRUCell", batch=None),
    "lstmcell_no_state": lambda n: cell_case(n, "LSTMCell", with_state=False),

    # --- variable lengths (pack_padded_sequence, enforce_sorted=False) ---
    "rnn_lengths": lambda n: recurrent_case(n, "RNN", num_layers=2, batch=4, seq=5, lengths=[3, 5, 1, 4]),
    "lstm_lengths_bidirectional": lambda n: recurrent_case(
        n, "LSTM", num_layers=2, bidirectional=True, batch_first=False, batch=4, seq=5, lengths=[2, 5, 3, 4]),
    "gru_lengths_2layer": lambda n: recurrent_case(
        n, "GRU", num_layers=2, batch=5, seq=6, lengths=[4, 2, 5, 1, 2]),

    # --- Linear ---
    "linear": linear_case,

    # --- Tensor operations (issue 16) ---
    "tensor_ops": tensor_ops_case,
    "tensor_descriptions": tensor_descriptions_case,

    # --- Training (issue 17) ---
    "training_losses": training_losses_case,
    "training_optimizers": training_optimizers_case,
    "schedulers": schedulers_case,
    "ctc_loss": ctc_case,
}


# ---------------------------------------------------------------------------------------
# Verification of existing files
# ---------------------------------------------------------------------------------------

def max_diff(a, b) -> float:
    a = a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=torch.float32)
    b = b if isinstance(b, torch.Tensor) else torch.tensor(b, dtype=torch.float32)
    if a.shape != b.shape:
        return float("inf")
    return (a.detach().to(torch.float64) - b.detach().to(torch.float64)).abs().max().item() if a.numel() else 0.0


def compare_sections(f: dict, r: dict, report: Dict[str, float]) -> None:
    for section in ("outputs", "grads"):
        stored = f.get(section, {})
        computed = r[section]
        if set(stored) != set(computed):
            report[f"{section} keys"] = float("inf")
            print(f"    {section} keys differ: stored {sorted(stored)} computed {sorted(computed)}")
        for k in stored:
            if k in computed:
                report[f"{section}.{k}"] = max_diff(computed[k], dec(stored[k]))
    if "loss" in f:
        report["loss"] = abs(r["loss"].item() - f["loss"])


def check_lengths_per_sequence(f: dict, params: Dict[str, torch.Tensor], inputs: dict) -> float:
    """Independent check of the packed-sequence convention: every batch element, run alone
    on its first ``length`` steps with its own slice of h0/c0, must give the stored
    ``output`` rows, zeros after them, the stored ``h_n``/``c_n`` column, and a zero input
    gradient past its length."""
    config = dict(f["config"])
    batch_first = config["batch_first"]
    config["batch_first"] = True
    m = RECURRENT_MODULES[f["module"]](**config)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(params[name])
    x = inputs["input"] if batch_first else inputs["input"].transpose(0, 1)
    out = dec(f["outputs"]["output"])
    out = out if batch_first else out.transpose(0, 1)
    grad_x = dec(f["grads"]["input"])
    grad_x = grad_x if batch_first else grad_x.transpose(0, 1)
    h_n = dec(f["outputs"]["h_n"])
    c_n = dec(f["outputs"]["c_n"]) if "c_n" in f["outputs"] else None
    worst = 0.0
    with torch.no_grad():
        for b, length in enumerate(inputs["lengths"]):
            h0 = inputs["h0"][:, b:b + 1] if "h0" in inputs else None
            state = (h0, inputs["c0"][:, b:b + 1]) if "c0" in inputs else h0
            o, hidden = m(x[b:b + 1, :length], state)
            h, c = hidden if isinstance(hidden, tuple) else (hidden, None)
            worst = max(worst, max_diff(o[0], out[b, :length]), max_diff(h[:, 0], h_n[:, b]))
            if c is not None:
                worst = max(worst, max_diff(c[:, 0], c_n[:, b]))
            if length < out.shape[1]:
                worst = max(worst, out[b, length:].abs().max().item(), grad_x[b, length:].abs().max().item())
    return worst


def verify_file(path: str) -> Dict[str, float]:
    with open(path) as fh:
        f = json.load(fh)
    module = f["module"]
    report: Dict[str, float] = {}
    if module in RECURRENT_MODULES or module in CELLS or module == "Linear" or module == "SeedRNN":
        params = {k: dec(v) for k, v in f["parameters"].items()}
        inputs = {k: (v if k == "lengths" else dec(v)) for k, v in f["inputs"].items()}
        seeds = {k: dec(v) for k, v in f["grad_seeds"].items()}
        if module in RECURRENT_MODULES:
            r = run_recurrent(module, f["config"], params, inputs, f.get("training", True), seeds=seeds)
            if "lengths" in inputs:
                report["lengths vs per-sequence runs"] = check_lengths_per_sequence(f, params, inputs)
        elif module in CELLS:
            r = run_cell(module, f["config"], params, inputs, seeds=seeds)
        elif module == "Linear":
            r = run_linear(f["config"], params, inputs, seeds=seeds)
        else:
            r = run_seed_rnn(f["config"], params, inputs["input"], seeds=seeds)
        compare_sections(f, r, report)
    elif module == "SeedCell":
        params = {k: dec(v) for k, v in f["parameters"].items()}
        r = train_manual_cell(f["config"], params, [dec(s) for s in f["sequence"]])
        report["losses"] = max_diff(r["losses"], f["losses"])
        for k, v in f["final_parameters"].items():
            report[f"final_parameters.{k}"] = max_diff(r["final_parameters"][k], dec(v))
    elif module == "Losses":
        r = compute_losses(dec(f["logits"]), f["target"], dec(f["mse_pred"]), dec(f["mse_target"]))
        for k, v in r.items():
            stored = f[k]
            report[k] = max_diff(v, dec(stored)) if isinstance(stored, dict) else abs(v.item() - stored)
    elif module == "Optimizers":
        param0 = dec(f["param0"])
        grads = [dec(g) for g in f["grads"]]
        for i, run in enumerate(f["runs"]):
            traj = run_optimizer(run["optimizer"], run["options"], param0, grads)
            report[f"runs[{i}] {run['optimizer']} {run['options']}"] = max(
                max_diff(a, dec(b)) for a, b in zip(traj, run["params_after_each_step"]))
        total, clipped = run_clip([dec(g) for g in f["clip"]["grads"]], f["clip"]["max_norm"])
        report["clip.total_norm"] = abs(total.item() - f["clip"]["total_norm"])
        report["clip.clipped"] = max(max_diff(a, dec(b)) for a, b in zip(clipped, f["clip"]["clipped"]))
    elif module == "CTCLoss":
        verify_ctc(f, report)
    elif module == "Schedulers":
        verify_schedulers(f, report)
    elif module == "TrainingOptimizers":
        verify_training_optimizers(f, report)
    elif module == "TrainingLosses":
        verify_training_losses(f, report)
    elif module == "TensorOps":
        verify_tensor_ops(f, report)
    elif module == "TensorDescriptions":
        report["repr mismatches"] = float(sum(
            repr(dec(e["tensor"]).requires_grad_(e["requires_grad"])) != e["repr"] for e in f["entries"]))
    elif module == "Embedding":
        # Written and recomputed by Scripts/embedding_fixture.py.
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import embedding_fixture
        report["embedding (Scripts/embedding_fixture.py)"] = embedding_fixture.verify(path)
    else:
        report["unknown module " + module] = float("inf")
    return report


def verify(directory: str, tolerance: float) -> int:
    names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    failures = 0
    for n in names:
        report = verify_file(os.path.join(directory, n))
        worst_key = max(report, key=report.get) if report else "-"
        worst = report.get(worst_key, 0.0)
        ok = worst <= tolerance
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {n:40s} max |diff| {worst:.3g} ({worst_key})")
    print(f"{len(names) - failures}/{len(names)} files reproduced within {tolerance}")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="generate only these cases")
    parser.add_argument("--list", action="store_true", help="list the case names and exit")
    parser.add_argument("--verify", metavar="DIR",
                        help="recompute every fixture in DIR with PyTorch and compare; writes nothing")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest absolute difference accepted by --verify (default 1e-5)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # the most reproducible summation order on the CPU
    # PyTorch notes that LSTM with proj_size bypasses oneDNN; harmless here.
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
    if args.list:
        print("\n".join(CASES))
        return 0
    if args.verify:
        return verify(args.verify, args.tolerance)

    names = args.only or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name in names:
        fixture = CASES[name](name)
        path = os.path.join(args.out, name + ".json")
        with open(path, "w") as fh:
            json.dump(fixture, fh)
        size = os.path.getsize(path)
        total += size
        print(f"{path}  {size / 1024:.1f} KiB")
    print(f"{len(names)} fixtures, {total / 1024:.1f} KiB, torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
