#!/usr/bin/env python3
"""The forward passes of recurrent-bench's module cases in onnxruntime, with the timing and
the JSON of Scripts/torch_bench.py.

    python3 Scripts/onnx_bench.py [--threads N] [--json] [--cases a,b] [--repeat K] [--list]

Each case's PyTorch module and input are those of torch_bench.py (`build_case`: the weights
drawn right after `torch.manual_seed(1)`, batch first, bidirectional where the case is). The
module is exported with `torch.onnx.export` (the TorchScript exporter, which writes ONNX's own
RNN/LSTM/GRU operators; PyTorch's GRU becomes a GRU with `linear_before_reset=1`) and run on
onnxruntime's CPU provider with `intra_op_num_threads` = --threads and `inter_op_num_threads`
= 1. Before anything is timed, every output (the output sequence and the final states) must
agree with PyTorch's within rtol 1e-4, atol 1e-5; a case that does not is reported and the
script exits with status 1. The timed body is one `InferenceSession.run` on the case's input
(a NumPy array made once), as a service calls it.

Only the module cases run here (forward only); the other cases of recurrent-bench have no
onnxruntime counterpart and are skipped. When onnx or onnxruntime is not importable, the
script says so (on stderr, and as a JSON line with a "note" under --json) and exits with
status 0, so that compare_bench.py carries on without the column.
"""
import io
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from torch_bench import (MODULE_CASES, build_case, clock, common_arguments, describe, format_seconds,  # noqa: E402
                         forward_flops, measure, selected_cases)

RTOL, ATOL = 1e-4, 1e-5


def output_names(case):
    return ["output", "h_n", "c_n"] if case.kind == "LSTM" else ["output", "h_n"]


def export(module, x, case):
    """The module as ONNX bytes, with its recurrent operators' names and attributes."""
    buf = io.BytesIO()
    kwargs = dict(input_names=["input"], output_names=output_names(case), opset_version=17)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (x,), buf, dynamo=False, **kwargs)
        except TypeError:
            # A PyTorch without the `dynamo` switch has only the TorchScript exporter.
            torch.onnx.export(module, (x,), buf, **kwargs)
    return buf.getvalue()


def recurrent_nodes(model_bytes):
    """'GRU(linear_before_reset=1, direction=bidirectional)'-style descriptions of the
    exported recurrent operators, to show what onnxruntime runs."""
    import onnx
    model = onnx.load_from_string(model_bytes)
    nodes = []
    for n in model.graph.node:
        if n.op_type in ("RNN", "LSTM", "GRU"):
            attrs = []
            for a in n.attribute:
                if a.name in ("linear_before_reset", "direction", "activations"):
                    v = onnx.helper.get_attribute_value(a)
                    v = v.decode() if isinstance(v, bytes) else ([s.decode() for s in v] if isinstance(v, list) else v)
                    attrs.append(f"{a.name}={v}")
            nodes.append(f"{n.op_type}({', '.join(attrs)})")
    return nodes


def check_agreement(case, expected, got):
    """Raises AssertionError naming the output that differs from PyTorch's; returns the
    largest absolute difference."""
    import numpy as np
    worst = 0.0
    for name, e, g in zip(output_names(case), expected, got):
        e = e.numpy()
        if e.shape != g.shape:
            raise AssertionError(f"{case.name}: onnxruntime's {name} has shape {g.shape}, PyTorch's {e.shape}")
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL,
                                   err_msg=f"{case.name}: onnxruntime's {name} differs from PyTorch's")
        worst = max(worst, float(np.max(np.abs(g - e))) if e.size else 0.0)
    return worst


def run_case(case, args, now, ort):
    module, x = build_case(case)
    module.eval()
    with torch.no_grad():
        y, state = module(x)
    expected = [y] + (list(state) if case.kind == "LSTM" else [state])
    model_bytes = export(module, x, case)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    feed = {"input": x.numpy()}
    worst = check_agreement(case, expected, session.run(None, feed))
    t = measure(lambda: session.run(None, feed), args.repeat, args.min_sample, now)
    return dict(case=case.name, mode="forward", seconds=t, flops=forward_flops(case),
                extra={"max_abs_diff": worst, "onnx_ops": recurrent_nodes(model_bytes)})


def main():
    # --modes is accepted for symmetry with the other benchmarks; only forward runs here.
    args = common_arguments(__doc__, "forward").parse_args()
    if args.list:
        for c in MODULE_CASES:
            print(describe(c).replace("; forward, train", "; forward"))
        return
    if args.threads < 1:
        sys.exit(f"--threads must be at least 1, got {args.threads}")

    selected = selected_cases(args)
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        import onnxruntime as ort
    except ImportError as error:
        note = f"onnxruntime column skipped: {error} (pip install onnx onnxruntime)"
        print(note, file=sys.stderr)
        if args.json:
            print(json.dumps({"impl": "onnxruntime", "note": note}), flush=True)
        return
    if "forward" not in args.modes.split(","):
        return

    torch.set_num_threads(args.threads)   # for the PyTorch reference pass and the export
    now = clock(args.clock)
    if not args.json:
        print(f"onnx_bench: onnxruntime {ort.__version__}, {args.threads} intra-op thread(s), median of {args.repeat}")
        print(f"{'case':18}{'mode':8}{'time':>13}{'GFLOP/s':>10}  agreement")
    failed = []
    for name in selected:
        case = next((c for c in MODULE_CASES if c.name == name), None)
        # Only PyTorch's own recurrent layers export to ONNX's recurrent operators
        # (ln-lstm-medium's reference is a Python loop).
        if case is None or case.kind not in ("RNN", "LSTM", "GRU"):
            continue
        try:
            r = run_case(case, args, now, ort)
        except AssertionError as error:
            failed.append(name)
            print(f"{name}: not timed, onnxruntime disagrees with PyTorch (rtol {RTOL}, atol {ATOL}):\n{error}",
                  file=sys.stderr)
            continue
        sec = r["seconds"]
        gf = r["flops"] / sec / 1e9
        if args.json:
            obj = {"impl": "onnxruntime", "case": r["case"], "mode": r["mode"], "threads": args.threads,
                   "ms": sec * 1e3, "us": sec * 1e6, "gflops": gf}
            obj.update(r["extra"])
            print(json.dumps(obj), flush=True)
        else:
            print(f"{r['case']:18}{r['mode']:8}{format_seconds(sec):>13}{gf:>10.1f}  max |Δ| {r['extra']['max_abs_diff']:.2e}, "
                  + " ".join(r["extra"]["onnx_ops"]), flush=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
