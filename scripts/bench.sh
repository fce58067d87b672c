#!/usr/bin/env bash
# bench.sh — runs the Go benchmarks and keeps their output for benchstat.
#
#   scripts/bench.sh [packages...]        (default ./...)
#   BENCH=regexp BENCHTIME=2s COUNT=6 scripts/bench.sh ./modules/ocr/...
#
# Output goes to the terminal and to bench-results/bench-<UTC time>.txt
# (BENCH_OUT overrides the file). Compare two runs with
# `benchstat old.txt new.txt`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${BENCH_OUT:-bench-results/bench-$(date -u +%Y%m%dT%H%M%SZ).txt}
mkdir -p "$(dirname "$out")"

args=(-run '^$' -bench "${BENCH:-.}" -benchmem -count "${COUNT:-1}")
if [ -n "${BENCHTIME:-}" ]; then
	args+=(-benchtime "$BENCHTIME")
fi
if [ "$#" -eq 0 ]; then
	set -- ./...
fi

echo "bench: go test ${args[*]} $* > $out"
go test "${args[@]}" "$@" 2>&1 | tee "$out"
echo "bench: saved $out"
