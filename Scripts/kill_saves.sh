#!/usr/bin/env bash
# The kill test of atomic saves: a loop of checkpoint saves is killed with SIGKILL at a random
# moment, again and again; after every kill the checkpoint must load and hold the old or the
# new checkpoint, whole, and no temporary file may outlive the next save.
#
#   Scripts/kill_saves.sh [kills] [megabytes]      (default 25 kills of a 40 MB checkpoint)
#
# .ci/run runs it with a small count. The saver (Scripts/KillTest/main.swift) is compiled
# against the debug build of the package (`swift build`, incremental); the checkpoint goes to
# a fresh temporary folder ($KILL_TEST_DIR to choose another file system). $KILL_SEED seeds
# the kill times (default 1). Exits non-zero on the first failure.
set -euo pipefail

KILLS="${1:-25}"
MEGABYTES="${2:-40}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${KILL_WORK_DIR:-$ROOT/.build-kill}"
cd "$ROOT"
mkdir -p "$WORK"

echo "== building the package (debug) and the saver"
swift build --target Recurrent >/dev/null
BIN="$(swift build --show-bin-path)"
MODULES="$BIN/Modules"
[ -d "$MODULES" ] || MODULES="$BIN"
OBJECTS=$(find "$BIN/Recurrent.build" "$BIN/LinearAlgebra.build" "$BIN/CKernels.build" -name '*.o')
CFLAGS=()
for flag in $(pkg-config --cflags openblas lapacke 2>/dev/null); do CFLAGS+=(-Xcc "$flag"); done
# shellcheck disable=SC2086
swiftc -parse-as-library -module-name CheckpointSaver -I "$MODULES" -I CInclude/CBLAS -I CInclude/CLAPACKE "${CFLAGS[@]}" \
    -Xcc -fmodule-map-file="$BIN/CKernels.build/module.modulemap" -I CInclude/CKernels/include \
    Scripts/KillTest/main.swift $OBJECTS $(pkg-config --libs openblas lapacke) -o "$WORK/checkpoint-saver"

DIR="$(mktemp -d "${KILL_TEST_DIR:-${TMPDIR:-/tmp}}/recurrent-kill.XXXXXX")"
SAVER_PID=""
cleanup() {
    if [ -n "$SAVER_PID" ]; then kill -9 "$SAVER_PID" 2>/dev/null || true; wait "$SAVER_PID" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT
FILE="$DIR/checkpoint.safetensors"
RANDOM="${KILL_SEED:-1}"

echo "== $KILLS kills of a loop of $MEGABYTES MB checkpoint saves in $DIR"
generation=0
on_disk=-1
left_behind=0
for ((i = 1; i <= KILLS; i++)); do
    "$WORK/checkpoint-saver" save "$FILE" "$MEGABYTES" "$generation" >"$DIR/saved.log" &
    SAVER_PID=$!
    # Let the first save of the round finish when there is no checkpoint yet.
    if [ "$i" -eq 1 ]; then
        while [ ! -s "$DIR/saved.log" ]; do sleep 0.05; done
    fi
    sleep "0.$(printf '%03d' $((RANDOM % 900 + 50)))"
    kill -9 "$SAVER_PID"
    wait "$SAVER_PID" 2>/dev/null || true
    SAVER_PID=""
    last="$(tail -n 1 "$DIR/saved.log" 2>/dev/null || true)"
    # No save reported: the file holds what was on disk before the round.
    last="${last:-$on_disk}"
    stale=$(find "$DIR" -maxdepth 1 -name '.checkpoint.safetensors.*.tmp' | wc -l)
    left_behind=$((left_behind + (stale > 0 ? 1 : 0)))
    echo "kill $i: last reported save $last, temporary files left by the kill: $stale"
    report="$("$WORK/checkpoint-saver" check "$FILE" "$last")"
    echo "$report" | sed '$d'
    # The check saved one more generation; the next round starts after it.
    on_disk="$(echo "$report" | tail -n 1)"
    generation=$((on_disk + 1))
done
echo "== $KILLS kills: every checkpoint whole (old or new); $left_behind kills left a temporary file, each removed by the next save"
