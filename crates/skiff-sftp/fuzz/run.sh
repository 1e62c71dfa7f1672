#!/usr/bin/env bash
# Build the fuzz targets with libFuzzer on the stable toolchain and run each for a while.
#
#   run.sh SECONDS [TARGET...]      (targets default to: decode roundtrip route)
#
# No nightly and no cargo-fuzz: libfuzzer-sys compiles libFuzzer itself (needs a C++
# compiler) and the stable rustc flags below add SanitizerCoverage instrumentation
# (inline 8-bit counters, PC table, compare tracing), which is all libFuzzer needs to be
# coverage-guided. `--target` keeps the flags off build scripts and proc macros.
# Each target runs against its corpus (corpus/TARGET, kept between runs, not committed) and
# the committed regressions/TARGET inputs; a crash, a failed property or a leak stops the run
# with exit status 1 and leaves the input in artifacts/TARGET/. Prints the executions per
# target and the total.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:?usage: run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode roundtrip route)

command -v c++ >/dev/null || { echo "fuzz: no C++ compiler (libFuzzer is C++): apt-get install g++"; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/skiff/target}/fuzz"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --locked --release --target "$host" "${bins[@]}"

total=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" "regressions/$t"
  log=$(mktemp)
  echo "fuzz $t: ${seconds}s"
  status=0
  "$CARGO_TARGET_DIR/$host/release/$t" "corpus/$t" "regressions/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" -ne 0 ] || [ -z "$runs" ]; then
    tail -40 "$log"
    echo "fuzz $t: FAILED (exit $status); the input is in $(pwd)/artifacts/$t/"
    rm -f "$log"
    exit 1
  fi
  corpus=$(find "corpus/$t" -type f | wc -l)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  echo "fuzz $t: $runs executions in ${seconds}s, no crash ($cov, corpus $corpus inputs)"
  total=$((total + runs))
  rm -f "$log"
done
echo "fuzz: $total executions over ${#targets[@]} targets, no crash"
