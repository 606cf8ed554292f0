#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer (with LeakSanitizer) and then ThreadSanitizer.
#
# Each sanitizer is a full debug build in its own scratch directory (.build-asan,
# .build-tsan), so the two never share objects with a normal build; they run one after the
# other because each build alone keeps two cores busy. Logs go to output/sanitizers/.
#
#   Scripts/sanitizers.sh                      # both suites
#   Scripts/sanitizers.sh address              # one of them
#   Scripts/sanitizers.sh thread --filter ConcurrencyTests   # extra arguments go to swift test
#
# Verdict, per suite: the tests pass, AddressSanitizer reports no memory error, no leak is
# allocated by this package's code (see below), ThreadSanitizer reports no race.
#
# Leaks: XCTest keeps every test-case object (and what its stored properties hold) alive
# until exit, so LeakSanitizer always lists a few hundred harness allocations. Those are
# counted and shown, not failed on; a leak fails the run when its allocation stack passes
# through Recurrent, LinearAlgebra or ExampleSupport outside test-case construction.
# Scripts/lsan-suppressions.txt lists the known leaks of other libraries, and
# Scripts/tsan-suppressions.txt has none: the package's shared state uses pthread mutexes
# (LinearAlgebra.PThreadMutex), which TSan sees; each file says why.
#
# Exit status: 0 when every suite passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

sanitizers=(address thread)
if [[ $# -gt 0 && ( $1 == address || $1 == thread ) ]]; then
    sanitizers=("$1")
    shift
fi

logs=output/sanitizers
mkdir -p "$logs"
# Report everything a run finds rather than stopping at the first report; the verdict is
# read from the log. Leak checking is on by default with ASan on Linux; say so explicitly.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=0:abort_on_error=0}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/Scripts/lsan-suppressions.txt:print_suppressions=0}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/Scripts/tsan-suppressions.txt}"

failed=0
summary=()
for sanitizer in "${sanitizers[@]}"; do
    # ReadmeCommandsTests runs each example program once at small settings: its threads are
    # the library's, which the rest of the suite runs under ThreadSanitizer, and it took
    # 135 s there (of 11 min). AddressSanitizer still runs it.
    skip=()
    case $sanitizer in
        address) scratch=.build-asan ;;
        thread) scratch=.build-tsan; skip=(--skip ReadmeCommandsTests) ;;
    esac
    log="$logs/$sanitizer.log"
    echo "== swift test --sanitize=$sanitizer (log: $log)"
    start=$(date +%s)
    swift test --sanitize="$sanitizer" --scratch-path "$scratch" --disable-swift-testing "${skip[@]}" "$@" >"$log" 2>&1
    status=$?
    seconds=$(( $(date +%s) - start ))
    executed=$(grep -E "Executed [0-9]+ tests" "$log" | tail -1 | sed 's/^[[:space:]]*//')
    failures=$(grep -E "Executed [0-9]+ tests, with [0-9]+ failures" "$log" | tail -1 | sed -E 's/.*with ([0-9]+) failures.*/\1/')
    memoryErrors=$(grep -cE "ERROR: AddressSanitizer" "$log")
    races=$(grep -cE "WARNING: ThreadSanitizer" "$log")
    leakBlocks=$(grep -cE "^(Direct|Indirect) leak" "$log")
    # Leak reports are blank-line separated blocks; ours are those whose stack has a frame
    # of our modules (Swift mangling $s9Recurrent, $s13LinearAlgebra, $s14ExampleSupport, $s14AirlineExample, …)
    # and no frame of test-case construction.
    ownLeaks=$(awk 'BEGIN { RS = "" }
        /^(Direct|Indirect) leak/ {
            ours = ($0 ~ /\$s9Recurrent|\$s13LinearAlgebra|\$s14ExampleSupport|\$s[0-9]+[A-Za-z]+Example[0-9A-Z_]/)
            harness = ($0 ~ /testClosure|setUpWithError|CaseC4name/)
            if (ours && !harness) { n++; print > "/dev/stderr" }
        }
        END { print n + 0 }' "$log" 2>"$logs/$sanitizer-own-leaks.txt")
    details="${memoryErrors} memory errors, ${races} races, ${ownLeaks} leaks from this package, $((leakBlocks - ownLeaks)) XCTest-harness leak reports"
    if [[ $status -ne 0 || -z $failures || $failures -ne 0 || $memoryErrors -ne 0 || $races -ne 0 || $ownLeaks -ne 0 ]]; then
        failed=1
        verdict="FAILED (exit $status; $details)"
    else
        verdict="passed ($details)"
    fi
    summary+=("$sanitizer: $verdict in ${seconds}s (build and tests); ${executed:-no test summary}")
    echo "   ${summary[-1]}"
done

echo "== summary"
printf '   %s\n' "${summary[@]}"
exit $failed
