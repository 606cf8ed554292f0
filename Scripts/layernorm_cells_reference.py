#!/usr/bin/env python3
"""PyTorch reference for Recurrent's layer-normalised cells, and the fixtures of
Tests/RecurrentTests/LayerNormRecurrenceTests.swift.

`LayerNormLSTMCell` is PyTorch's own reference, `benchmarks/fastrnns/custom_lstms.py`, written
out here as plain `nn.Module` code (the original is a TorchScript `jit.ScriptModule`; its
`decompose_layernorm=False` path, i.e. `nn.LayerNorm`):

    igates = LN_i(x @ W_ih.T)          # LayerNorm over the 4H gate vector, affine
    hgates = LN_h(h @ W_hh.T)          # LayerNorm over 4H, affine
    gates = igates + hgates            # no separate biases: the LNs' shifts are the biases
    i, f, g, o = gates.chunk(4, 1); i, f, o = sigmoid; g = tanh
    c' = LN_c(f * c + i * g)           # LayerNorm over H, affine
    h' = o * tanh(c')

`LayerNormGRUCell` is the GRU analogue that Recurrent implements (Sources/Recurrent/
Recurrent.docc/LayerNormCells.md):

    xg = LN_i(x @ W_ih.T)              # 3H, gates r, z, n (PyTorch's GRU order)
    hg = LN_h(h @ W_hh.T)              # 3H
    r = sigmoid(xg_r + hg_r); z = sigmoid(xg_z + hg_z)
    n = tanh(xg_n + r * hg_n)
    h' = (1 - z) * n + z * h

`LayerNormLSTM` / `LayerNormGRU` stack the cells like `nn.LSTM`/`nn.GRU` (num_layers,
bidirectional, batch_first, dropout between layers, lengths with Recurrent's packed-sequence
semantics: an item past its length keeps its state and outputs zeros; the reverse direction
starts at the item's own last step). Their parameters are named like `nn.LSTM`'s, so that
`state_dict()` loads into the Swift modules as it is:
`weight_ih_l{k}[_reverse]`, `weight_hh_l{k}[_reverse]`, `layernorm_i_l{k}[_reverse].weight`/
`.bias`, `layernorm_h_l{k}[_reverse].*`, and (LSTM) `layernorm_c_l{k}[_reverse].*`. The
cells keep the reference's names: `weight_ih`, `weight_hh`, `layernorm_i.*`, `layernorm_h.*`,
`layernorm_c.*`. With `bias=False` the layer norms have no shift (`nn.LayerNorm(bias=False)`).

Usage: python3 Scripts/layernorm_cells_reference.py   (writes Tests/RecurrentTests/Fixtures/layernorm/)
"""
import json
import math
import os

import torch
import torch.nn as nn
from torch.nn import Parameter

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "RecurrentTests", "Fixtures", "layernorm")


