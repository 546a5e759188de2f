# Meridian - GSLB authoritative DNS server.
# `make` alone lists the targets (every line starting with "#?" below).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

GO ?= go
BIN := bin/meridian
# Recursive (=) so that git runs only for the targets that use them.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS = -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# make run
DEMO_CONFIG ?= testdata/demo/meridian.yaml
DNS_LISTEN ?= 127.0.0.1:5353
HTTP_LISTEN ?= 127.0.0.1:8053
# the demo's backends, probed by its health checks (testdata/demo/meridian.yaml)
DEMO_BACKENDS ?= 127.10.1.1:8080=us-east 127.10.2.1:8080=eu-west 127.10.3.1:8080=ap-south

# make test
TEST_TIMEOUT ?= 15m
TEST_FLAGS ?=

# make bench / bench-go / fuzz
BENCH ?= .
BENCH_COUNT ?= 6
BENCH_TIME ?= 1s
# bench-go skips by default the benchmarks that bench-health, bench-kube and
# bench-scale run once each (minutes at -count 6)
BENCH_SKIP ?= $(if $(filter .,$(BENCH)),Failover|Monitor|IngressToAnswer|Controller10k|$(SCALE_NAMES))
# bench-health: seconds of steady-state probing measured per target count
HEALTH_BENCH_SECONDS ?= 10
BENCH_DIR := bench-results
ANCHORS_DIR ?= ../shared/bench
# passed to anchors.sh only when set (its own defaults otherwise)
SERVERS ?=
WORKLOADS ?=
DUR ?=
REPS ?=
FUZZTIME ?= 30s
# make bench-scale: the stage benchmarks (each with 10k/40k/100k sub-benchmarks) and the process run
SCALE_NAMES := ^Benchmark(Load|ReloadOneEdit|Reload|ServeMemory|Validate|Compile|HealthPlan|Publish|StateTransfer|StateDelta|API)$$
SCALE_BENCH ?= $(SCALE_NAMES)
SCALE_PKGS ?= ./config ./gslb ./health ./control ./sites ./httpapi
SCALE_SERVICES ?= 100000
SCALE_STEPS ?= check,serve,dns,api,gossip

# make lint: tools are installed once per version into .cache/ (git-ignored)
GOLANGCI_LINT_VERSION := v2.15.0
TOOLS_DIR := $(CURDIR)/.cache/tools
GOLANGCI_LINT := $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint

# Go files we own: everything but caches, build output and VCS data.
FIND_GO = find . \( -path ./.git -o -path ./.cache -o -path ./bin -o -path ./$(BENCH_DIR) \) -prune -o -name '*.go' -print

.PHONY: help build run test conformance test-deps k8s-tools fmt-check vet nested bench bench-go bench-health bench-kube bench-side bench-anchors bench-scale fuzz lint tidy tidy-check clean deps

#? help: list the targets (the default goal)
help:
	@echo "Usage: make TARGET [VAR=value ...]"
	echo
	awk '/^#\? / { sub(/^#\? /, ""); i = index($$0, ": "); printf "  %-14s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }' $(firstword $(MAKEFILE_LIST))
	echo
	echo "Variables: FUZZTIME=$(FUZZTIME) BENCH=$(BENCH) BENCH_COUNT=$(BENCH_COUNT) SERVERS WORKLOADS DUR REPS (anchors.sh), TEST_FLAGS, DNS_LISTEN=$(DNS_LISTEN) HTTP_LISTEN=$(HTTP_LISTEN) DEMO_BACKENDS"

#? build: build bin/meridian (version and commit from git)
build:
	mkdir -p $(dir $(BIN))
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meridian

#? run: build, print the commands to try, start the demo backends (127.10.{1,2,3}.1:8080), serve the demo (DNS 127.0.0.1:5353, HTTP 127.0.0.1:8053)
run: build
	@scripts/ensure-deps.sh --optional run
	scripts/demo-commands.sh '$(DNS_LISTEN)' '$(HTTP_LISTEN)' '$(BIN)'
	# the backends run in the background and go when serve ends (Ctrl-C)
	$(BIN) demo-backends $(DEMO_BACKENDS) &
	backends=$$!
	trap 'kill $$backends 2>/dev/null || true; wait $$backends 2>/dev/null || true' EXIT
	$(BIN) serve --config '$(DEMO_CONFIG)' --dns-listen '$(DNS_LISTEN)' --http-listen '$(HTTP_LISTEN)'

