# raftvip — see README.md. All targets work from a fresh clone; targets that
# need the lab (demo, bench, integration tests) install Debian packages first.
GO      ?= go
SHELL   := /bin/bash
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test unit integration fuzz lint demo bench deps clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/raftvip ./cmd/raftvip
	$(GO) build -o $(BIN)/raftvip-lab ./cmd/raftvip-lab

deps:
	bash scripts/install-deps.sh

# The README's test command: lint, unit tests with the race detector, then the
# root-only integration tests (they skip with a message when not root).
test: lint build
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) --no-print-directory deps; fi
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz
	RAFTVIP_BIN=$(CURDIR)/$(BIN)/raftvip $(GO) test -count=1 -timeout 15m -v ./internal/lab/...

# Short fuzz runs of what comes from the network: the VRRP decoder, the
# cluster port's first bytes (TLS or not) and its RPC request decoder. The
# seed corpora run in every plain `go test` too.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=10s -parallel=2 ./vrrpcompat/
	$(GO) test -run='^$$' -fuzz='^FuzzMuxFirstBytes$$' -fuzztime=5s -parallel=2 ./cluster/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeRequest$$' -fuzztime=5s -parallel=2 ./cluster/

lint:
	@fmt=$$(gofmt -l .); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...

demo: build
	@if [ "$$(id -u)" -ne 0 ]; then echo "make demo builds network namespaces and needs root (try: sudo make demo)"; exit 2; fi
	$(MAKE) --no-print-directory deps
	$(BIN)/raftvip-lab demo -raftvip $(BIN)/raftvip

bench: build
	@if [ "$$(id -u)" -ne 0 ]; then echo "make bench builds network namespaces and needs root (try: sudo make bench)"; exit 2; fi
	$(MAKE) --no-print-directory deps
	$(BIN)/raftvip-lab bench -raftvip $(BIN)/raftvip -out docs/bench
	$(BIN)/raftvip-lab data-bench -raftvip $(BIN)/raftvip -out docs/bench
	@mkdir -p docs/bench
	@set -o pipefail; { echo "# make bench: $$(date -u +%FT%TZ), $$(go version)"; \
	   echo "# go test -run '^$$' -bench . -benchmem ./fsm/ ./owner/ ./vrrpcompat/"; \
	   $(GO) test -run '^$$' -bench . -benchmem ./fsm/ ./owner/ ./vrrpcompat/; } | tee docs/bench/micro.txt

clean:
	rm -rf $(BIN)
