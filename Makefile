# KnotenCore developer targets. `make test` is the gate CI runs.
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 1s
COUNT     ?= 10
FUZZTIME  ?= 30s

# Benchmark baselines and comparisons (cmd/knoten-bench, see bench/).
RESULTS       ?= results
# Baselines are named results/<YYYY-MM-DD>T<hhmmss>Z-<commit>.txt (UTC), so the
# newest is the lexically last .txt file.
BASELINE      ?= $(lastword $(sort $(wildcard $(RESULTS)/*.txt)))
NEW           ?= out/bench-new.txt
CMP_COUNT     ?= 6
CMP_BENCHTIME ?= 100ms
# CMP_BENCH narrows make compare to the benchmarks matching a regexp.
CMP_BENCH     ?= .
# Baselines run at a short benchtime: the cluster benchmarks dominate the
# suite, and every run is one sample either way (see results/README.md).
BASELINE_BENCHTIME ?= 100ms
THRESHOLD     ?= 10
COMPARE_FLAGS ?=
KNOTEN_BENCH  ?= $(GO) run ./cmd/knoten-bench

.PHONY: test vet lint staticcheck deadcode bench fuzz baseline compare bench-smoke plots safepoint-cost dirty-cost

# test runs everything under the race detector, then the allocation proofs
# (AllocsPerRun) without it: -race adds allocations, so they skip there.
test: vet
	$(GO) test -race $(PKGS)
	$(GO) test -run 'Alloc' $(PKGS)

vet:
	$(GO) vet $(PKGS)

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# staticcheck runs honnef.co/go/tools at a pinned version (one the module
# proxy serves; `go run pkg@version` fetches and caches it) over the main
# module and the nested bench/peers module.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
staticcheck:
	$(STATICCHECK) $(PKGS)
	cd bench/peers && $(STATICCHECK) ./...

# deadcode lists functions that no command and no test reaches
# (golang.org/x/tools/cmd/deadcode -test) and fails if there is any. CI does
# not run it yet.
DEADCODE_VERSION ?= v0.52.0
deadcode:
	@out=$$($(GO) run golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION) -test $(PKGS)) || exit 1; \
	if [ -n "$$out" ]; then echo "$$out"; echo "deadcode: unreachable functions above"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(COUNT) $(PKGS)

# fuzz runs every fuzz target in the module, one after another, for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# baseline runs the whole suite (COUNT, BASELINE_BENCHTIME) into
# results/<YYYY-MM-DD>T<hhmmss>Z-<commit>.txt.
baseline:
	$(KNOTEN_BENCH) baseline --count $(COUNT) --benchtime $(BASELINE_BENCHTIME) --pkgs "$(PKGS)" --dir $(RESULTS)

# compare runs a short suite into NEW and compares it with the newest
# baseline; it fails only on a significant regression beyond THRESHOLD %
# measured on the baseline's machine. On another machine (the cpu, cores,
# cache, memory, goos or goarch lines differ) it reports, exits 0 and says
# so in its last line (results/README.md explains why).
# COMPARE_FLAGS=--report-only never fails on timing.
compare:
	@test -n "$(BASELINE)" || { echo "no baseline in $(RESULTS)/: run 'make baseline' first"; exit 1; }
	$(KNOTEN_BENCH) run --count $(CMP_COUNT) --benchtime $(CMP_BENCHTIME) --bench '$(CMP_BENCH)' --pkgs "$(PKGS)" --out $(NEW)
	$(KNOTEN_BENCH) compare $(BASELINE) $(NEW) --threshold $(THRESHOLD) $(COMPARE_FLAGS)

# bench-smoke is the CI smoke: a tiny run, compared report-only when a
# baseline exists, so a noisy machine cannot fail on timing.
bench-smoke:
	$(KNOTEN_BENCH) run --count 3 --benchtime 50ms --pkgs "$(PKGS)" --out $(NEW)
	@if [ -n "$(BASELINE)" ]; then \
	  $(KNOTEN_BENCH) compare $(BASELINE) $(NEW) --threshold $(THRESHOLD) --report-only; \
	else echo "no baseline in $(RESULTS)/: comparison skipped"; fi

# plots draws the plots of the newest baseline into out/plots; the committed
# results/plots change only when someone copies them there on purpose.
plots:
	@test -n "$(BASELINE)" || { echo "no baseline in $(RESULTS)/: run 'make baseline' first"; exit 1; }
	$(KNOTEN_BENCH) plot --in $(BASELINE) --out out/plots

# peers runs the workloads on KnotenCore and its peer runtimes (native Go,
# wazero, tengo, gopher-lua, goja) from the nested module bench/peers, which
# the main module's ./... does not reach (CI tests it in a step of its own):
# it vets and tests that module, then prints the comparison table (about 1-2
# minutes; PEERS_FLAGS=-quick takes seconds).
# PEERS_OUT=file also writes the raw runs in Go benchmark format.
PEERS_FLAGS ?=
PEERS_OUT   ?=
.PHONY: peers
peers:
	cd bench/peers && $(GO) vet ./... && $(GO) test ./... && \
	  $(GO) run ./cmd/peers $(PEERS_FLAGS) $(if $(PEERS_OUT),-o $(abspath $(PEERS_OUT)))

# safepoint-cost measures what the safepoint checks cost: the engine
# workloads and the hand-assembled fib/loop, built with and without them
# (-tags knoten_nosafepoint), compared in one report. The two builds run
# interleaved, one round each at a time, so that background load hits both
# alike.
SAFEPOINT_BENCH ?= Workloads/(fib|loop)/engine=knoten|Asm
safepoint-cost:
	@mkdir -p out
	$(GO) test -c -o out/engine-off.test -tags knoten_nosafepoint ./engine
	$(GO) test -c -o out/engine-on.test ./engine
	$(GO) test -c -o out/workloads-off.test -tags knoten_nosafepoint ./engine/workloads
	$(GO) test -c -o out/workloads-on.test ./engine/workloads
	@rm -f out/safepoint-off.txt out/safepoint-on.txt
	@for i in $$(seq $(COUNT)); do for mode in off on; do \
	  for pkg in engine workloads; do \
	    out/$$pkg-$$mode.test -test.run '^$$' -test.bench '$(SAFEPOINT_BENCH)' -test.benchtime 5x -test.benchmem >> out/safepoint-$$mode.txt; \
	  done; done; done
	$(KNOTEN_BENCH) compare out/safepoint-off.txt out/safepoint-on.txt --threshold 5 --report-only

# dirty-cost measures what dirty-page tracking costs (every heap write marks
# its page, for pre-copy migration and the incremental state hash): the
# engine workloads built with and without it (-tags knoten_nodirty),
# interleaved as safepoint-cost does. The target is 5 % (DESIGN.md).
DIRTY_BENCH ?= Workloads/.*/engine=knoten
dirty-cost:
	@mkdir -p out
	$(GO) test -c -o out/workloads-nodirty.test -tags knoten_nodirty ./engine/workloads
	$(GO) test -c -o out/workloads-dirty.test ./engine/workloads
	@rm -f out/dirty-off.txt out/dirty-on.txt
	@for i in $$(seq $(COUNT)); do \
	  out/workloads-nodirty.test -test.run '^$$' -test.bench '$(DIRTY_BENCH)' -test.benchtime 3x -test.benchmem >> out/dirty-off.txt; \
	  out/workloads-dirty.test -test.run '^$$' -test.bench '$(DIRTY_BENCH)' -test.benchtime 3x -test.benchmem >> out/dirty-on.txt; \
	done
	$(KNOTEN_BENCH) compare out/dirty-off.txt out/dirty-on.txt --threshold 5 --report-only
