# ovn-vif-sidecar. `make test` is what CI runs (.ci/run); `make sandbox`
# starts a throwaway OVS/OVN stack to play with. Both need root on Debian 12.

GO        ?= go
# The go.mod's go line; README.md's "Go toolchain" says how to get it.
GO_MIN    := 1.26
# Checked when the makefile is read, so that a missing or old go is one
# line ("Makefile:N: *** ...  Stop.") rather than "go: No such file or
# directory" or a compile error deep in a newer standard library. Goals
# that run no Go skip it.
ifneq ($(filter-out clean version alerts,$(or $(MAKECMDGOALS),all)),)
GO_PROBLEM := $(shell v=$$($(GO) version 2>/dev/null | head -n1); \
	set -- $$(printf '%s\n' "$$v" | sed -n 's/^go version go\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p') $(subst ., ,$(GO_MIN)); \
	if [ -z "$$v" ]; then \
		echo "Go $(GO_MIN) or later is needed to build, but '$(GO)' was not found; see \"Go toolchain\" in README.md (Debian 12 ships Go 1.19)"; \
	elif ! printf '%s\n' "$$v" | grep -q '^go version devel ' && \
		{ [ -z "$$4" ] || [ $$1 -lt $$3 ] || { [ $$1 -eq $$3 ] && [ $$2 -lt $$4 ]; }; }; then \
		echo "Go $(GO_MIN) or later is needed to build, but '$(GO)' is \"$$v\"; see \"Go toolchain\" in README.md (Debian 12 ships Go 1.19)"; \
	fi)
ifneq ($(GO_PROBLEM),)
$(error $(GO_PROBLEM))
endif
endif
BIN       := bin/ovn-vif-sidecar
# The version is git's (a tag, or the abbreviated commit without one); a
# source tree without git history says so instead of pretending.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-nogit)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Stamped into package app, so a vendor's main package gets it the same way.
APP_PKG   := github.com/ovn-vif-sidecar/ovn-vif-sidecar/cmd/ovn-vif-sidecar/app
LDFLAGS   := -X $(APP_PKG).Version=$(VERSION) -X $(APP_PKG).Revision=$(REVISION)
E2E_TIMEOUT ?= 10m
# Daemons and tools the e2e tests and the sandbox run.
DEPS_CMDS := ip ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl \
             ovn-northd ovn-controller ovn-nbctl ovn-sbctl ping dpkg-deb promtool \
             lintian
# prometheus ships promtool (make test runs the alert rules' unit tests).
DEPS_PKGS := openvswitch-switch ovn-central ovn-host iproute2 iputils-ping dpkg \
             prometheus lintian

.PHONY: all deps build deb version generate test unit alerts e2e lint sandbox bench soak fleet clean

all: build

# Installs the Debian packages only if one of their commands is missing.
# policy-rc.d keeps apt from starting the system's own ovsdb-server,
# ovs-vswitchd, ovn-northd and ovn-controller; the stacks never use them
# either way (every daemon and tool is pointed at a temp dir).
deps:
	@missing=; for c in $(DEPS_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		echo "deps: missing$$missing; installing $(DEPS_PKGS)"; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: run as root to install packages" >&2; exit 1; fi; \
		own_policy=; \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1; \
		fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $(DEPS_PKGS); rc=$$?; \
		[ -z "$$own_policy" ] || rm -f /usr/sbin/policy-rc.d; \
		exit $$rc; \
	fi
	$(GO) mod download

# Static, as the package and the image ship it, so that the tests and
# the benchmarks run that binary (a cgo build also maps libc).
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ovn-vif-sidecar

version:
	@echo $(VERSION) $(REVISION)

# bin/ovn-vif-sidecar_<version>_<arch>.deb: a static, stripped binary, the
# systemd unit, /etc/default/ovn-vif-sidecar (a conffile) and a man page
# made from --help; Depends: ovn-host. GOARCH=arm64 make deb for a DPU.
DEB_OUT ?= bin
# The man page comes from a host build's --help, so cross builds work.
deb:
	@command -v dpkg-deb >/dev/null || { echo "deb: dpkg-deb missing; run make deps" >&2; exit 1; }
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/deb/ovn-vif-sidecar ./cmd/ovn-vif-sidecar
	env -u GOOS -u GOARCH $(GO) build -ldflags "$(LDFLAGS)" -o bin/deb/ovn-vif-sidecar.host ./cmd/ovn-vif-sidecar
	deploy/debian/mkdeb.sh bin/deb/ovn-vif-sidecar $(VERSION) $(REVISION) $(DEB_OUT) bin/deb/ovn-vif-sidecar.host

generate:
	$(GO) generate ./ovsdbmodel/...

# Unit tests, then the e2e tests against real OVS/OVN stacks. The e2e
# tests sit behind the e2e build tag (plain `go test ./...` leaves them
# out) and fail, never skip, without root or the packages.
test: deps build
	$(MAKE) -k unit e2e

# The out-of-tree provider example is a module of its own (./... skips
# it); its tests and build keep it in step with the provider API.
EXAMPLE := examples/vhostuser

# Tests that need root (network namespaces, veth pairs, a dpkg root) but no OVS/OVN
# daemons carry the root build tag; CI runs as root and includes them.
unit: alerts
	$(GO) test -race -tags root ./...
	cd $(EXAMPLE) && $(GO) test -race ./...

# The alert rules' unit tests, when promtool is installed (make deps
# installs it); deploy's Go tests check that they cover every rule.
alerts:
	@if command -v promtool >/dev/null; then \
		promtool check rules deploy/prometheus/alerts.yaml && \
		cd deploy/prometheus && promtool test rules alerts_test.yaml; \
	else echo "alerts: promtool not installed (make deps installs it); not running deploy/prometheus/alerts_test.yaml"; fi

# The unit tests cross-built for arm64, where DPUs run, under Debian's
# qemu-user-static (installed here if missing, as root). Without -race:
# the race detector needs cgo, which a cross build without an arm64 C
# toolchain lacks; the amd64 run has it. A test that runs its own binary
# again prefixes OVN_VIF_SIDECAR_TEST_EXEC (the emulator). deploy is left out: its tests
# drive host tools (make, dpkg-deb) and already check the arm64 package
# (deploy/deb_test.go) in the host run.
QEMU_ARM64    := qemu-aarch64-static
ARM64_EXCLUDE := /deploy$$
.PHONY: unit-arm64
unit-arm64:
	@command -v $(QEMU_ARM64) >/dev/null 2>&1 || { \
		echo "unit-arm64: $(QEMU_ARM64) missing; installing qemu-user-static"; \
		if [ "$$(id -u)" != 0 ]; then echo "unit-arm64: run as root to install qemu-user-static" >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-user-static; }; }
	CGO_ENABLED=0 GOARCH=arm64 OVN_VIF_SIDECAR_TEST_EXEC=$(QEMU_ARM64) $(GO) test -tags root -exec $(QEMU_ARM64) \
		$$(GOARCH=arm64 $(GO) list ./... | grep -v '$(ARM64_EXCLUDE)')
	cd $(EXAMPLE) && CGO_ENABLED=0 GOARCH=arm64 $(GO) test -exec $(QEMU_ARM64) ./...

