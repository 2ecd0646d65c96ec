#!/usr/bin/env bash
# Fuzzes the parsers that read what clients and the broker send (fuzz/fuzz_targets: the
# recurrence rules, the list query and its search, CloudEvents, the chat assistant's
# sentences, the task's text fields) with cargo fuzz (libFuzzer). cargo-fuzz is installed
# once under ~/.cache/todo; nightly features come from RUSTC_BOOTSTRAP=1 on stable.
#
#   scripts/fuzz.sh                          # every target, FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh recurrence list_query    # some targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh assistant
#   FUZZ_RUNS=10000000 scripts/fuzz.sh       # until each has run that many inputs
#
# Each target starts from its seeds (fuzz/seeds/<target>, in git) and the corpus it has
# grown on this machine (~/.cache/todo/fuzz-corpus/<target>). A crash stops the run with
# the input saved under the target dir's fuzz-artifacts/<target>/ and the command that
# replays it; a crash becomes a regression test in the crate whose code it is.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.13.2
root=$HOME/.cache/todo/cargo-fuzz-$version
if [[ ! -x $root/bin/cargo-fuzz ]]; then
    echo "fuzz: installing cargo-fuzz $version into $root" >&2
    cargo install cargo-fuzz --version "$version" --locked --root "$root" >&2
fi
export PATH=$root/bin:$PATH
export RUSTC_BOOTSTRAP=1
# Next to the workspace's build output (CI keeps it in ~/.cache/todo), apart from it: the
# targets are built with libFuzzer's instrumentation.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}/fuzz
artifacts=$CARGO_TARGET_DIR/fuzz-artifacts

targets=("$@")
if [[ ${#targets[@]} == 0 ]]; then
    mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi
# Release code with debug assertions (overflow checks); no sanitizer: the code under test
# is safe Rust.
build=(-O --debug-assertions --sanitizer none)
(cd fuzz && cargo fuzz build "${build[@]}" >&2)

limit=(-max_total_time="${FUZZ_SECONDS:-20}")
[[ -n ${FUZZ_RUNS:-} ]] && limit=(-runs="$FUZZ_RUNS")
for t in "${targets[@]}"; do
    corpus=$HOME/.cache/todo/fuzz-corpus/$t
    mkdir -p "$corpus" "$artifacts/$t"
    log=$CARGO_TARGET_DIR/fuzz-$t.log
    start=$SECONDS
    if ! (cd fuzz && cargo fuzz run "${build[@]}" "$t" "$corpus" "seeds/$t" -- \
        "${limit[@]}" -max_len=4096 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t/") >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $t FAILED; the input is in $artifacts/$t/; replay it with:" >&2
        echo "  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${build[*]} $t <input>)" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    echo "fuzz: $t: $runs inputs in $((SECONDS - start)) s, no crash" >&2
done