class LayerNormLSTMCell(nn.Module):
    """custom_lstms.py's LayerNormLSTMCell (nn.LayerNorm path), as an nn.Module."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = Parameter(torch.randn(4 * hidden_size, hidden_size))
        # The layernorms provide learnable biases
        self.layernorm_i = nn.LayerNorm(4 * hidden_size, bias=bias)
        self.layernorm_h = nn.LayerNorm(4 * hidden_size, bias=bias)
        self.layernorm_c = nn.LayerNorm(hidden_size, bias=bias)

    def forward(self, input, state):
        hx, cx = state
        igates = self.layernorm_i(torch.mm(input, self.weight_ih.t()))
        hgates = self.layernorm_h(torch.mm(hx, self.weight_hh.t()))
        gates = igates + hgates
        ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)

        ingate = torch.sigmoid(ingate)
        forgetgate = torch.sigmoid(forgetgate)
        cellgate = torch.tanh(cellgate)
        outgate = torch.sigmoid(outgate)

        cy = self.layernorm_c((forgetgate * cx) + (ingate * cellgate))
        hy = outgate * torch.tanh(cy)

        return hy, (hy, cy)


class LayerNormGRUCell(nn.Module):
    """The GRU analogue (see the module docstring)."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = Parameter(torch.randn(3 * hidden_size, input_size))
        self.weight_hh = Parameter(torch.randn(3 * hidden_size, hidden_size))
        self.layernorm_i = nn.LayerNorm(3 * hidden_size, bias=bias)
        self.layernorm_h = nn.LayerNorm(3 * hidden_size, bias=bias)

    def forward(self, input, hx):
        xg = self.layernorm_i(torch.mm(input, self.weight_ih.t()))
        hg = self.layernorm_h(torch.mm(hx, self.weight_hh.t()))
        xr, xz, xn = xg.chunk(3, 1)
        hr, hz, hn = hg.chunk(3, 1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        hy = (1 - z) * n + z * hx
        return hy, hy


def ln_functional(ln, x):
    return nn.functional.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


class _LayerNormStack(nn.Module):
    """A stack of layer-normalised cells named like nn.LSTM's parameters, run step by step."""

    gates = 4
    has_cell = True

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, dropout, bidirectional
        D = 2 if bidirectional else 1
        G = self.gates
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                layer_input = input_size if layer == 0 else hidden_size * D
                setattr(self, "weight_ih" + sfx, Parameter(torch.empty(G * hidden_size, layer_input).uniform_(-bound, bound)))
                setattr(self, "weight_hh" + sfx, Parameter(torch.empty(G * hidden_size, hidden_size).uniform_(-bound, bound)))
                setattr(self, "layernorm_i" + sfx, nn.LayerNorm(G * hidden_size, bias=bias))
                setattr(self, "layernorm_h" + sfx, nn.LayerNorm(G * hidden_size, bias=bias))
                if self.has_cell:
                    setattr(self, "layernorm_c" + sfx, nn.LayerNorm(hidden_size, bias=bias))

    def cell(self, sfx, x, state):
        raise NotImplementedError

    def forward(self, x, state=None, lengths=None):
        D = 2 if self.bidirectional else 1
        if self.batch_first:
            x = x.transpose(0, 1)
        T, B = x.shape[0], x.shape[1]
        H = self.hidden_size
        if state is None:
            h0 = x.new_zeros(self.num_layers * D, B, H)
            state = (h0, h0.clone()) if self.has_cell else h0
        h0 = state[0] if self.has_cell else state
        c0 = state[1] if self.has_cell else None
        mask = None
        if lengths is not None:
            lengths_t = torch.tensor(lengths)
            mask = [(t < lengths_t).to(x.dtype).unsqueeze(1) for t in range(T)]
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                h = h0[layer * D + d]
                c = c0[layer * D + d] if self.has_cell else None
                ys = [None] * T
                for s in range(T):
                    t = s if d == 0 else T - 1 - s
                    hn, cn = self.cell(sfx, x[t], h, c)
                    if mask is not None:
                        m = mask[t]
                        hn = hn * m + h * (1 - m)
                        if self.has_cell:
                            cn = cn * m + c * (1 - m)
                        ys[t] = hn * m
                    else:
                        ys[t] = hn
                    h, c = hn, cn
                outs.append(torch.stack(ys))
                hs.append(h)
                if self.has_cell:
                    cs.append(c)
            x = torch.cat(outs, dim=-1)
            if layer < self.num_layers - 1 and self.training and self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, True)
        if self.batch_first:
            x = x.transpose(0, 1)
        hN = torch.stack(hs)
        if self.has_cell:
            return x, (hN, torch.stack(cs))
        return x, hN