# bin/ovn-vif-sidecar-vhostuser: the sidecar with the example provider.
.PHONY: example
example:
	cd $(EXAMPLE) && $(GO) build -ldflags "$(LDFLAGS)" -o $(CURDIR)/bin/ovn-vif-sidecar-vhostuser .

# The e2e tests build the sidecar from this tree themselves (see
# e2e/harness_test.go); OVN_VIF_SIDECAR_BIN=<binary> tests another one.
E2E_RUN ?= .
e2e:
	$(GO) test -tags e2e -count=1 -v -timeout=$(E2E_TIMEOUT) -run '$(E2E_RUN)' ./e2e/...

lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags e2e,root ./...
	$(GO) tool staticcheck -tags e2e,root ./...
	$(GO) mod tidy -diff
	cd $(EXAMPLE) && $(GO) vet ./... && $(GO) mod tidy -diff

sandbox: deps build
	OVN_VIF_SIDECAR_BIN=$(CURDIR)/$(BIN) $(GO) run ./cmd/sandbox $(SANDBOX_ARGS)

# Side-by-side benchmarks on two fresh stacks: (A) ovn-controller
# --enable-dummy-vif-plug, (B) ovn-controller plus the sidecar, and the
# engine's Go benchmarks. Prints the table and writes it as Markdown to
# BENCH_MD; takes about 12 minutes on 2 cores. BENCH_ARGS=-quick for a
# small run; `go run ./cmd/bench -help` lists the knobs.
# docs/performance.md explains the figures.
BENCH_MD   ?= bin/bench.md
BENCH_ARGS ?=
bench: deps build
	$(GO) run ./cmd/bench -sidecar=$(CURDIR)/$(BIN) -go=$(GO) -md=$(BENCH_MD) $(BENCH_ARGS)

# Fault soak, not in CI: 100 SB member restarts and 20 leader kills of a
# 3-member SB cluster while ports churn. Reports wrongful unplugs (must be
# 0; exits 1 otherwise) and transactions per port; takes about 20 minutes
# on 2 cores. docs/performance.md has the figures of a full run.
# `go run ./cmd/soak -help` lists the knobs.
SOAK_ARGS ?=
soak: deps build
	$(GO) run ./cmd/soak -sidecar=$(CURDIR)/$(BIN) $(SOAK_ARGS)

# Fleet simulation: a 3-member raft SB, ovsdb relays, NB + ovn-northd and
# N chassis, each with its own OVS database and sidecar (no
# ovn-controller; the SB Chassis rows are made directly). Measures the
# sidecars' cost to the SB servers, plug latency and convergence after
# SB leader and relay failures; exits non-zero on any wrongful unplug.
# FLEET_ARGS=-quick (20 chassis) takes under 5 minutes on 2 cores; the
# default is 200 chassis. docs/scale.md explains the figures.
FLEET_MD   ?= bin/fleet.md
FLEET_ARGS ?=
fleet: deps build
	$(GO) run ./cmd/fleet -sidecar=$(CURDIR)/$(BIN) -md=$(FLEET_MD) $(FLEET_ARGS)

clean:
	rm -rf bin
