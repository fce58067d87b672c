# ocrpool — an index of the commands a developer and CI run.
# `make` (or `make help`) lists them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Targets run one after another even under -j: `run` and `test` must not
# start before `bootstrap` has installed what they need.
.NOTPARALLEL:

GO ?= go
PKG := github.com/ocrpool/ocrpool
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS = -X $(PKG)/modules/platform/version.Version=$(VERSION) -X $(PKG)/modules/platform/version.Commit=$(COMMIT)
FUZZTIME ?= 30s

.PHONY: help bootstrap build run test bench fuzz lint clean docker split

help: ## list the targets
	@echo "usage: make <target>"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z_-]*:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

bootstrap: ## install missing system packages (Tesseract, Leptonica, gcc, ...) and check Go
	@bash scripts/bootstrap.sh

build: ## build bin/ocrpool with version and commit stamped in
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ocrpool .

run: bootstrap build ## run every role in one process on :8080 (embedded SQLite + miniredis)
	./bin/ocrpool serve --roles=all --migrate

test: bootstrap ## run all tests with the race detector (PostgreSQL/Redis too when OCRPOOL_TEST_*_URL are set)
	$(GO) test -race -count=1 -timeout 25m ./...

bench: ## run the benchmarks (scripts/bench.sh; output saved under bench-results/)
	@bash scripts/bench.sh

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { n[++c] = $$1; next } /^ok/ { for (i = 1; i <= c; i++) print $$2 " " n[i]; c = 0 }'); \
	if [ -z "$$targets" ]; then echo "fuzz: no fuzz targets"; exit 0; fi; \
	while read -r pkg name; do \
		echo "==> fuzzing $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done <<< "$$targets"

lint: ## gofmt (must list nothing) and go vet
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting (gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean: ## remove build, test and bench outputs (keeps ./data)
	rm -rf bin/ bench-results/ coverage.out coverage.html *.test *.prof

docker: ## build the container image ocrpool:dev
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t ocrpool:dev .

split: build ## run the three roles as three processes (needs OCRPOOL_DATABASE_URL, OCRPOOL_REDIS_URL)
	@bash scripts/split.sh
