# mk/configdoc.mk: the option reference of docs/configuration.md, generated from the
# option table in src/core/config.c (the same table that parses `liqolet run` options and
# prints its --help).
#
# Targets
#   configdoc        regenerate the table between the configdoc markers of
#                    docs/configuration.md
#   configdoc-check  fail when that table differs from the generator's output (to be
#                    run by `make test`); fix with `make configdoc`
#
# The generator, build/tools/configdoc, is a host program built from tools/configdoc.c,
# src/core/config.c, src/core/err.c and port/posix/port.c (for reading a --config file in its
# --effective mode).

CONFIGDOC_CC     := $(or $(HOSTCC),gcc)
CONFIGDOC_CFLAGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                    -Wmissing-prototypes -Wconversion -Wno-sign-conversion -Wvla -O1 \
                    -Iinclude -include boards/host/lq_board.h
CONFIGDOC        := build/tools/configdoc
CONFIGDOC_DOC    := docs/configuration.md
CONFIGDOC_BEGIN  := <!-- configdoc:begin
CONFIGDOC_END    := <!-- configdoc:end

.PHONY: configdoc configdoc-check

$(CONFIGDOC): tools/configdoc.c src/core/config.c src/kube/names.c src/core/err.c port/posix/port.c \
              include/liqolet/config.h include/liqolet/config_defaults.h \
              include/liqolet/err.h include/liqolet/port.h boards/host/lq_board.h
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(CONFIGDOC_CC) $(CONFIGDOC_CFLAGS) -o $@ $(filter %.c,$^)

configdoc: $(CONFIGDOC)
	$(CONFIGDOC) --markdown >$(CONFIGDOC_DOC).table.tmp
	@awk -v t=$(CONFIGDOC_DOC).table.tmp -v b='$(CONFIGDOC_BEGIN)' -v e='$(CONFIGDOC_END)' \
	  'index($$0, b) == 1 { print; while ((getline l < t) > 0) print l; skip = 1; seen++; next } \
	   index($$0, e) == 1 { skip = 0; seen++ } !skip { print } \
	   END { if (seen != 2) exit 1 }' $(CONFIGDOC_DOC) >$(CONFIGDOC_DOC).tmp \
	  || { rm -f $(CONFIGDOC_DOC).tmp $(CONFIGDOC_DOC).table.tmp; \
	       echo "configdoc: $(CONFIGDOC_DOC) lacks the '$(CONFIGDOC_BEGIN)' / '$(CONFIGDOC_END)' markers"; exit 1; }
	@mv $(CONFIGDOC_DOC).tmp $(CONFIGDOC_DOC) && rm -f $(CONFIGDOC_DOC).table.tmp
	@echo "regenerated the option table of $(CONFIGDOC_DOC)"

configdoc-check: $(CONFIGDOC)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(CONFIGDOC) --markdown >$$tmp/table.md; \
	awk -v b='$(CONFIGDOC_BEGIN)' -v e='$(CONFIGDOC_END)' \
	  'index($$0, e) == 1 { on = 0; seen++ } on { print } index($$0, b) == 1 { on = 1; seen++ } \
	   END { if (seen != 2) exit 1 }' $(CONFIGDOC_DOC) >$$tmp/doc-table.md \
	  || { echo "configdoc-check: $(CONFIGDOC_DOC) lacks the configdoc markers"; exit 1; }; \
	if ! diff -u $$tmp/doc-table.md $$tmp/table.md >$$tmp/diff; then \
	  head -40 $$tmp/diff; \
	  echo "configdoc-check FAILED: the table in $(CONFIGDOC_DOC) is stale; run 'make configdoc' and commit"; \
	  exit 1; fi; \
	echo "configdoc-check: $(CONFIGDOC_DOC) matches src/core/config.c"