#? test: install the test tools, then gofmt check, go vet, go test -race (unit, e2e, fuzz seed corpora), and the tool modules' vet and tests
test: test-deps k8s-tools fmt-check vet nested
	@echo "+ $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./..."
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

# the modules of their own (benchmark harness, fixture generator, the
# Grafana dashboard's schema check), which ./... does not reach; -race, as
# in vet, so they share the race build of the standard library and common
# dependencies rather than need a plain one of their own
NESTED_MODULES := test/bench testdata/geo/mkmmdb test/grafana
nested:
	@for m in $(NESTED_MODULES); do
		echo "+ (cd $$m && $(GO) vet -race ./... && $(GO) test -race -count=1 ./...)"
		(cd $$m && GOWORK=off $(GO) vet -race ./... && GOWORK=off $(GO) test -race -count=1 ./...) || exit 1
	done

# quiet when everything is installed; a tool still missing makes its tests
# skip locally and fail under CI=true
test-deps:
	@scripts/ensure-deps.sh --optional test

#? k8s-tools: build kube-apiserver, kubectl, etcd and helm for the Kubernetes tests (once per pinned version, cached outside the repo)
k8s-tools:
	@scripts/k8s-tools.sh >/dev/null

fmt-check:
	@files=$$($(FIND_GO))
	[[ -z $$files ]] && exit 0
	bad=$$(gofmt -l $$files)
	if [[ -n $$bad ]]; then echo "gofmt needs to run on:"; echo "$$bad"; exit 1; fi

# -race: vet then type-checks against the race-instrumented build of the
# dependencies that go test -race compiles next, instead of a second,
# plain build of them (cold: 226 s + 86 s against 233 s + 253 s)
vet:
	@echo "+ $(GO) vet -race ./..."
	$(GO) vet -race ./...

#? conformance: run ISC's genreport (GENREPORT=path to a build of DNS-Compliance-Testing; GENREPORT_FLAGS, e.g. -a for every test) against the demo on 127.0.0.1:53 (root: genreport asks port 53). make test runs the same tests re-expressed with dig (test/e2e/conformance_test.go)
conformance: build
	@if [[ -z "$(GENREPORT)" ]]; then
		echo "conformance: set GENREPORT=/path/to/genreport (built from https://gitlab.isc.org/isc-projects/DNS-Compliance-Testing)"
		exit 2
	fi
	dir=$$(mktemp -d)
	$(BIN) serve --config '$(DEMO_CONFIG)' --dns-listen 127.0.0.1:53 --http-listen 127.0.0.1:0 --ready-file "$$dir/ready" --log-level warn &
	server=$$!
	trap 'kill $$server 2>/dev/null || true; wait $$server 2>/dev/null || true; rm -rf "$$dir"' EXIT
	for _ in $$(seq 100); do [[ -s "$$dir/ready" ]] && break; sleep 0.1; done
	[[ -s "$$dir/ready" ]] || { echo "conformance: the demo server did not start"; exit 1; }
	echo "gslb.example. ns1.gslb.example. 127.0.0.1" | '$(GENREPORT)' $(GENREPORT_FLAGS)

#? bench: Go benchmarks (bench-go, bench-health, bench-kube, bench-scale), then the side-by-side run against gdnsd, knot, nsd, PowerDNS, CoreDNS (bench-side, as root)
bench: bench-go bench-health bench-kube bench-scale bench-side

#? bench-go: Go benchmarks with -benchmem into bench-results/ (benchstat format; BENCH, BENCH_COUNT; the health ones are in bench-health)
bench-go:
	@mkdir -p $(BENCH_DIR)
	out=$(BENCH_DIR)/go-$$(date -u +%Y%m%dT%H%M%SZ).txt
	# test/ holds no benchmarks; skipping it saves the e2e binary build
	pkgs=$$($(GO) list ./... | grep -v '/test/')
	echo "+ $(GO) test -run '^$$' -bench '$(BENCH)' $(if $(BENCH_SKIP),-skip '$(BENCH_SKIP)' )-benchmem -count $(BENCH_COUNT) -benchtime $(BENCH_TIME) <packages> > $$out"
	$(GO) test -run '^$$' -bench '$(BENCH)' $(if $(BENCH_SKIP),-skip '$(BENCH_SKIP)') -benchmem -count $(BENCH_COUNT) -benchtime $(BENCH_TIME) $$pkgs | tee "$$out"
	cp "$$out" $(BENCH_DIR)/go-latest.txt
	echo "saved $$out; compare two runs with: benchstat OLD.txt $$out"