class LayerNormLSTM(_LayerNormStack):
    gates = 4
    has_cell = True

    def cell(self, sfx, x, h, c):
        w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
        igates = ln_functional(getattr(self, "layernorm_i" + sfx), x @ w_ih.t())
        hgates = ln_functional(getattr(self, "layernorm_h" + sfx), h @ w_hh.t())
        i, f, g, o = (igates + hgates).chunk(4, 1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        cy = ln_functional(getattr(self, "layernorm_c" + sfx), f * c + i * g)
        return o * torch.tanh(cy), cy


class LayerNormGRU(_LayerNormStack):
    gates = 3
    has_cell = False

    def cell(self, sfx, x, h, c):
        w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
        xr, xz, xn = ln_functional(getattr(self, "layernorm_i" + sfx), x @ w_ih.t()).chunk(3, 1)
        hr, hz, hn = ln_functional(getattr(self, "layernorm_h" + sfx), h @ w_hh.t()).chunk(3, 1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h, None


# MARK: - Fixtures

def t(x):
    x = x.detach().to(torch.float32)
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def randomise_norms(module, gen):
    """LayerNorm's defaults (ones, zeros) would hide mistakes in the affine terms."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "layernorm" in name:
                if name.endswith("weight"):
                    p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.3 * torch.randn(p.shape, generator=gen))


def stack_fixture(name, cls, input_size, hidden, layers, bias, batch_first, bidirectional, T, B, lengths, with_state, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = cls(input_size, hidden, layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    randomise_norms(m, gen)
    params = {k: t(v) for k, v in m.state_dict().items()}
    m = m.double()
    D = 2 if bidirectional else 1
    shape = (B, T, input_size) if batch_first else (T, B, input_size)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    x = x.float().double().requires_grad_()
    inputs = {"input": t(x)}
    state = None
    h0 = c0 = None
    if with_state:
        h0 = (0.5 * torch.randn(layers * D, B, hidden, generator=gen, dtype=torch.float64)).float().double().requires_grad_()
        inputs["h0"] = t(h0)
        if cls.has_cell:
            c0 = (0.5 * torch.randn(layers * D, B, hidden, generator=gen, dtype=torch.float64)).float().double().requires_grad_()
            inputs["c0"] = t(c0)
            state = (h0, c0)
        else:
            state = h0
    if lengths is not None:
        inputs["lengths"] = lengths
    out, st = m(x, state, lengths=lengths)
    hN, cN = (st if cls.has_cell else (st, None))
    # The loss: a random weighting of every output, so that every gradient path is exercised.
    w_out = torch.randn(out.shape, generator=gen, dtype=torch.float64).float().double()
    w_h = torch.randn(hN.shape, generator=gen, dtype=torch.float64).float().double()
    loss = (out * w_out).sum() + (hN * w_h).sum()
    weights = {"output": t(w_out), "h_n": t(w_h)}
    if cN is not None:
        w_c = torch.randn(cN.shape, generator=gen, dtype=torch.float64).float().double()
        loss = loss + (cN * w_c).sum()
        weights["c_n"] = t(w_c)
    loss.backward()
    outputs = {"output": t(out), "h_n": t(hN)}
    if cN is not None:
        outputs["c_n"] = t(cN)
    grads = {"input": t(x.grad)}
    if h0 is not None:
        grads["h0"] = t(h0.grad)
    if c0 is not None:
        grads["c0"] = t(c0.grad)
    for k, p in m.named_parameters():
        grads[k] = t(p.grad)
    fixture = {
        "module": cls.__name__,
        "config": {"input_size": input_size, "hidden_size": hidden, "num_layers": layers, "bias": bias,
                   "batch_first": batch_first, "bidirectional": bidirectional},
        "parameters": params, "inputs": inputs, "loss_weights": weights, "outputs": outputs, "gradients": grads,
    }
    write(name, fixture)


def cell_fixture(name, cls, input_size, hidden, B, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = cls(input_size, hidden)
    randomise_norms(m, gen)
    params = {k: t(v) for k, v in m.state_dict().items()}
    m = m.double()
    x = torch.randn(B, input_size, generator=gen, dtype=torch.float64).float().double().requires_grad_()
    h = (0.5 * torch.randn(B, hidden, generator=gen, dtype=torch.float64)).float().double().requires_grad_()
    inputs = {"input": t(x), "h0": t(h)}
    if cls is LayerNormLSTMCell:
        c = (0.5 * torch.randn(B, hidden, generator=gen, dtype=torch.float64)).float().double().requires_grad_()
        inputs["c0"] = t(c)
        hy, (_, cy) = m(x, (h, c))
    else:
        c, cy = None, None
        hy, _ = m(x, h)
    w_h = torch.randn(hy.shape, generator=gen, dtype=torch.float64).float().double()
    loss = (hy * w_h).sum()
    weights = {"h_1": t(w_h)}
    outputs = {"h_1": t(hy)}
    if cy is not None:
        w_c = torch.randn(cy.shape, generator=gen, dtype=torch.float64).float().double()
        loss = loss + (cy * w_c).sum()
        weights["c_1"] = t(w_c)
        outputs["c_1"] = t(cy)
    loss.backward()
    grads = {"input": t(x.grad), "h0": t(h.grad)}
    if c is not None:
        grads["c0"] = t(c.grad)
    for k, p in m.named_parameters():
        grads[k] = t(p.grad)
    write(name, {"module": cls.__name__, "config": {"input_size": input_size, "hidden_size": hidden, "bias": True},
                 "parameters": params, "inputs": inputs, "loss_weights": weights, "outputs": outputs, "gradients": grads})


def write(name, fixture):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
    print("wrote", name)


def main():
    # Sizes off the vector width (5, 6, 7) so that the kernels' tails are exercised.
    stack_fixture("lstm_basic", LayerNormLSTM, 5, 6, 1, True, False, False, T=4, B=3, lengths=None, with_state=True, seed=1)
    stack_fixture("lstm_stack", LayerNormLSTM, 5, 7, 2, True, True, True, T=5, B=3, lengths=[5, 2, 4], with_state=True, seed=2)
    stack_fixture("lstm_nobias_nostate", LayerNormLSTM, 4, 9, 1, False, False, False, T=3, B=2, lengths=None, with_state=False, seed=3)
    stack_fixture("lstm_wide", LayerNormLSTM, 12, 20, 1, True, False, True, T=6, B=5, lengths=[6, 3, 1, 5, 6], with_state=True, seed=4)
    stack_fixture("gru_basic", LayerNormGRU, 5, 6, 1, True, False, False, T=4, B=3, lengths=None, with_state=True, seed=5)
    stack_fixture("gru_stack", LayerNormGRU, 5, 7, 2, True, True, True, T=5, B=3, lengths=[5, 2, 4], with_state=True, seed=6)
    stack_fixture("gru_nobias_nostate", LayerNormGRU, 4, 9, 1, False, False, False, T=3, B=2, lengths=None, with_state=False, seed=7)
    cell_fixture("lstmcell", LayerNormLSTMCell, 5, 6, 3, seed=8)
    cell_fixture("grucell", LayerNormGRUCell, 5, 6, 3, seed=9)


if __name__ == "__main__":
    main()
