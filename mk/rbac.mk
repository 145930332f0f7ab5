# mk/rbac.mk: RBAC manifests and docs generated from the permission table (src/kube/perms.c).
#
# Targets
#   rbac         regenerate deploy/rbac/home.yaml, deploy/rbac/foreign.yaml, the admission
#                policies deploy/rbac/home-policy.yaml, deploy/rbac/foreign-policy.yaml
#                (defaults: node liqo-foreign, namespace liqo, subjects User liqolet and
#                ServiceAccount liqo/liqolet, any non-empty ownership label value) and the
#                table in docs/rbac.md
#   rbac-check   fail when any of those committed files differs from the generator's
#                output (run by `make test`); fix with `make rbac`
#
# The generator, build/tools/rbacgen, is a host program built from tools/rbacgen.c,
# src/kube/perms.c and src/core/err.c (paths are relative to the top directory, where make runs).

RBAC_CC     := $(or $(HOSTCC),gcc)
RBAC_CFLAGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes -Wconversion -Wno-sign-conversion -O1 \
               -Iinclude -include boards/host/lq_board.h
RBACGEN     := build/tools/rbacgen
RBAC_DIR    := deploy/rbac
RBAC_DOC    := docs/rbac.md
RBAC_BEGIN  := <!-- rbacgen:begin
RBAC_END    := <!-- rbacgen:end

.PHONY: rbac rbac-check

$(RBACGEN): tools/rbacgen.c src/kube/perms.c src/kube/policy.c src/core/err.c \
            src/kube/perms_int.h include/liqolet/perms.h \
            include/liqolet/err.h boards/host/lq_board.h
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(RBAC_CC) $(RBAC_CFLAGS) -o $@ $(filter %.c,$^)

rbac: $(RBACGEN)
	@mkdir -p $(RBAC_DIR)
	$(RBACGEN) home >$(RBAC_DIR)/home.yaml.tmp && mv $(RBAC_DIR)/home.yaml.tmp $(RBAC_DIR)/home.yaml
	$(RBACGEN) foreign >$(RBAC_DIR)/foreign.yaml.tmp && mv $(RBAC_DIR)/foreign.yaml.tmp $(RBAC_DIR)/foreign.yaml
	$(RBACGEN) home --policy >$(RBAC_DIR)/home-policy.yaml.tmp && mv $(RBAC_DIR)/home-policy.yaml.tmp $(RBAC_DIR)/home-policy.yaml
	$(RBACGEN) foreign --policy >$(RBAC_DIR)/foreign-policy.yaml.tmp && mv $(RBAC_DIR)/foreign-policy.yaml.tmp $(RBAC_DIR)/foreign-policy.yaml
	$(RBACGEN) --markdown >$(RBAC_DOC).table.tmp
	@awk -v t=$(RBAC_DOC).table.tmp -v b='$(RBAC_BEGIN)' -v e='$(RBAC_END)' \
	  'index($$0, b) == 1 { print; while ((getline l < t) > 0) print l; skip = 1; seen++; next } \
	   index($$0, e) == 1 { skip = 0; seen++ } !skip { print } \
	   END { if (seen != 2) exit 1 }' $(RBAC_DOC) >$(RBAC_DOC).tmp \
	  || { rm -f $(RBAC_DOC).tmp $(RBAC_DOC).table.tmp; \
	       echo "rbac: $(RBAC_DOC) lacks the '$(RBAC_BEGIN)' / '$(RBAC_END)' markers"; exit 1; }
	@mv $(RBAC_DOC).tmp $(RBAC_DOC) && rm -f $(RBAC_DOC).table.tmp
	@echo "regenerated deploy/rbac/{home,foreign}.yaml deploy/rbac/{home,foreign}-policy.yaml docs/rbac.md"

rbac-check: $(RBACGEN)
	@set -e; fail=0; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	for c in home foreign; do \
	  $(RBACGEN) $$c >$$tmp/$$c.yaml; \
	  $(RBACGEN) $$c --policy >$$tmp/$$c-policy.yaml; \
	  for f in $$c $$c-policy; do \
	    if ! diff -u $(RBAC_DIR)/$$f.yaml $$tmp/$$f.yaml >$$tmp/diff; then \
	      head -40 $$tmp/diff; echo "rbac-check: deploy/rbac/$$f.yaml is stale"; fail=1; fi; \
	  done; \
	done; \
	$(RBACGEN) --markdown >$$tmp/table.md; \
	awk -v b='$(RBAC_BEGIN)' -v e='$(RBAC_END)' \
	  'index($$0, e) == 1 { on = 0 } on { print } index($$0, b) == 1 { on = 1 }' \
	  $(RBAC_DOC) >$$tmp/doc-table.md; \
	if ! diff -u $$tmp/doc-table.md $$tmp/table.md >$$tmp/diff; then \
	  head -40 $$tmp/diff; echo "rbac-check: the table in docs/rbac.md is stale"; fail=1; fi; \
	if [ $$fail -ne 0 ]; then echo "rbac-check FAILED: run 'make rbac' and commit"; exit 1; fi; \
	echo "rbac-check: deploy/rbac/*.yaml (RBAC and admission policies) and docs/rbac.md match src/kube/perms.c and policy.c"
