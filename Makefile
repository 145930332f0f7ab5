# liqolet: top-level build.
#
#   make                      build build/host/liqolet and build/host/liqoletctl
#   make BOARD=rpi4-aarch64   cross-build for a board in boards/ (also armv7-gateway)
#   make firmware [BOARD=..]  the board's shipping build: one static binary linked against
#                             musl built from source (build/<board>-static/liqolet)
#   make deps                 the one step that needs root: toolchains, qemu, clang, deb-src
#   make test                 everything that exists: host unit tests (ASan+UBSan), fuzz smoke
#                             run, both ARM boards' unit tests under qemu-user, end-to-end suite,
#                             valgrind, a 5-minute soak
#   make unit [BOARD=..]      unit tests of one board (ARM boards run under qemu-user)
#   make fuzz                 long libFuzzer runs (FUZZ_SECONDS per target, default 300)
#   make e2e                  end-to-end tests on two real local clusters (mk/testbed.mk)
#   make valgrind             host unit suites (no ASan, build/host-vg) and the agent in one
#                             e2e pod scenario (make e2e-valgrind) under valgrind memcheck
#   make soak                 churn on the test clusters for SOAK_MINUTES (default 60),
#                             RSS/fds/tables sampled each second (docs/soak.md)
#   make size-report          text/data/bss per module and the static budget, per board
#   make demo                 build, start the two local test clusters, peer them, run pods
#   make bench                parser throughput benchmark (numbers in docs/benchmarks.md)
#   make bench-pods           pod offloading benchmark on the test clusters (BENCH_LARGE=1:
#                             also 1,000 pods); numbers in docs/benchmarks.md
#   make bench-config         ConfigMap reflection benchmark on the test clusters (500 x 1 KiB
#                             and 50 x 500 KiB at once); numbers in docs/benchmarks.md
#   make bench-exposition     Services/EndpointSlices reflection benchmark on the test clusters
#                             (BENCH_N=200 Services, slice updates paced and burst); numbers in
#                             docs/benchmarks.md
#   make bench-peers          liqolet beside Liqo's virtual kubelet, a minimum Go virtual kubelet
#                             and a direct client on the same workloads (BENCH_PEERS, BENCH_LARGE=1);
#                             CSV + SVG in docs/bench-peers/, numbers in docs/benchmarks.md
#   make deb | image | dist   packages of the static firmware: .deb (amd64, arm64, armhf),
#                             a multi-arch OCI image, per-board tarballs (mk/pkg.mk,
#                             docs/packaging.md); make pkg-check checks them (part of test)
#   make clean
#
# Dependencies (mbedTLS, libcoap, cJSON, libyaml, cmocka; musl for `firmware`) are built
# from Debian source packages into build/<board>/sysroot by mk/deps.mk, once per board.

