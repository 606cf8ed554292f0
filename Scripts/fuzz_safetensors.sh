#!/usr/bin/env bash
# A long fuzzing campaign for the safetensors reader.
#
#   Scripts/fuzz_safetensors.sh [libfuzzer|ci|mutation] [seconds]
#
# libfuzzer (default): builds Fuzz/SafeTensorsFuzzer/main.swift with the Recurrent sources
#   under `swiftc -sanitize=fuzzer,address` (the LinearAlgebra module comes from a release
#   SwiftPM build) and runs libFuzzer for the given time (default 600 s, or $FUZZ_SECONDS),
#   starting from the committed fixtures and a dictionary of header tokens. Crashing inputs
#   go to $FUZZ_WORK_DIR/artifacts (default .build-fuzz/artifacts); the grown corpus to
#   $FUZZ_WORK_DIR/corpus. Extra libFuzzer flags: $FUZZ_FLAGS (e.g. "-jobs=2 -workers=2").
#   Reproduce a crash with:  .build-fuzz/safetensors-fuzzer .build-fuzz/artifacts/crash-…
#
# ci: the same harness for a fixed number of inputs ($FUZZ_RUNS, default 100000) from a
#   fixed seed ($FUZZ_SEED, default 1), from a fresh copy of the fixtures; .ci/run runs it.
#
# mutation: the seeded random-mutation XCTest (SafeTensorsFuzzTests) with
#   $SAFETENSORS_FUZZ_ITERATIONS iterations (default 2000000) and $SAFETENSORS_FUZZ_SEED,
#   built in $FUZZ_CONFIGURATION (default release, with -enable-testing for the tests'
#   @testable imports); no libFuzzer needed.
#
# Both print the number of executions and exit non-zero when an input crashes the reader.
set -euo pipefail

MODE="${1:-libfuzzer}"
SECONDS_TO_RUN="${2:-${FUZZ_SECONDS:-600}}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${FUZZ_WORK_DIR:-$ROOT/.build-fuzz}"
cd "$ROOT"
mkdir -p "$WORK"

build_harness() {
    echo "== building LinearAlgebra (release) in $WORK/spm"
    swift build -c release --scratch-path "$WORK/spm" --target LinearAlgebra >/dev/null
    BIN="$(swift build -c release --scratch-path "$WORK/spm" --show-bin-path)"
    MODULES="$BIN/Modules"
    [ -d "$MODULES" ] || MODULES="$BIN"
    # LinearAlgebra's objects and those of the C kernels it calls (CKernels, with the module
    # map SwiftPM generated for it).
    OBJECTS=$(find "$BIN/LinearAlgebra.build" "$BIN/CKernels.build" -name '*.o')
    CFLAGS=()
    for flag in $(pkg-config --cflags openblas lapacke 2>/dev/null); do CFLAGS+=(-Xcc "$flag"); done
    echo "== compiling the harness with -sanitize=fuzzer,address"
    # shellcheck disable=SC2046
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SafeTensorsFuzzer \
        -I "$MODULES" -I CInclude/CBLAS -I CInclude/CLAPACKE "${CFLAGS[@]}" \
        -Xcc -fmodule-map-file="$BIN/CKernels.build/module.modulemap" -I CInclude/CKernels/include \
        $(find Sources/Recurrent -name '*.swift' | sort) Fuzz/SafeTensorsFuzzer/main.swift \
        $OBJECTS $(pkg-config --libs openblas lapacke) \
        -o "$WORK/safetensors-fuzzer" 2>&1 | grep -v "Cannot export local symbol" || true
    [ -x "$WORK/safetensors-fuzzer" ] || { echo "harness did not build" >&2; exit 2; }
}

case "$MODE" in
libfuzzer)
    build_harness
    mkdir -p "$WORK/corpus" "$WORK/artifacts"
    cp -n Tests/RecurrentTests/Fixtures/safetensors/*.safetensors "$WORK/corpus/" 2>/dev/null || true
    echo "== running libFuzzer for $SECONDS_TO_RUN s"
    # shellcheck disable=SC2086
    "$WORK/safetensors-fuzzer" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
        -dict=Fuzz/SafeTensorsFuzzer/safetensors.dict -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$WORK/artifacts/" ${FUZZ_FLAGS:-} "$WORK/corpus"
    ;;
ci)
    # A short, reproducible campaign for CI: a fixed number of inputs from a fixed seed,
    # starting from a fresh copy of the committed fixtures (nothing is kept).
    build_harness
    CORPUS="$(mktemp -d)"
    trap 'rm -rf "$CORPUS"' EXIT
    cp Tests/RecurrentTests/Fixtures/safetensors/*.safetensors "$CORPUS/"
    mkdir -p "$WORK/artifacts"
    echo "== running libFuzzer: ${FUZZ_RUNS:-100000} inputs, seed ${FUZZ_SEED:-1}"
    LOG="$CORPUS/fuzz.log"
    status=0
    "$WORK/safetensors-fuzzer" -runs="${FUZZ_RUNS:-100000}" -seed="${FUZZ_SEED:-1}" -print_final_stats=1 \
        -dict=Fuzz/SafeTensorsFuzzer/safetensors.dict -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$WORK/artifacts/" "$CORPUS" >"$LOG" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -60 "$LOG" >&2
        echo "libFuzzer failed (exit $status); the crashing input is in $WORK/artifacts" >&2
        exit "$status"
    fi
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$LOG" || true
    ;;
mutation)
    export SAFETENSORS_FUZZ_ITERATIONS="${SAFETENSORS_FUZZ_ITERATIONS:-2000000}"
    echo "== $SAFETENSORS_FUZZ_ITERATIONS mutations, seed ${SAFETENSORS_FUZZ_SEED:-default}"
    swift test -c "${FUZZ_CONFIGURATION:-release}" -Xswiftc -enable-testing --scratch-path "$WORK/spm-test" --disable-swift-testing \
        --filter SafeTensorsFuzzTests 2>&1 | grep -E "safetensors fuzz|error|passed|failed"
    ;;
*)
    echo "usage: $0 [libfuzzer|ci|mutation] [seconds]" >&2
    exit 64
    ;;
esac
