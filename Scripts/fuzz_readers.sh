#!/usr/bin/env bash
# libFuzzer campaigns for the readers of outside input beyond the safetensors parser
# (Fuzz/ReadersFuzzer/main.swift: checkpoint, header, csv, names, names-metadata, model-files).
#
#   Scripts/fuzz_readers.sh ci [runs]                 every target, $FUZZ_RUNS (default 20000) inputs each
#   Scripts/fuzz_readers.sh libfuzzer <target> [s]    one target for s seconds (default 600)
#   Scripts/fuzz_readers.sh seeds <target>            rewrite Fuzz/corpus/<target> from the harness
#
# The example libraries whose readers are fuzzed (Airline, Names, Generate, Tagging, Translate)
# and what they depend on are built by SwiftPM in release
# with -sanitize=fuzzer,address in $FUZZ_WORK_DIR/spm-readers (default .build-fuzz/); the
# harness is compiled against them with swiftc. Each target starts from its committed corpus
# (Fuzz/corpus/<target>) with its dictionary (Fuzz/ReadersFuzzer/<target>.dict); ci runs
# from a fresh copy with a fixed seed ($FUZZ_SEED, default 1) and keeps nothing. Crashing
# inputs go to $FUZZ_WORK_DIR/artifacts/<target>/. RECURRENT_MEMORY_LIMIT (default 1 GB)
# bounds what an input can make the library allocate, below libFuzzer's -rss_limit_mb.
set -euo pipefail

MODE="${1:-ci}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${FUZZ_WORK_DIR:-$ROOT/.build-fuzz}"
TARGETS=(checkpoint header csv names names-metadata model-files)
cd "$ROOT"
mkdir -p "$WORK"
export RECURRENT_MEMORY_LIMIT="${RECURRENT_MEMORY_LIMIT:-1000000000}"

build_harness() {
    local scratch="$WORK/spm-readers"
    echo "== building the example libraries read by the harness and their dependencies (release, -sanitize=fuzzer,address) in $scratch"
    local library
    for library in AirlineExample NamesExample GenerateExample TaggingExample TranslateExample; do
        swift build -c release --sanitize=fuzzer --sanitize=address --scratch-path "$scratch" --target "$library" >/dev/null
    done
    BIN="$(swift build -c release --sanitize=fuzzer --sanitize=address --scratch-path "$scratch" --show-bin-path)"
    MODULES="$BIN/Modules"
    [ -d "$MODULES" ] || MODULES="$BIN"
    OBJECTS=$(find "$BIN/AirlineExample.build" "$BIN/NamesExample.build" "$BIN/GenerateExample.build" \
        "$BIN/TaggingExample.build" "$BIN/TranslateExample.build" "$BIN/ExampleSupport.build" "$BIN/Recurrent.build" "$BIN/LinearAlgebra.build" "$BIN/CKernels.build" \
        "$BIN/ArgumentParser.build" "$BIN/ArgumentParserToolInfo.build" -name '*.o')
    CFLAGS=()
    for flag in $(pkg-config --cflags openblas lapacke 2>/dev/null); do CFLAGS+=(-Xcc "$flag"); done
    echo "== compiling the harness"
    # shellcheck disable=SC2086
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name ReadersFuzzer \
        -I "$MODULES" -I CInclude/CBLAS -I CInclude/CLAPACKE "${CFLAGS[@]}" \
        -Xcc -fmodule-map-file="$BIN/CKernels.build/module.modulemap" -I CInclude/CKernels/include \
        Fuzz/ReadersFuzzer/main.swift $OBJECTS $(pkg-config --libs openblas lapacke) \
        -o "$WORK/readers-fuzzer" 2>&1 | grep -v "Cannot export local symbol" || true
    [ -x "$WORK/readers-fuzzer" ] || { echo "harness did not build" >&2; exit 2; }
}

run_target() {  # target, corpus folder, libFuzzer limit flag
    local target="$1" corpus="$2" limit="$3" log status=0
    mkdir -p "$WORK/artifacts/$target"
    log="$(mktemp)"
    FUZZ_TARGET="$target" "$WORK/readers-fuzzer" "$limit" -seed="${FUZZ_SEED:-1}" -print_final_stats=1 \
        -dict="Fuzz/ReadersFuzzer/$target.dict" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$WORK/artifacts/$target/" ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -60 "$log" >&2
        echo "libFuzzer failed on $target (exit $status); the crashing input is in $WORK/artifacts/$target" >&2
        rm -f "$log"
        exit "$status"
    fi
    echo "$target: $(grep -E '^stat::number_of_executed_units' "$log" | sed 's/.*: *//') inputs," \
         "peak RSS $(grep -E '^stat::peak_rss_mb' "$log" | sed 's/.*: *//') MB, no crash"
    rm -f "$log"
}

case "$MODE" in
ci)
    build_harness
    for target in "${TARGETS[@]}"; do
        corpus="$(mktemp -d)"
        cp Fuzz/corpus/"$target"/* "$corpus/"
        run_target "$target" "$corpus" "-runs=${2:-${FUZZ_RUNS:-20000}}"
        rm -rf "$corpus"
    done
    ;;
libfuzzer)
    target="${2:?usage: $0 libfuzzer <target> [seconds]}"
    build_harness
    mkdir -p "$WORK/corpus-$target"
    cp -n Fuzz/corpus/"$target"/* "$WORK/corpus-$target/" 2>/dev/null || true
    run_target "$target" "$WORK/corpus-$target" "-max_total_time=${3:-${FUZZ_SECONDS:-600}}"
    ;;
seeds)
    target="${2:?usage: $0 seeds <target>}"
    build_harness
    rm -rf "Fuzz/corpus/$target"
    FUZZ_TARGET="$target" FUZZ_WRITE_SEEDS="Fuzz/corpus/$target" "$WORK/readers-fuzzer"
    ls -l "Fuzz/corpus/$target"
    ;;
*)
    echo "usage: $0 ci [runs] | libfuzzer <target> [seconds] | seeds <target>" >&2
    exit 64
    ;;
esac