BOARD ?= host
.DEFAULT_GOAL := all
ifeq ($(wildcard boards/$(BOARD)/board.mk),)
$(error unknown BOARD '$(BOARD)'; boards: $(notdir $(wildcard boards/*)))
endif
include boards/$(BOARD)/board.mk

TOP     := $(CURDIR)
# V=1 shows full commands.
Q := $(if $(V),,@)
# LIBC=musl: the static firmware build (`make firmware`): musl built from source into
# the board's own sysroot, everything linked statically, in build/<board>-static.
LIBC    ?= glibc
ifeq ($(filter glibc musl,$(LIBC)),)
$(error LIBC must be glibc or musl, not '$(LIBC)')
endif
BUILD   := build/$(BOARD)$(if $(filter musl,$(LIBC)),-static)
VERSION := $(shell cat VERSION)

CC      := $(BOARD_CROSS)gcc$(if $(filter musl,$(LIBC)), -specs=$(TOP)/$(BUILD)/sysroot/musl/lib/musl-gcc.specs)
AR      := $(BOARD_CROSS)ar
SIZE    := $(BOARD_CROSS)size
STRIP   := $(BOARD_CROSS)strip
OBJCOPY := $(BOARD_CROSS)objcopy
HOSTCC  ?= gcc
CLANG   ?= clang

WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wundef -Wformat=2 -Wpointer-arith -Wvla -Wcast-align -Wconversion -Wno-sign-conversion
BASE_CFLAGS := $(WARN) -g -ffunction-sections -fdata-sections -Iinclude \
        -include boards/$(BOARD)/lq_board.h -DLQ_VERSION='"$(VERSION)"' \
        -DLQ_BOARD_TRIPLET='"$(if $(BOARD_TRIPLET),$(BOARD_TRIPLET),native)"'

-include mk/deps.mk
-include mk/testbed.mk
-include mk/rbac.mk
-include mk/configdoc.mk
-include mk/pkg.mk
CMOCKA_LIBS ?= -lcmocka

CFLAGS  := $(BASE_CFLAGS) $(BOARD_CFLAGS) $(DEPS_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -Wl,--gc-sections $(if $(filter musl,$(LIBC)),-static) $(EXTRA_LDFLAGS)

# Pure modules: no OS header; they also build into the fuzzers.
PURE_SRCS  := src/core/err.c src/core/liqo.c src/forge/conf.c $(wildcard src/kube/names.c src/kube/http.c src/kube/frame.c src/kube/scan.c src/kube/kapi.c src/kube/perms.c src/kube/policy.c src/kubelet/req.c)
AGENT_SRCS := $(filter-out src/cmd/main.c,$(wildcard src/*/*.c))
POSIX_SRCS := $(wildcard port/posix/*.c)
FAKE_SRCS  := $(wildcard port/fake/*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZERS    := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

.SECONDARY:
.PHONY: all unit unit-bins valgrind e2e-valgrind soak test fuzz fuzz-smoke size-report clean help bench demo firmware e2e-firmware
all: $(BUILD)/liqolet $(BUILD)/liqoletctl

# The shipping build: the same sources, LIBC=musl (see BUILD above). The glibc build
# stays for the tests and the sanitizers.
firmware:
	@$(MAKE) --no-print-directory LIBC=musl BOARD=$(BOARD) all

help:
	@sed -n '2,33p' Makefile | sed 's/^# \{0,1\}//'

# libcoap's heap fence (src/mgmt/heap.c, docs/management.md): the agent links a copy of
# libcoap's archive in which its calls to malloc, calloc, realloc, free, strdup and
# strndup are renamed to lq_mgmt_heap_*, which count every byte and cap the total at
# LQ_COAP_HEAP_CAP. AGENT_LIBS is DEPS_LIBS with that copy instead of the original.
COAP_HEAP_FNS := malloc calloc realloc free strdup strndup
COAP_FENCED   := $(BUILD)/deps/libcoap-fenced.a
AGENT_LIBS    := $(COAP_FENCED) $(filter-out %/libcoap-3-mbedtls.a,$(DEPS_LIBS))

# --- the agent ------------------------------------------------------------------------

# The stamp is a normal prerequisite: -MMD does not record -isystem headers, so a
# dependency upgrade must rebuild every object.
# The agent's own objects carry no unwind tables: it is C, never unwinds (no exceptions,
# no backtraces), and .eh_frame was a tenth of the aarch64 binary. Test and fuzz builds
# keep them for the sanitizers' stack traces.
NOUNWIND := -fno-asynchronous-unwind-tables -fno-unwind-tables

$(BUILD)/obj/%.o: %.c $(SYSROOT_STAMP) | $(BUILD)/.dir
	@mkdir -p $(dir $@)
	@echo "  CC      $(BOARD) $<"
	$(Q)$(CC) $(CFLAGS) $(NOUNWIND) -MMD -MP -c $< -o $@

$(BUILD)/liqolet: $(call objs,$(BUILD),src/cmd/main.c $(AGENT_SRCS) $(POSIX_SRCS)) $(COAP_FENCED)
	@echo "  LD      $(BOARD) $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(AGENT_LIBS)
	$(Q)$(STRIP) -o $@.stripped $@
	@echo "built $@ ($$(stat -c %s $@.stripped) bytes stripped)"

# `liqolet peer` embeds the NamespaceOffloading CRD (.incbin, which -MMD does not see).
$(BUILD)/obj/src/cmd/peer.o $(BUILD)/test/obj/src/cmd/peer.o: deploy/crds/offloading.liqo.io_namespaceoffloadings.yaml

$(BUILD)/.dir:
	@mkdir -p $(BUILD) && touch $@

$(COAP_FENCED): $(SYSROOT_STAMP) Makefile
	@mkdir -p $(dir $@)
	@echo "  FENCE   $(BOARD) $@"
	$(Q)$(OBJCOPY) $(foreach f,$(COAP_HEAP_FNS),--redefine-sym $(f)=lq_mgmt_heap_$(f)) \
	    $(SYSROOT)/lib/libcoap-3-mbedtls.a $@

# liqoletctl (tools/liqoletctl): the management endpoint's CLI, on libcoap's client API.
# A tool, not the agent: it links the original libcoap (plain heap) and cJSON.
CTL_SRCS := $(wildcard tools/liqoletctl/*.c)
CTL_LIBS := $(SYSROOT)/lib/libcoap-3-mbedtls.a $(SYSROOT)/lib/libmbedtls.a \
            $(SYSROOT)/lib/libmbedx509.a $(SYSROOT)/lib/libmbedcrypto.a $(SYSROOT)/lib/libcjson.a

$(BUILD)/liqoletctl: $(call objs,$(BUILD),$(CTL_SRCS))
	@echo "  LD      $(BOARD) $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CTL_LIBS)
	$(Q)$(STRIP) -o $@.stripped $@

# --- unit tests -----------------------------------------------------------------------
# Host: ASan + UBSan. ARM boards: UBSan only (ASan's shadow memory does not work under
# qemu-user), run through $(BOARD_QEMU). Every test binary is linked with the allocation
# guard's --wrap so tests can seal the pool and prove that nothing allocates afterwards.

ifeq ($(BOARD),host)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
SAN := -fsanitize=undefined -fno-sanitize-recover=all
endif
TBUILD     := $(BUILD)/test
TCFLAGS    := $(CFLAGS) $(SAN) -DLQ_ALLOC_GUARD -Iport/fake -Wno-missing-prototypes -O1
GUARD_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

$(TBUILD)/obj/%.o: %.c $(SYSROOT_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC-TEST $(BOARD) $<"
	$(Q)$(CC) $(TCFLAGS) -MMD -MP -c $< -o $@

$(TBUILD)/libliqolet-test.a: $(call objs,$(TBUILD),$(AGENT_SRCS) $(FAKE_SRCS))
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

# allocguard.o is linked explicitly: the --wrap'd calls of cmocka and the third-party
# archives, which come after the agent's archive, must find __wrap_malloc & co.
$(TBUILD)/%: $(TBUILD)/obj/tests/unit/%.o $(TBUILD)/obj/src/core/allocguard.o $(TBUILD)/libliqolet-test.a $(COAP_FENCED)
	@echo "  LD-TEST $(BOARD) $@"
	$(Q)$(CC) $(TCFLAGS) $(GUARD_WRAP) -o $@ $(filter %.o,$^) $(TBUILD)/libliqolet-test.a $(CMOCKA_LIBS) $(AGENT_LIBS)

# These tests run against the real OS (loopback sockets, files) instead of the fake port.
POSIX_TESTS := test_port_posix test_tls test_kapi_posix test_mgmt_coap
$(addprefix $(TBUILD)/,$(POSIX_TESTS)): $(TBUILD)/%: $(TBUILD)/obj/tests/unit/%.o $(TBUILD)/obj/src/core/allocguard.o $(call objs,$(TBUILD),$(POSIX_SRCS)) $(TBUILD)/libliqolet-test.a $(COAP_FENCED)
	@echo "  LD-TEST $(BOARD) $@"
	$(Q)$(CC) $(TCFLAGS) $(GUARD_WRAP) -o $@ $(filter %.o,$^) $(TBUILD)/libliqolet-test.a $(CMOCKA_LIBS) $(AGENT_LIBS)

unit-bins: $(addprefix $(TBUILD)/,$(UNIT_TESTS))

unit: $(addprefix $(TBUILD)/,$(UNIT_TESTS))
	@set -e; fail=0; for t in $(UNIT_TESTS); do \
	  echo "== $(BOARD): $$t"; \
	  $(BOARD_QEMU) $(TBUILD)/$$t || fail=1; \
	done; \
	if [ $$fail -ne 0 ]; then echo "unit tests FAILED on $(BOARD)"; exit 1; fi; \
	echo "unit tests passed on $(BOARD) ($(words $(UNIT_TESTS)) suites)"

# --- valgrind memcheck (host) ----------------------------------------------------------
# The host unit suites built again without ASan (ASan and memcheck do not mix) into
# build/host-vg, each run under memcheck: any error or definitely lost block fails.
# Suppressions (tools/valgrind/liqolet.supp) each carry their reason. The agent itself
# runs under memcheck in one e2e pod scenario: `make e2e-valgrind` (LIQOLET_AGENT_WRAPPER).

VG_BUILD := build/host-vg
VALGRIND := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite --track-fds=no --num-callers=30 \
            --suppressions=$(TOP)/tools/valgrind/liqolet.supp
VG_E2E_RUN := TestPodsDeployment|TestConfigMapsLifecycle|TestServicesLifecycle

valgrind:
	@$(MAKE) --no-print-directory BOARD=host TBUILD=$(VG_BUILD)/test SAN= unit-bins
	@fail=0; for t in $(UNIT_TESTS); do \
	  echo "== valgrind: $$t"; \
	  $(VALGRIND) -q --log-file=$(VG_BUILD)/$$t.vg.log $(VG_BUILD)/test/$$t >$(VG_BUILD)/$$t.out 2>&1 \
	    || { fail=1; echo "FAILED: $$t"; tail -20 $(VG_BUILD)/$$t.out; cat $(VG_BUILD)/$$t.vg.log; }; \
	done; \
	if [ $$fail -ne 0 ]; then echo "valgrind: unit suites FAILED"; exit 1; fi; \
	echo "valgrind: $(words $(UNIT_TESTS)) unit suites clean (no error, no definite leak)"
	$(MAKE) --no-print-directory e2e-valgrind

# The agent under memcheck on the real clusters (tests/e2e: LIQOLET_AGENT_WRAPPER prefixes
# the agent's command; the harness fails the test on any error or definite leak in the log).
e2e-valgrind:
	$(MAKE) BOARD=host all
	LIQOLET_AGENT_WRAPPER='$(VALGRIND)' $(MAKE) e2e E2E_RUN='$(VG_E2E_RUN)'

# --- soak (issue 17): churn on the real clusters, memory and descriptors sampled -------------
# SOAK_MINUTES of churn (default 60; `make test` runs 5) by tests/e2e/soak_test.go; CSV,
# events, summary and tools/soak/plot's SVG into build/soak/<UTC time>/ (docs/soak.md).
SOAK_MINUTES ?= 60
SOAK_OUT = $(TOP)/build/soak/$(shell date -u +%Y%m%dT%H%M%SZ)-$(SOAK_MINUTES)m

soak: testbed-bins
	@$(MAKE) -s BOARD=host all
	@out=$(SOAK_OUT); mkdir -p $$out; rc=0; \
	if $(TESTBED_ENV) $(TESTBED) status >/dev/null 2>&1; then started=0; else started=1; fi; \
	(cd $(TOP)/tests/e2e && $(TESTBED_ENV) LIQOLET_TOP=$(TOP) LIQOLET_SOAK_MINUTES=$(SOAK_MINUTES) \
	  LIQOLET_SOAK_OUT=$$out go test -v -count=1 -timeout $$(( $(SOAK_MINUTES) + 30 ))m -run 'TestSoak$$' ./...) || rc=$$?; \
	if [ $$started = 1 ]; then $(TESTBED_ENV) $(TESTBED) down >/dev/null 2>&1 || true; fi; \
	[ -s $$out/samples.csv ] && python3 $(TOP)/tools/soak/plot $$out; \
	[ -s $$out/summary.txt ] && cat $$out/summary.txt; \
	echo "soak: $$out"; exit $$rc

# --- fuzzing (host, clang + libFuzzer) -------------------------------------------------

FBUILD  := build/fuzz
FUZZ_CFLAGS := -std=c11 -g -O1 -Iinclude -include boards/host/lq_board.h \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_SECONDS ?= 300

$(FBUILD)/%: tests/fuzz/%.c $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@mkdir -p $(FBUILD)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS)

# Fuzz targets that need a third-party parser: libyaml as built for the host sysroot
# (uninstrumented), cJSON compiled from the same Debian source with coverage.
$(FBUILD)/fuzz_kubeconfig: tests/fuzz/fuzz_kubeconfig.c src/kube/kubeconfig.c src/core/log.c src/core/err.c port/fake/port.c $(wildcard include/liqolet/*.h) build/host/sysroot/.stamp
	@mkdir -p $(FBUILD)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Iport/fake -isystem build/host/sysroot/include -o $@ $< src/kube/kubeconfig.c src/core/log.c src/core/err.c port/fake/port.c build/host/sysroot/lib/libyaml.a

$(FBUILD)/fuzz_log: tests/fuzz/fuzz_log.c src/core/log.c src/core/err.c port/fake/port.c $(wildcard include/liqolet/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Iport/fake -o $@ $< src/core/log.c src/core/err.c port/fake/port.c

$(FBUILD)/fuzz_config: tests/fuzz/fuzz_config.c src/core/config.c src/kube/names.c src/core/err.c src/core/log.c port/fake/port.c $(wildcard include/liqolet/*.h)
	@mkdir -p $(FBUILD)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Iport/fake -o $@ $< src/core/config.c src/kube/names.c src/core/err.c src/core/log.c port/fake/port.c

$(FBUILD)/src/cjson/cJSON.c: tools/deps/versions tools/deps/fetch-src.sh
	@mkdir -p $(FBUILD)/src $(FBUILD)/include/cjson
	$(Q)sh tools/deps/fetch-src.sh CJSON $(FBUILD)/src
	$(Q)cp $(FBUILD)/src/cjson/cJSON.h $(FBUILD)/include/cjson/
	@touch $@

$(FBUILD)/cJSON.o: $(FBUILD)/src/cjson/cJSON.c
	$(Q)$(CLANG) -std=c89 -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	    -fno-sanitize-recover=all -c $< -o $@

$(FBUILD)/fuzz_json: tests/fuzz/fuzz_json.c src/kube/json.c $(FBUILD)/cJSON.o $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem $(FBUILD)/include -o $@ $< src/kube/json.c $(PURE_SRCS) $(FBUILD)/cJSON.o

# The pod forge runs over JSON documents: json.c and cJSON as above.
$(FBUILD)/fuzz_forge_pod: tests/fuzz/fuzz_forge_pod.c src/forge/pod.c src/kube/json.c $(FBUILD)/cJSON.o $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem $(FBUILD)/include -o $@ $< src/forge/pod.c src/kube/json.c $(PURE_SRCS) $(FBUILD)/cJSON.o

# The Service / Ingress forges run over JSON documents: json.c and cJSON as above.
$(FBUILD)/fuzz_forge_svc: tests/fuzz/fuzz_forge_svc.c src/forge/svc.c src/kube/json.c $(FBUILD)/cJSON.o $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem $(FBUILD)/include -o $@ $< src/forge/svc.c src/kube/json.c $(PURE_SRCS) $(FBUILD)/cJSON.o

# The ConfigMap / Secret forge is pure (in PURE_SRCS); its target re-parses the output
# with json.c and cJSON as above.
$(FBUILD)/fuzz_forge_conf: tests/fuzz/fuzz_forge_conf.c src/kube/json.c $(FBUILD)/cJSON.o $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem $(FBUILD)/include -o $@ $< src/kube/json.c $(PURE_SRCS) $(FBUILD)/cJSON.o

# The EndpointSlice forge runs over JSON documents: json.c and cJSON as above.
$(FBUILD)/fuzz_forge_eps: tests/fuzz/fuzz_forge_eps.c src/forge/eps.c src/kube/json.c $(FBUILD)/cJSON.o $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem $(FBUILD)/include -o $@ $< src/forge/eps.c src/kube/json.c $(PURE_SRCS) $(FBUILD)/cJSON.o

# The management endpoint's request parsing and rendering (src/mgmt/render.c, pure).
$(FBUILD)/fuzz_mgmt: tests/fuzz/fuzz_mgmt.c src/mgmt/render.c $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@mkdir -p $(FBUILD)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< src/mgmt/render.c $(PURE_SRCS)

# Quantities (src/forge/node.c, which also builds JSON) and the offload forge: json.c and
# cJSON as above.
$(FBUILD)/fuzz_quantity: tests/fuzz/fuzz_quantity.c src/forge/node.c src/kube/json.c $(FBUILD)/cJSON.o $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem $(FBUILD)/include -o $@ $< src/forge/node.c src/kube/json.c $(PURE_SRCS) $(FBUILD)/cJSON.o

$(FBUILD)/fuzz_offload: tests/fuzz/fuzz_offload.c src/forge/offload.c src/kube/json.c $(FBUILD)/cJSON.o $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem $(FBUILD)/include -o $@ $< src/forge/offload.c src/kube/json.c $(PURE_SRCS) $(FBUILD)/cJSON.o

# The server-name check of src/kube/tls.c, with the host sysroot's mbedTLS (not
# instrumented: only liqolet's code is under ASan/UBSan and coverage).
FUZZ_TLS_LIBS := build/host/sysroot/lib/libmbedtls.a build/host/sysroot/lib/libmbedx509.a build/host/sysroot/lib/libmbedcrypto.a
$(FBUILD)/fuzz_san: tests/fuzz/fuzz_san.c src/kube/tls.c src/core/log.c src/core/err.c port/fake/port.c $(wildcard include/liqolet/*.h) build/host/sysroot/.stamp
	@mkdir -p $(FBUILD)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Iport/fake -isystem build/host/sysroot/include '-DMBEDTLS_CONFIG_FILE=<liqolet_mbedtls_config.h>' -o $@ $< src/kube/tls.c src/core/log.c src/core/err.c port/fake/port.c $(FUZZ_TLS_LIBS)

# The CoAP request path: the management endpoint in an lq_loop on the POSIX port, with the
# host build's fenced libcoap and mbedTLS (not instrumented).
FUZZ_COAP_SRCS := src/mgmt/coap.c src/mgmt/mgmt.c src/mgmt/render.c src/mgmt/heap.c src/mgmt/http.c \
                  src/core/loop.c src/core/log.c src/core/err.c src/core/pool.c src/core/allocguard.c \
                  src/kube/tls.c src/kube/names.c port/posix/port.c
$(FBUILD)/fuzz_coap: tests/fuzz/fuzz_coap.c $(FUZZ_COAP_SRCS) $(wildcard include/liqolet/*.h) build/host/deps/libcoap-fenced.a
	@mkdir -p $(FBUILD)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -isystem build/host/sysroot/include '-DMBEDTLS_CONFIG_FILE=<liqolet_mbedtls_config.h>' -o $@ $< $(FUZZ_COAP_SRCS) build/host/deps/libcoap-fenced.a $(FUZZ_TLS_LIBS)

fuzz-smoke: $(addprefix $(FBUILD)/,$(FUZZERS))
	@set -e; for f in $(FUZZERS); do \
	  c=tests/fuzz/corpus/$${f#fuzz_}; mkdir -p $(FBUILD)/corpus-$$f; \
	  echo "== fuzz smoke: $$f ($(FUZZ_SMOKE_RUNS) runs)"; \
	  $(FBUILD)/$$f -runs=$(FUZZ_SMOKE_RUNS) -seed=1 -max_len=4096 \
	     $(FBUILD)/corpus-$$f $$( [ -d $$c ] && echo $$c ) 2>$(FBUILD)/$$f.log \
	     || { tail -40 $(FBUILD)/$$f.log; exit 1; }; \
	  grep -E '^#[0-9]+.*(DONE|pulse)' $(FBUILD)/$$f.log | tail -1; \
	done; echo "fuzz smoke passed ($(words $(FUZZERS)) targets)"

fuzz: $(addprefix $(FBUILD)/,$(FUZZERS))
	@set -e; for f in $(FUZZERS); do \
	  c=tests/fuzz/corpus/$${f#fuzz_}; mkdir -p $(FBUILD)/corpus-$$f; \
	  echo "== fuzz: $$f for $(FUZZ_SECONDS) s"; \
	  $(FBUILD)/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	     $(FBUILD)/corpus-$$f $$( [ -d $$c ] && echo $$c ); \
	done

# --- benchmarks (numbers go into docs/benchmarks.md; never asserted by tests) -----------

BENCHES := $(patsubst tests/bench/%.c,%,$(wildcard tests/bench/bench_*.c))

$(BUILD)/bench/%: tests/bench/%.c $(PURE_SRCS) $(wildcard include/liqolet/*.h)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $(BOARD) $@"
	$(Q)$(CC) $(BASE_CFLAGS) $(BOARD_CFLAGS) -Wno-missing-prototypes -o $@ $< $(PURE_SRCS)

bench: $(addprefix $(BUILD)/bench/,$(BENCHES))
	@for b in $(BENCHES); do $(BOARD_QEMU) $(BUILD)/bench/$$b || exit 1; done

# --- the whole suite --------------------------------------------------------------------
# `make test` installs what is missing (make deps is idempotent and quick when satisfied),
# then runs every suite that exists. ARM boards run their unit tests under qemu-user.

ARM_BOARDS := rpi4-aarch64 armv7-gateway

test:
	$(MAKE) deps
	$(MAKE) rbac-check configdoc-check
	$(MAKE) BOARD=host all unit
	$(MAKE) fuzz-smoke
	@for b in $(ARM_BOARDS); do $(MAKE) BOARD=$$b all unit || exit 1; done
	$(MAKE) size-report
	$(MAKE) pkg-check
	@if $(MAKE) -n e2e >/dev/null 2>&1; then $(MAKE) e2e && $(MAKE) e2e-firmware; else echo "e2e: no suite yet"; fi
	$(MAKE) valgrind
	$(MAKE) soak SOAK_MINUTES=5

# The shipping build on the real clusters: the host board's static musl binary runs the
# end-to-end tests that cover its C library and TLS surface (both PKIs: RSA at home,
# k3s-style ECDSA in the foreign cluster; DNS and sockets; the DTLS endpoint; the kubelet
# API's TLS server; pods and reflection).
E2E_FIRMWARE_RUN := TestCheckPasses|TestVersionListsSecurityPatches|TestCheckWrongCA|TestSmokePodLifecycle|TestConfigMapsLifecycle|TestServicesLifecycle|TestMgmtDTLSPSK|TestKubeletLogsExec
e2e-firmware:
	$(MAKE) BOARD=host firmware
	LIQOLET_AGENT_BIN=$(TOP)/build/host-static/liqolet $(MAKE) e2e E2E_RUN='$(E2E_FIRMWARE_RUN)'
# The shipped binary speaks the service manager's protocol too (docs/packaging.md).
E2E_FIRMWARE_RUN := $(E2E_FIRMWARE_RUN)|TestSdNotifyReadyWatchdogStopping

# The README's "run" command: build, start both test clusters, show them.
demo:
	$(MAKE) deps
	tools/demo

size-report:
	@for b in host $(ARM_BOARDS); do \
	  $(MAKE) --no-print-directory BOARD=$$b all >/dev/null || exit 1; \
	  $(MAKE) --no-print-directory BOARD=$$b firmware >/dev/null || exit 1; done
	tools/size-report $(foreach b,host $(ARM_BOARDS),$(b) $(b)-static)

clean:
	rm -rf build/host build/rpi4-aarch64 build/armv7-gateway build/*-static build/fuzz

-include $(shell find build -path '*/obj/*' -type f -name '*.d' 2>/dev/null)
