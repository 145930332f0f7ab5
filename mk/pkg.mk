# mk/pkg.mk: what a user installs, built from the boards' static firmware
# (docs/packaging.md). Included from the Makefile.
#
#   make deb        liqolet_<ver>_{amd64,arm64,armhf}.deb         in $(PKG_OUT)/deb
#   make image      the multi-arch OCI image (layout + oci-archive) in $(PKG_OUT)/image
#   make dist       liqolet-<ver>-<board>.tar.gz + SHA256SUMS      in $(PKG_OUT)/dist
#   make pkg-check  all three, built twice (reproducibility), checked by lintian,
#                   systemd-analyze, dpkg and skopeo (tools/pkg/check.sh); part of `make test`
#
# Every timestamp is SOURCE_DATE_EPOCH: the environment's, else the last commit's time.

PKG_OUT    ?= build/pkg
PKG_BOARDS := host rpi4-aarch64 armv7-gateway
PKG_SDE    := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),$(shell stat -c %Y VERSION))
PKG_ENV    := VERSION=$(VERSION) SOURCE_DATE_EPOCH=$(PKG_SDE)
pkg_deb_host          := amd64
pkg_deb_rpi4-aarch64  := arm64
pkg_deb_armv7-gateway := armhf
pkg_oci_host          := linux/amd64
pkg_oci_rpi4-aarch64  := linux/arm64
pkg_oci_armv7-gateway := linux/arm/v7

.PHONY: pkg-firmware deb image dist pkg-check
pkg-firmware:
	@for b in $(PKG_BOARDS); do $(MAKE) --no-print-directory BOARD=$$b firmware >/dev/null || exit 1; done

deb: pkg-firmware
	@mkdir -p $(PKG_OUT)/deb
	$(Q)$(foreach b,$(PKG_BOARDS),$(PKG_ENV) sh tools/pkg/build-deb.sh $(pkg_deb_$(b)) build/$(b)-static $(PKG_OUT)/deb &&) true

image: pkg-firmware
	$(Q)$(PKG_ENV) python3 tools/pkg/oci-image.py $(PKG_OUT)/image $(VERSION) \
	    $(foreach b,$(PKG_BOARDS),$(pkg_oci_$(b))=build/$(b)-static/liqolet.stripped)

dist: pkg-firmware
	@mkdir -p $(PKG_OUT)/dist
	$(Q)$(foreach b,$(PKG_BOARDS),$(PKG_ENV) sh tools/pkg/dist.sh $(b) build/$(b)-static $(PKG_OUT)/dist &&) true
	$(Q)cd $(PKG_OUT)/dist && sha256sum liqolet-$(VERSION)-*.tar.gz > SHA256SUMS && cat SHA256SUMS

# Built twice from the same binaries and SOURCE_DATE_EPOCH: every artefact must be
# byte-for-byte the same (check.sh compares them).
pkg-check: deb image dist
	@$(MAKE) --no-print-directory PKG_OUT=build/pkg-again deb image dist >/dev/null
	$(Q)VERSION=$(VERSION) sh tools/pkg/check.sh $(PKG_OUT) build/pkg-again

.PHONY: pkg-clean
clean: pkg-clean
pkg-clean:
	rm -rf build/pkg build/pkg-again