#? bench-health: health benchmarks, run once (minutes): failover time over 20 trials, probing CPU at 1k and 10k targets
bench-health:
	@mkdir -p $(BENCH_DIR)
	out=$(BENCH_DIR)/health-$$(date -u +%Y%m%dT%H%M%SZ).txt
	# one op of BenchmarkFailover is a whole series of trials (about 3 minutes
	# for both deaths); one op of BenchmarkMonitor is one second of probing
	echo "+ $(GO) test -run '^$$' -bench Failover -benchtime 1x -count 1 ./control > $$out"
	$(GO) test -run '^$$' -bench Failover -benchtime 1x -count 1 ./control | tee "$$out"
	echo "+ $(GO) test -run '^$$' -bench Monitor -benchmem -benchtime $(HEALTH_BENCH_SECONDS)x -count 1 ./health >> $$out"
	$(GO) test -run '^$$' -bench Monitor -benchmem -benchtime $(HEALTH_BENCH_SECONDS)x -count 1 ./health | tee -a "$$out"
	cp "$$out" $(BENCH_DIR)/health-latest.txt
	echo "saved $$out"

#? bench-kube: Kubernetes leader benchmarks on real apiservers: Ingress status patch to DNS answer; 10,000 Ingresses (rebuild time, heap)
bench-kube: k8s-tools
	@mkdir -p $(BENCH_DIR)
	out=$(BENCH_DIR)/kube-$$(date -u +%Y%m%dT%H%M%SZ).txt
	echo "+ $(GO) test -run '^$$' -bench IngressToAnswer -benchtime 50x -count 1 ./control > $$out"
	$(GO) test -run '^$$' -bench IngressToAnswer -benchtime 50x -count 1 ./control | tee "$$out"
	echo "+ $(GO) test -run '^$$' -bench Plan -benchmem -count 3 ./sites/kube >> $$out"
	$(GO) test -run '^$$' -bench Plan -benchmem -count 3 ./sites/kube | tee -a "$$out"
	echo "+ $(GO) test -run '^$$' -bench Controller10k -benchtime 5x -count 1 ./sites/kube >> $$out"
	$(GO) test -run '^$$' -bench Controller10k -benchtime 5x -count 1 ./sites/kube | tee -a "$$out"
	cp "$$out" $(BENCH_DIR)/kube-latest.txt
	echo "saved $$out"

#? bench-side: the project's own side-by-side run (test/bench, as root): Meridian against gdnsd, knot, nsd, PowerDNS, CoreDNS on w1 and w2, ECS scopes, latency at half load (SERVERS WORKLOADS DUR REPS GEODB)
bench-side: build
	@if [[ $$(id -u) != 0 ]]; then echo "bench-side needs root (apt installs, nice -20): sudo make bench-side" >&2; exit 1; fi
	mkdir -p $(BENCH_DIR)
	out=$(CURDIR)/$(BENCH_DIR)/side-$$(date -u +%Y%m%dT%H%M%SZ).txt
	echo "+ (cd test/bench && $(GO) run ./cmd/sidebyside) (log: $$out)"
	(cd test/bench && env $(if $(SERVERS),SERVERS='$(SERVERS)') $(if $(WORKLOADS),WORKLOADS='$(WORKLOADS)') \
		$(if $(DUR),DUR='$(DUR)') $(if $(REPS),REPS='$(REPS)') $(if $(GEODB),GEODB='$(abspath $(GEODB))') \
		$(GO) run ./cmd/sidebyside) 2>&1 | tee "$$out"
	cp "$$out" $(BENCH_DIR)/side-latest.txt

