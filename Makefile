# svxlat: the one entry point.
#
#   make            build user space (build/)
#   make deps       install the Debian packages the project needs (idempotent)
#   make check      every test: unit + fixtures (normal and ASan/UBSan builds),
#                   kernel build check, fuzzers (FUZZ_CHECK_SECONDS each)
#   make demo       the demo (see README)
#   make bench      benchmarks (ratios, see docs/performance.md)
#   make fuzz       run every fuzzer for FUZZ_SECONDS
#   make kmod       build the kernel modules against Debian's headers
#   make kmod-compat  the same for every installed linux-headers-*-amd64
#                   series, each in build/kmod-<kver>/
#   make install    install svxlat, svxlatd and the rule files under PREFIX,
#                   and svxlat.ko (through DKMS when dkms is installed)
#   make dkms-install / dkms-remove   only the DKMS part (dkms-source: the
#                   DKMS source tree alone, under DESTDIR, for packagers)

PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 30
CMAKE_FLAGS ?=
# The version, in one place: CMakeLists.txt's project() (DKMS package too).
VERSION := $(shell sed -n '/^project/s/.* VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
# svxlat.ko on `make install`: auto = through DKMS when the dkms command
# exists and DESTDIR is empty, else built for the kernel `make kmod` builds
# for and installed into $(DESTDIR)$(INSTALL_MOD_PATH)/lib/modules/<kver>/
# updates/ (then depmod, unless DESTDIR is set); yes = DKMS; no = the latter;
# none = no kernel module. DKMS_KERNELS: kernel releases DKMS builds for
# (default: the running kernel if its headers are installed, else the
# kernel of tests/kmod/find-kdir).
DKMS ?= auto
DKMS_KERNELS ?=

# Debian 12 packages: build tools, libraries, and the programs the tests and
# the demo run.
DEB_PACKAGES := build-essential cmake pkg-config clang llvm lld \
	libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev \
	libmnl-dev libnetfilter-queue-dev libnftables-dev \
	linux-headers-amd64 kmod dkms \
	iproute2 nftables iptables iperf3 curl python3 procps ethtool \
	qemu-system-x86 busybox-static cpio xz-utils tcpdump haproxy linux-perf conntrack

.PHONY: all build deps check unit asan fuzz-build fuzz fuzz-check kmod kmod-check \
	kmod-compat kmod-install dkms-install dkms-remove dkms-source demo bench install clean

all: build

build:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

unit: build kmod
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

asan:
	cmake -S . -B $(ASAN_BUILD) -DSVXLAT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	# The network tests (label e2e) run once, in the normal build.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -LE e2e

fuzz-build:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DSVXLAT_FUZZ=ON -DSVXLAT_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	tests/fuzz/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-check: fuzz-build
	tests/fuzz/run-fuzzers $(FUZZ_BUILD) $(FUZZ_CHECK_SECONDS)

kmod:
	$(MAKE) -C kmod

# svxlat.ko for every installed Debian kernel series, each built in a scratch
# copy of kmod/ and include/ (Kbuild builds in the source directory, so
# kmod/ can hold only one kernel's objects): $(BUILD)/kmod-<kver>/kmod/.
kmod-compat:
	@set -e; n=0; for d in /usr/src/linux-headers-*-amd64; do \
		case $$d in *-cloud-amd64|*-rt-amd64) continue ;; esac; \
		[ -f "$$d/Makefile" ] || continue; \
		kver=$${d#/usr/src/linux-headers-}; out=$(BUILD)/kmod-$$kver; \
		echo "kmod-compat: $$kver -> $$out/kmod"; \
		kmod/stage-source "$$out"; \
		$(MAKE) -C "$$out/kmod" KDIR="$$d"; \
		n=$$((n + 1)); \
	done; \
	[ $$n -gt 0 ] || { echo "kmod-compat: no /usr/src/linux-headers-*-amd64 (make deps)" >&2; exit 1; }

# The core must build as kernel code, warnings being errors (kmod/Kbuild),
# and run: the check module is loaded in a VM booting Debian's kernel.
kmod-check: kmod
	tests/vm/vm-run --ko kmod/svxlat_corecheck.ko -- sh -c 'dmesg | grep -q "svxlat_corecheck: shared core OK"'
	@echo "kmod-check: the shared core builds with Kbuild and runs in Debian's kernel"

check: unit asan kmod-check fuzz-check
	@echo "check: all tests passed"

demo: build
	tests/demo/run-demo $(BUILD)

bench: build
	tests/bench/run-bench $(BUILD)

install: build
	install -D -m 0755 $(BUILD)/userspace/cli/svxlat $(DESTDIR)$(PREFIX)/bin/svxlat
	install -D -m 0755 $(BUILD)/userspace/daemon/svxlatd $(DESTDIR)$(PREFIX)/sbin/svxlatd
	install -D -m 0644 rules/svxlat.nft $(DESTDIR)$(PREFIX)/share/svxlat/rules/svxlat.nft
	install -D -m 0644 rules/svxlat.iptables $(DESTDIR)$(PREFIX)/share/svxlat/rules/svxlat.iptables
	$(MAKE) kmod-install

# The kernel module part of `make install` (see DKMS above).
kmod-install:
	@case '$(DKMS)' in \
	none) echo "kmod-install: DKMS=none, no kernel module installed" ;; \
	yes) $(MAKE) dkms-install ;; \
	no) $(MAKE) -C kmod modules_install ;; \
	auto) if [ -z '$(DESTDIR)' ] && command -v dkms >/dev/null 2>&1; then \
			$(MAKE) dkms-install; \
		else $(MAKE) -C kmod modules_install; fi ;; \
	*) echo "kmod-install: DKMS must be auto, yes, no or none" >&2; exit 2 ;; \
	esac

# DKMS source tree /usr/src/svxlat-$(VERSION)/ (kmod/ + include/ +
# dkms.conf), then dkms add/build/install; idempotent (kmod/dkms-setup).
dkms-install:
	kmod/dkms-setup install '$(VERSION)' $(DKMS_KERNELS)

dkms-remove:
	kmod/dkms-setup remove

# For packagers: only the DKMS source tree, $(DESTDIR)/usr/src/svxlat-$(VERSION)/
# (the package's postinst then runs dkms add/build/install).
dkms-source:
	rm -rf '$(DESTDIR)/usr/src/svxlat-$(VERSION)'
	kmod/stage-source '$(DESTDIR)/usr/src/svxlat-$(VERSION)' '$(VERSION)'

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
	-$(MAKE) -C kmod clean
