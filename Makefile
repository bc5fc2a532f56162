# raftvip — see README.md. All targets work from a fresh clone; targets that
# need the lab (demo, bench, integration tests) install Debian packages first.
GO      ?= go
SHELL   := /bin/bash
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test unit integration fuzz lint demo bench deps clean install install-files deb

# make install: PREFIX and DESTDIR as usual. The unit goes where systemd
# looks for it: /lib/systemd/system for a distribution's /usr, else
# /etc/systemd/system (the admin's place; /usr/local has no unit dir on
# every distribution).
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(if $(filter /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc))
DOCDIR     ?= $(PREFIX)/share/doc/raftvip
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,/etc/systemd/system)
# make deb writes bin/raftvip_VERSION_ARCH.deb (DEBOUT to put it elsewhere);
# DEB_COMPRESS=gzip packs in a quarter of xz's time (the lab test uses it).
DEBOUT       ?= $(BIN)
DEB_COMPRESS ?= xz

all: build

# The agent is static (CGO_ENABLED=0): libc's pages no longer count in its
# resident memory (docs/bench/idle-cost.md); group names come from
# /etc/group (internal/osgroup).
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/raftvip ./cmd/raftvip
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
	$(GO) test -run='^$$' -fuzz='^FuzzAddrMessage$$' -fuzztime=5s -parallel=2 ./internal/rtnl/
	$(GO) test -run='^$$' -fuzz='^FuzzLinkMessage$$' -fuzztime=5s -parallel=2 ./internal/rtnl/
	$(GO) test -run='^$$' -fuzz='^FuzzMessages$$' -fuzztime=5s -parallel=2 ./internal/rtnl/

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
	$(BIN)/raftvip-lab scaling -raftvip $(BIN)/raftvip -out docs/bench

# The binary, the systemd unit (ExecStart pointed at BINDIR), the docs and
# example configs, and /etc/raftvip/raftvip.hcl from the db example only
# when there is no config yet: an existing one is never overwritten.
# Installed on this machine (no DESTDIR) as root, it also creates the
# system user raftvip the unit runs as and gives it the config.
install: build install-files

install-files:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/raftvip
	install -m 0755 $(BIN)/raftvip $(DESTDIR)$(BINDIR)/raftvip
	sed -e 's|/usr/bin/raftvip|$(BINDIR)/raftvip|g' -e 's|/etc/raftvip/|$(SYSCONFDIR)/raftvip/|g' \
	    -e 's|/usr/share/doc/raftvip/|$(DOCDIR)/|g' dist/raftvip.service >$(DESTDIR)$(UNITDIR)/raftvip.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/raftvip.service
	install -m 0644 README.md docs/*.md docs/grafana-dashboard.json $(DESTDIR)$(DOCDIR)/
	install -m 0644 config/testdata/example-db.hcl config/testdata/example-witness.hcl $(DESTDIR)$(DOCDIR)/examples/
	@conf=$(DESTDIR)$(SYSCONFDIR)/raftvip/raftvip.hcl; \
	if [ -e "$$conf" ]; then echo "install: kept the existing $$conf"; \
	else install -m 0600 config/testdata/example-db.hcl "$$conf" && echo "install: $$conf from the db example: edit it (witness: $(DOCDIR)/examples/example-witness.hcl)"; fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
	  id raftvip >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/raftvip --no-create-home --shell /usr/sbin/nologin raftvip; \
	  chown root:raftvip $(SYSCONFDIR)/raftvip && chown raftvip:raftvip $(SYSCONFDIR)/raftvip/raftvip.hcl; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	  echo "install: then: systemctl enable --now raftvip"; \
	elif [ -z "$(DESTDIR)" ]; then echo "install: as root it would also create the user raftvip (the unit's User=) and chown the config to it"; fi

# A Debian package from the same install (PREFIX=/usr): dpkg-deb only, no
# network, no root needed.
deb: build
	@stage=$$(mktemp -d) && trap 'rm -rf "$$stage"' EXIT && \
	$(MAKE) --no-print-directory install-files DESTDIR=$$stage/root PREFIX=/usr >/dev/null && \
	DEB_COMPRESS=$(DEB_COMPRESS) bash dist/mkdeb.sh $$stage/root $(DEBOUT) $(BIN)/raftvip

clean:
	rm -rf $(BIN)
