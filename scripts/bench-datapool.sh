#!/usr/bin/env bash
# bench-datapool.sh — the data pool's benchmarks of issue 4, each with its
# baseline in the same run, and a summary of the ratios.
#
#   scripts/bench-datapool.sh
#   N=4000 BATCHES=20 EXPORT_ROWS=1000000 scripts/bench-datapool.sh
#
# Uses PostgreSQL and Redis when OCRPOOL_TEST_DATABASE_URL and
# OCRPOOL_TEST_REDIS_URL are set (default here: the local servers), each run
# in a schema / key prefix of its own that is dropped afterwards.
#   - BenchmarkIngestSingle: N single-correction HTTP requests, 16 clients,
#     vs N bare INSERTs of the same rows (16 goroutines).      goal >= 60 %
#   - BenchmarkIngestBatch: BATCHES requests of 1,000 corrections vs COPY of
#     the same rows (PostgreSQL only).                          goal >= 35 %
#   - BenchmarkExport: EXPORT_ROWS rows exported as jsonl and parquet over
#     HTTP: rows/s and peak RSS during each export.             goal < 150 MiB
# Output goes to the terminal and to bench-results/datapool-<UTC time>.txt.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export OCRPOOL_TEST_DATABASE_URL=${OCRPOOL_TEST_DATABASE_URL-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export OCRPOOL_TEST_REDIS_URL=${OCRPOOL_TEST_REDIS_URL-redis://127.0.0.1:6379/0}
export OCRPOOL_BENCH_EXPORT_ROWS=${EXPORT_ROWS:-1000000}
N=${N:-4000}
BATCHES=${BATCHES:-20}

out=${BENCH_OUT:-bench-results/datapool-$(date -u +%Y%m%dT%H%M%SZ).txt}
mkdir -p "$(dirname "$out")"
pkg=./modules/datapool/

{
	echo "# $(date -u +%FT%TZ) $(go version) GOMAXPROCS=$(nproc)"
	echo "# database: ${OCRPOOL_TEST_DATABASE_URL:-sqlite}  redis: ${OCRPOOL_TEST_REDIS_URL:-miniredis}"
	go test -run '^$' -bench '^BenchmarkIngestSingle$' -benchtime "${N}x" -timeout 30m "$pkg"
	go test -run '^$' -bench '^BenchmarkIngestBatch$' -benchtime "${BATCHES}x" -timeout 30m "$pkg"
	go test -run '^$' -bench '^BenchmarkExport$' -benchtime 1x -timeout 60m "$pkg"
} 2>&1 | tee "$out"

# Summary: the custom metrics of each benchmark line, one per line.
echo
echo "== summary ($out)"
awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) if ($(i+1) !~ /^(ns\/op|B\/op|allocs\/op)$/) printf "%-24s %-24s %s\n", name, $(i+1), $i
}' "$out"
