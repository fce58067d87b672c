#!/usr/bin/env bash
# bench-ocr.sh — the OCR role's speed and accuracy figures (docs/BENCHMARKS.md
# "OCR", docs/OCR.md).
#
#   scripts/bench-ocr.sh bench      latency of POST /ocr/process next to
#                                   `tesseract IMG stdout`, pool throughput 2 vs 1
#   scripts/bench-ocr.sh ablation   `ocrpool eval` with each preprocessing step
#                                   switched off in turn (and binarize on), on
#                                   the SROIE dev set and on synthetic photos
#   scripts/bench-ocr.sh            both
#
# Environment: SROIE_DEV (default ../shared/datasets/sroie/dev),
# OCRPOOL_BENCH_RECEIPTS (receipts per benchmark round, default 20),
# COUNT (benchmark rounds, default 3). Output goes to the terminal and under
# bench-results/ (BENCH_OUT overrides the folder).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

dev=${SROIE_DEV:-../shared/datasets/sroie/dev}
out=${BENCH_OUT:-bench-results/ocr-$(date -u +%Y%m%dT%H%M%SZ)}
mode=${1:-all}
mkdir -p "$out"

if [ ! -d "$dev" ]; then
	echo "bench-ocr: no receipts at $dev (set SROIE_DEV)" >&2
	exit 1
fi

bench() {
	export OCRPOOL_BENCH_RECEIPTS=${OCRPOOL_BENCH_RECEIPTS:-20}
	echo "bench-ocr: $OCRPOOL_BENCH_RECEIPTS receipts, ${COUNT:-3} rounds > $out/bench.txt"
	go test -run '^$' -bench 'ProcessVsTesseractCLI|PoolThroughput' -benchtime 1x \
		-count "${COUNT:-3}" -timeout 60m ./modules/ocr/ 2>&1 | tee "$out/bench.txt"
}

# ablation DIR LABEL: eval over DIR with each step switched off in turn,
# the optional steps on, and a few Tesseract settings; JSON per run and a
# markdown table under $out/LABEL/.
ablation() {
	local dir=$1 res=$out/$2
	mkdir -p "$res"
	go build -o "$out/ocrpool" .
	run() { # name, then eval flags
		local name=$1
		shift
		echo "bench-ocr: $(basename "$res") $name" >&2
		"$out/ocrpool" eval --dir "$dir" --json "$@" > "$res/$name.json" 2>/dev/null
	}
	run default
	for step in orient grayscale denoise rescale contrast deskew border; do
		run "no-$step" --disable-step "$step"
	done
	run with-binarize --enable-step binarize
	OCRPOOL_OCR_PREPROCESS_BINARIZATION=otsu run with-binarize-otsu --enable-step binarize
	OCRPOOL_OCR_PREPROCESS_BINARIZATION=clean run with-binarize-clean --enable-step binarize
	OCRPOOL_OCR_SECOND_READ=false run no-second-read
	OCRPOOL_OCR_SECOND_READ=false run none --disable-step orient,grayscale,denoise,rescale,contrast,deskew,border
	# Tesseract settings, with the default preprocessing.
	OCRPOOL_OCR_PSM=3 run psm3
	OCRPOOL_OCR_PSM=4 run psm4
	OCRPOOL_OCR_DPI=0 run dpi-guess
	OCRPOOL_OCR_PREPROCESS_TEXT_HEIGHT=32 run text-height-32
	OCRPOOL_OCR_PREPROCESS_TEXT_HEIGHT=18 run text-height-18
	{
		echo "| run | merchant | date | amount | company in text | date in text | total in text | words in text | ms/receipt |"
		echo "|---|---|---|---|---|---|---|---|---|"
		for f in "$res"/*.json; do
			jq -r --arg n "$(basename "$f" .json)" '
				def p(s): if s.total == 0 then "-" else (s.rate * 1000 | round / 10 | tostring) + " %" end;
				"| \($n) | \(p(.merchant)) | \(p(.date)) | \(p(.amount)) | \(p(.company_in_text)) | \(p(.date_in_text)) | \(p(.total_in_text)) | \(p(.words_in_text)) | \(.mean_ms | round) |"' "$f"
		done
	} | tee "$res/ablation.md"
}

# The same ablation on synthetic phone-photo receipts (turned, shaded,
# faded, speckled, framed), which the scanned dev set lacks.
ablation_synth() {
	go run ./modules/ocr/synth/cmd/synthgen -n "${SYNTH_RECEIPTS:-60}" -out "$out/synth-receipts"
	ablation "$out/synth-receipts" synth
}

case $mode in
bench) bench ;;
ablation) ablation "$dev" sroie-dev && ablation_synth ;;
ablation-dev) ablation "$dev" sroie-dev ;;
ablation-synth) ablation_synth ;;
all) bench && ablation "$dev" sroie-dev && ablation_synth ;;
*)
	echo "usage: scripts/bench-ocr.sh [bench|ablation|ablation-dev|ablation-synth|all]" >&2
	exit 2
	;;
esac
echo "bench-ocr: saved $out"
