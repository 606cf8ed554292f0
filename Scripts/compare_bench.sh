#!/bin/sh
# Builds recurrent-bench and runs it and Scripts/torch_bench.py side by side for 1 and 2
# threads; see Scripts/compare_bench.py for the options (e.g. --markdown, --rounds 3).
cd "$(dirname "$0")/.." && exec python3 Scripts/compare_bench.py "$@"
