# mk/testbed.mk: the two local Kubernetes test clusters and the end-to-end suite.
#
# Included by the top-level Makefile.  Everything real lives in tools/testbed
# (see docs/testing.md, "Test clusters"); these targets are thin wrappers.
#
# Targets
#   testbed-bins    build kube-apiserver, kube-controller-manager, kube-scheduler,
#                   etcd (tools/k8sbins) and kwok into the cache, once per version
#                   (~7 min cold on 2 cores); LIQOLET_TESTBED_BIN=<dir> uses prebuilt ones
#   testbed-up      start the clusters home and foreign (reuses them when already up)
#   testbed-down    stop exactly the processes testbed-up started
#   testbed-status  processes, RSS, readiness (exit 0 up, 1 not running, 2 degraded)
#   testbed-env     shell exports: eval "$(make -s testbed-env)"
#   e2e             testbed-bins, then `go test` in tests/e2e.  Clusters that are
#                   already up are reused and left up; otherwise the suite starts
#                   them and nothing of them is left running afterwards.
#   bench-pods      pod offloading benchmark on the clusters (tests/e2e/bench_pods_test.go):
#                   110 pods burst and at 20/s; BENCH_LARGE=1 adds 1,000 pods.  Prints a
#                   table for docs/benchmarks.md; asserts nothing.  BENCH_BASE=<agent
#                   binary> runs that build first, in the same session, for a side-by-side
#                   (BENCH_BASE_LABEL names it in the table).
#   bench-config    ConfigMap reflection benchmark (tests/e2e/bench_config_test.go): 500
#                   ConfigMaps of 1 KiB and 50 of 500 KiB created at once; time until all
#                   are remote with identical data, agent CPU, VmHWM before/after.  Asserts
#                   nothing about speed; BENCH_BASE / BENCH_BASE_LABEL as for bench-pods.
#   bench-exposition  Services/EndpointSlices reflection benchmark
#                   (tests/e2e/bench_exposition_test.go): BENCH_N Services (default 200)
#                   with one hand-written slice of 5 endpoints each, then a rolling update of
#                   every slice paced (BENCH_RATE/s, default 20) and in a burst; p50/p99 from
#                   the home write to the remote copy, agent CPU, VmHWM.  Asserts nothing
#                   about speed; BENCH_BASE / BENCH_BASE_LABEL as for bench-pods.
#   bench-peers     side-by-side benchmark (tests/e2e/bench_peers_test.go, tools/bench-peers/):
#                   the bench-pods workloads (110 pods burst and at 20/s; BENCH_LARGE=1 adds
#                   1,000) against each peer of BENCH_PEERS in turn (default "liqolet minvk
#                   direct liqo", those with a tools/bench-peers/<peer>/run), a fresh peer per
#                   workload.  CSV, SVG (gnuplot, installed by tools/deps/install.sh when
#                   missing) and a markdown table into build/bench-peers/<UTC time>/, copied to
#                   docs/bench-peers/.  LIQOLET_AGENT_BIN=<binary> measures another liqolet.
#
# Variables
#   E2E_TIMEOUT     go test -timeout (default 30m)
#   E2E_RUN         go test -run pattern (default: all tests)
#   E2E_FLAGS       extra go test flags

TESTBED_TOP := $(or $(TOP),$(CURDIR))
TESTBED     := $(TESTBED_TOP)/tools/testbed
# Go lives in /usr/local/go/bin on the build machines; keep a PATH that has it.
TESTBED_ENV := PATH="$$PATH:/usr/local/go/bin" GOTOOLCHAIN=local GOWORK=off
E2E_TIMEOUT ?= 30m
E2E_RUN     ?=
E2E_FLAGS   ?=

.PHONY: faultproxy testbed-bins testbed-up testbed-down testbed-status testbed-env e2e bench-pods bench-config bench-exposition bench-peers

testbed-bins:
	@$(TESTBED_ENV) $(TESTBED) bins >/dev/null

testbed-up: testbed-bins
	@$(TESTBED_ENV) $(TESTBED) up

testbed-down:
	@$(TESTBED_ENV) $(TESTBED) down

testbed-status:
	@$(TESTBED_ENV) $(TESTBED) status

testbed-env:
	@$(TESTBED_ENV) $(TESTBED) env

# The test binary's TestMain starts and stops the clusters itself; the final
# `down` is a safety net for a run killed by its -timeout (TestMain's clean-up
# does not run then).  It only happens when the clusters were not up before.
# tools/faultproxy (the fault-injection proxy of faultproxy_test.go; standard library
# only, so no module download). The test builds the same binary if it is missing.
faultproxy:
	@mkdir -p $(TESTBED_TOP)/build/host
	@cd $(TESTBED_TOP)/tools/faultproxy && GOFLAGS=-buildvcs=false GOPROXY=off go build -o $(TESTBED_TOP)/build/host/faultproxy .