#? bench-anchors: the cross-check: ../shared/bench/anchors.sh with test/bench/anchors-project (SERVERS WORKLOADS DUR REPS; GEODB RUN pass through)
bench-anchors: build
	@if [[ ! -x $(ANCHORS_DIR)/anchors.sh ]]; then
		echo "bench: skipping the anchors comparison: $(ANCHORS_DIR)/anchors.sh not found"
		echo "       (it lives in the project's shared/bench beside this checkout; set ANCHORS_DIR=...)"
		exit 0
	fi
	if [[ $$(id -u) != 0 ]]; then echo "bench: anchors.sh needs root (apt installs, nice -20): sudo make bench-anchors" >&2; exit 1; fi
	scripts/ensure-deps.sh bench
	mkdir -p $(BENCH_DIR)
	out=$(BENCH_DIR)/anchors-$$(date -u +%Y%m%dT%H%M%SZ).txt
	echo "+ anchors.sh (log: $$out)"
	env $(if $(SERVERS),SERVERS='$(SERVERS)') $(if $(WORKLOADS),WORKLOADS='$(WORKLOADS)') \
		$(if $(DUR),DUR='$(DUR)') $(if $(REPS),REPS='$(REPS)') $(if $(GEODB),GEODB='$(abspath $(GEODB))') $(if $(RUN),RUN='$(RUN)') \
		PROJECT_CMD='$(CURDIR)/test/bench/anchors-project {{PORT}} {{GEODB}} {{ZONE}} {{WL}}' \
		$(ANCHORS_DIR)/anchors.sh 2>&1 | tee "$$out"
	cp "$$out" $(BENCH_DIR)/anchors-latest.txt

#? bench-scale: the scale table (docs/performance.md, "Scale"): Go stage benchmarks at 10k/40k/100k services, then bin/meridian as processes at SCALE_SERVICES (SCALE_STEPS)
bench-scale: build
	@mkdir -p $(BENCH_DIR)
	out=$(BENCH_DIR)/scale-$$(date -u +%Y%m%dT%H%M%SZ).txt
	echo "+ $(GO) test -run '^$$' -bench '$(SCALE_BENCH)' -benchmem -benchtime 1x -count 1 $(SCALE_PKGS) > $$out"
	$(GO) test -run '^$$' -bench '$(SCALE_BENCH)' -benchmem -benchtime 1x -count 1 $(SCALE_PKGS) | tee "$$out"
	echo "+ $(GO) run ./test/scale/scalerun -bin $(BIN) -services $(SCALE_SERVICES) -steps $(SCALE_STEPS) >> $$out"
	$(GO) run ./test/scale/scalerun -bin $(BIN) -services $(SCALE_SERVICES) -steps $(SCALE_STEPS) | tee -a "$$out"
	cp "$$out" $(BENCH_DIR)/scale-latest.txt
	echo "saved $$out"

#? fuzz: run every fuzz target for FUZZTIME each (default 30s)
fuzz:
	@dirs=$$(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=.cache --exclude-dir=testdata '^func Fuzz' . | xargs -r -n1 dirname | sort -u)
	[[ -n $$dirs ]] || { echo "fuzz: no fuzz targets"; exit 0; }
	for d in $$dirs; do
		for f in $$($(GO) test -list '^Fuzz' "$$d" | grep '^Fuzz' || true); do
			echo "+ $(GO) test -run '^$$' -fuzz '^$$f$$' -fuzztime $(FUZZTIME) $$d"
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) "$$d"
		done
	done

#? lint: gofmt, go vet, go mod tidy -diff, golangci-lint v2.15.0 (.golangci.yml)
lint: fmt-check vet tidy-check $(GOLANGCI_LINT)
	@echo "+ golangci-lint run ./..."
	$(GOLANGCI_LINT) run ./...

tidy-check:
	@echo "+ $(GO) mod tidy -diff"
	$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run make tidy" >&2; exit 1; }

$(GOLANGCI_LINT):
	@echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(@D)"
	GOBIN='$(@D)' $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

#? tidy: go mod tidy
tidy:
	$(GO) mod tidy

#? clean: remove bin/, bench-results/ and stray build output (keeps the .cache/ tool cache)
clean:
	rm -rf bin $(BENCH_DIR) ./meridian ./*.test ./*.out

#? deps: install the Debian packages the tests, the demo and the benchmarks use (dig, kdig, unbound, zonemaster-cli, dnsperf, ...)
deps:
	scripts/ensure-deps.sh run test bench
