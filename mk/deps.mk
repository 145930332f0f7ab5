# mk/deps.mk: liqolet's third-party dependencies.
#
# Included by the top-level Makefile after boards/$(BOARD)/board.mk, so
# BOARD, BOARD_CROSS, BOARD_TRIPLET and BOARD_CFLAGS are set.
#
# Targets
#   deps        the one step that needs root (sudo when not root): deb-src
#               entries (bookworm; trixie as deb-src only), apt-get install
#               of tools/deps/apt-packages.txt and tools/testbed-apt-packages.txt.
#               Does nothing (well under a second) when all is in place.
#   sysroot     build/$(BOARD)/sysroot: static mbedTLS, libcoap (mbedTLS
#               DTLS backend), cJSON, libyaml, cmocka built from Debian
#               source packages with the board's toolchain. No root. Built
#               once; rebuilt when tools/deps/versions, the mbedTLS config,
#               the build scripts, the patches or board.mk change.
#   sysroot-all the sysroot of every board in boards/
#   deps-clean  removes every board's sysroot (the caches below stay, so the
#               next build unpacks instead of compiling)
#   deps-clean-cache  also empties both caches:
#               $(DEPS_SRC_CACHE)      downloaded Debian source packages
#               $(DEPS_SYSROOT_CACHE)  finished sysroots, keyed by a hash of
#                 every input (versions, scripts, patches, mbedTLS config,
#                 board flags, compiler version), shared by all clones on the
#                 machine: a fresh CI clone unpacks in under a second.
#                 DEPS_SYSROOT_CACHE=off always compiles.
#
# Variables for the top-level Makefile
#   SYSROOT        build/$(BOARD)/sysroot (LIBC=musl: build/$(BOARD)-static/sysroot)
#   SYSROOT_STAMP  $(SYSROOT)/.stamp: make objects that include a dependency
#                  header depend on it (order-only is enough)
#   DEPS_CFLAGS    include path + the mbedTLS configuration (MBEDTLS_CONFIG_FILE)
#   DEPS_LIBS      static libraries in link order: coap, mbedtls, mbedx509,
#                  mbedcrypto, cjson, yaml
#   CMOCKA_LIBS    cmocka (unit tests only)
#   DEPS_MBEDTLS_CONFIG  the mbedTLS config file used for this board
#
# Pinned versions: tools/deps/versions. Build report (seconds and sizes per
# library): $(SYSROOT)/build-report.txt.

DEPS_TOOLS    := tools/deps
DEPS_BUILD    ?= build
DEPS_JOBS     ?= 2
DEPS_SRC_CACHE ?= $(or $(LQ_SRC_CACHE),$(HOME)/.cache/liqolet/src)
DEPS_SYSROOT_CACHE ?= $(or $(LQ_SYSROOT_CACHE),$(HOME)/.cache/liqolet/sysroot)

SYSROOT       := $(DEPS_BUILD)/$(BOARD)$(if $(filter musl,$(LIBC)),-static)/sysroot
SYSROOT_STAMP := $(SYSROOT)/.stamp

# A board may carry its own mbedTLS configuration; otherwise the shared one.
DEPS_MBEDTLS_CONFIG := $(firstword $(wildcard boards/$(BOARD)/mbedtls_config.h) boards/mbedtls_config.h)

# -isystem: the dependencies' headers are searched like -I, but do not trip
# the agent's -Werror warnings. The config is copied into the sysroot, so
# the agent, mbedTLS and libcoap all see the same one.
DEPS_CFLAGS := -isystem $(SYSROOT)/include '-DMBEDTLS_CONFIG_FILE=<liqolet_mbedtls_config.h>'
DEPS_LIBS   := $(SYSROOT)/lib/libcoap-3-mbedtls.a \
               $(SYSROOT)/lib/libmbedtls.a \
               $(SYSROOT)/lib/libmbedx509.a \
               $(SYSROOT)/lib/libmbedcrypto.a \
               $(SYSROOT)/lib/libcjson.a \
               $(SYSROOT)/lib/libyaml.a
CMOCKA_LIBS := $(SYSROOT)/lib/libcmocka.a

# The board's own toolchain, whatever CC the caller overrides for the agent.
DEPS_CC     := $(BOARD_CROSS)gcc
DEPS_AR     := $(BOARD_CROSS)ar
DEPS_RANLIB := $(BOARD_CROSS)ranlib

DEPS_INPUTS := $(DEPS_TOOLS)/versions \
               $(DEPS_TOOLS)/build-sysroot.sh \
               $(DEPS_TOOLS)/fetch-src.sh \
               $(wildcard $(DEPS_TOOLS)/patches/*.patch) \
               boards/mbedtls_config.h \
               $(DEPS_MBEDTLS_CONFIG) \
               boards/$(BOARD)/board.mk

.PHONY: deps sysroot sysroot-all deps-clean deps-clean-cache

deps:
	@sh $(DEPS_TOOLS)/install.sh

sysroot: $(SYSROOT_STAMP)

$(SYSROOT_STAMP): $(DEPS_INPUTS)
	@env LQ_BOARD='$(BOARD)' \
	    LQ_SYSROOT='$(SYSROOT)' \
	    LQ_CC='$(DEPS_CC)' LQ_AR='$(DEPS_AR)' LQ_RANLIB='$(DEPS_RANLIB)' \
	    LQ_TRIPLET='$(BOARD_TRIPLET)' \
	    LQ_LIBC='$(LIBC)' \
	    LQ_CFLAGS='$(BOARD_CFLAGS)' \
	    LQ_MBEDTLS_CONFIG='$(DEPS_MBEDTLS_CONFIG)' \
	    LQ_MBEDTLS_CONFIG_BASE='boards/mbedtls_config.h' \
	    LQ_JOBS='$(DEPS_JOBS)' \
	    LQ_SRC_CACHE='$(DEPS_SRC_CACHE)' \
	    LQ_SYSROOT_CACHE='$(DEPS_SYSROOT_CACHE)' \
	    sh $(DEPS_TOOLS)/build-sysroot.sh
	@touch $@

# The headers and libraries come with the stamp.
$(DEPS_LIBS) $(CMOCKA_LIBS): $(SYSROOT_STAMP) ;

sysroot-all:
	@set -e; for b in $(notdir $(patsubst %/board.mk,%,$(wildcard boards/*/board.mk))); do \
	    $(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) BOARD=$$b sysroot; \
	done

deps-clean:
	rm -rf $(DEPS_BUILD)/*/sysroot $(DEPS_BUILD)/*/deps-work

deps-clean-cache: deps-clean
	rm -rf $(DEPS_SRC_CACHE) $(DEPS_SYSROOT_CACHE)
