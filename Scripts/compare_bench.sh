#!/bin/sh
# Builds recurrent-bench and runs it, Scripts/torch_bench.py and Scripts/onnx_bench.py side by
# side for 1 and 2 threads; see Scripts/compare_bench.py for the options (e.g. --markdown,
# --rounds 3, --cases a,b, --list).
cd "$(dirname "$0")/.." && exec python3 Scripts/compare_bench.py "$@"
