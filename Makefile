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
#   make install    install svxlat, svxlatd and the rule files under PREFIX

PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 30
CMAKE_FLAGS ?=

# Debian 12 packages: build tools, libraries, and the programs the tests and
# the demo run.
DEB_PACKAGES := build-essential cmake pkg-config clang llvm lld \
	libgtest-dev libgmock-dev libbenchmark-dev libpcap-dev \
	libmnl-dev libnetfilter-queue-dev libnftables-dev \
	linux-headers-amd64 kmod \
	iproute2 nftables iptables iperf3 curl python3 procps ethtool \
	qemu-system-x86 busybox-static cpio xz-utils tcpdump haproxy

.PHONY: all build deps check unit asan fuzz-build fuzz fuzz-check kmod kmod-check \
	demo bench install clean

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

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
	-$(MAKE) -C kmod clean
