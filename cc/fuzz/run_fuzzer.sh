#!/usr/bin/env bash
# Runs the ops fuzzer built in BUILD_DIR for SECONDS, starting from the committed seeds and
# whatever earlier runs found. Exits non-zero on a crash, a sanitizer report, a leak, a
# timeout (10 s per input) or an out-of-memory (2 GiB), leaving the input under
# BUILD_DIR/artifacts; rerun one with: BUILD_DIR/fuzz/bitlite_ops_fuzzer FILE
# Usage: run_fuzzer.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
seconds=$2
seeds=$(dirname "$0")/corpus
mkdir -p "$build/corpus" "$build/artifacts"
# New inputs go to the first corpus directory, so the committed seeds stay as they are.
ASAN_OPTIONS=detect_leaks=1 "$build/fuzz/bitlite_ops_fuzzer" -max_total_time="$seconds" \
  -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/" "$build/corpus" "$seeds"