e2e: testbed-bins faultproxy build/tools/rbacgen
	@if $(TESTBED_ENV) $(TESTBED) status >/dev/null 2>&1; then started=0; else started=1; fi; \
	rc=0; \
	cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) \
	  go test -v -count=1 -timeout $(E2E_TIMEOUT) $(if $(E2E_RUN),-run '$(E2E_RUN)') $(E2E_FLAGS) ./... \
	  || rc=$$?; \
	if [ $$started = 1 ]; then $(TESTBED_ENV) $(TESTBED) down >/dev/null 2>&1 || true; fi; \
	exit $$rc

bench-pods: testbed-bins
	@$(MAKE) -s all
	@if [ -n "$(BENCH_BASE)" ]; then \
	  cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) LIQOLET_BENCH=1 \
	  $(if $(BENCH_LARGE),LIQOLET_BENCH_LARGE=1) LIQOLET_AGENT_BIN=$(BENCH_BASE) \
	  LIQOLET_BENCH_LABEL="$(or $(BENCH_BASE_LABEL),base)" \
	  go test -v -count=1 -timeout 60m -run 'TestBenchPods' ./... || exit 1; fi
	@cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) LIQOLET_BENCH=1 \
	  $(if $(BENCH_LARGE),LIQOLET_BENCH_LARGE=1) \
	  go test -v -count=1 -timeout 60m -run 'TestBenchPods' ./...

bench-config: testbed-bins
	@$(MAKE) -s all
	@if [ -n "$(BENCH_BASE)" ]; then \
	  cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) LIQOLET_BENCH=1 \
	  LIQOLET_AGENT_BIN=$(BENCH_BASE) LIQOLET_BENCH_LABEL="$(or $(BENCH_BASE_LABEL),base)" \
	  go test -v -count=1 -timeout 60m -run 'TestBenchConfig' ./... || exit 1; fi
	@cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) LIQOLET_BENCH=1 \
	  go test -v -count=1 -timeout 60m -run 'TestBenchConfig' ./...

bench-exposition: testbed-bins
	@$(MAKE) -s all
	@if [ -n "$(BENCH_BASE)" ]; then \
	  cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) LIQOLET_BENCH=1 \
	  $(if $(BENCH_N),LIQOLET_BENCH_N=$(BENCH_N)) $(if $(BENCH_RATE),LIQOLET_BENCH_RATE=$(BENCH_RATE)) \
	  LIQOLET_AGENT_BIN=$(BENCH_BASE) LIQOLET_BENCH_LABEL="$(or $(BENCH_BASE_LABEL),base)" \
	  go test -v -count=1 -timeout 60m -run 'TestBenchExposition' ./... || exit 1; fi
	@cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) LIQOLET_BENCH=1 \
	  $(if $(BENCH_N),LIQOLET_BENCH_N=$(BENCH_N)) $(if $(BENCH_RATE),LIQOLET_BENCH_RATE=$(BENCH_RATE)) \
	  go test -v -count=1 -timeout 60m -run 'TestBenchExposition' ./...

BENCH_PEERS ?= liqolet minvk direct liqo
BENCH_PEERS_OUT = $(TESTBED_TOP)/build/bench-peers/$(shell date -u +%Y%m%dT%H%M%SZ)

bench-peers: testbed-bins
	@command -v gnuplot >/dev/null || sh $(TESTBED_TOP)/tools/deps/install.sh
	@$(if $(LIQOLET_AGENT_BIN),,$(MAKE) -s all)
	@out=$(BENCH_PEERS_OUT); mkdir -p $$out; rc=0; \
	(cd $(TESTBED_TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TESTBED_TOP) LIQOLET_BENCH=1 \
	  $(if $(BENCH_LARGE),LIQOLET_BENCH_LARGE=1) LIQOLET_BENCH_OUT=$$out LIQOLET_BENCH_PEERS="$(BENCH_PEERS)" \
	  $(if $(LIQOLET_AGENT_BIN),LIQOLET_AGENT_BIN=$(LIQOLET_AGENT_BIN)) \
	  go test -v -count=1 -timeout 180m -run 'TestBenchPeers' ./...) || rc=$$?; \
	[ -s $$out/summary.csv ] || exit 1; \
	$(TESTBED_TOP)/tools/bench-peers/plot $$out || exit 1; \
	mkdir -p $(TESTBED_TOP)/docs/bench-peers && \
	cp $$out/*.csv $$out/*.svg $$out/table.md $(TESTBED_TOP)/docs/bench-peers/ && \
	echo "bench-peers: $$out (copied to docs/bench-peers/)" && cat $$out/table.md; \
	if [ $$rc != 0 ]; then echo "bench-peers: the benchmark reported errors (exit $$rc): see above" >&2; fi; \
	exit $$rc
