# SPDX-License-Identifier: GPL-2.0
#
# make kernel         build the patched test kernel (kernel/build)
# make check          kernel + tests, then the test suite in one VM boot
# make vm CMD="..."   run a command in the test VM
# make stress         random stress against a model, new seeds for DURATION s
# make bench          the benchmark, on the patched and the base kernel
# make help           all targets and variables

# The kernel flavour tests run on, and its O= build directory.
FLAVOUR ?= test
KDIR ?= build/kernel-$(FLAVOUR)
# The kernel source tree: the build directory links to it.
KSRC ?= $(shell readlink -f $(KDIR)/source 2>/dev/null)
SELFTESTS = $(KSRC)/tools/testing/selftests
BZIMAGE = $(KDIR)/arch/x86/boot/bzImage
UAPI = $(KDIR)/usr/include

CFLAGS ?= -Wall -Wextra -Werror -O2 -g
# The kselftest harness is used as it is: as a system header, its own
# warnings (unused parameters under -Wextra) do not fail our build.
TEST_CPPFLAGS = -D_GNU_SOURCE= -I$(UAPI) -Itests/lib -Itests/owner -Itests/mdev \
	-Itests/reliability -isystem $(SELFTESTS)

# Options for tests/vm/run, e.g. VMFLAGS="--accel tcg --timeout 900".
VMFLAGS ?=
# make kernel ASIS=1: build the kernel tree as it is, local edits included.
ASIS ?=
KBUILD_FLAGS = --flavour $(FLAVOUR) $(if $(filter 1,$(ASIS)),--asis)

# Test programs, as <dir>/<name>: each is built from tests/<dir>/<name>.c,
# the sources listed in <dir>/<name>_SRCS if any, and the helper library,
# into build/tests/<dir>/<name>. Which tests run is listed in tests/run-suite.
TEST_PROGS := foundation/edu_dma owner/owner_test owner/owner_exec \
	owner/mdev_owner_test liveupdate/vmm tracepoints/owner_one \
	tracepoints/owner_exec tracepoints/fdinfo_probe tracepoints/tp_bench \
	reliability/fail_nth reliability/fuzz_args \
	reliability/stress reliability/races bench/bench
owner/owner_test_SRCS := tests/owner/owner.c
owner/owner_exec_SRCS := tests/owner/owner.c
owner/mdev_owner_test_SRCS := tests/owner/owner.c
liveupdate/vmm_SRCS := tests/owner/owner.c
tracepoints/owner_one_SRCS := tests/owner/owner.c
reliability/fail_nth_SRCS := tests/reliability/rel.c tests/owner/owner.c
reliability/fuzz_args_SRCS := tests/reliability/rel.c tests/owner/owner.c
bench/bench_SRCS := tests/owner/owner.c
# owner_one execs the owner_exec next to it.
tracepoints/owner_exec_SRCS := tests/owner/owner.c
reliability/stress_SRCS := tests/reliability/rel.c tests/owner/owner.c
reliability/races_SRCS := tests/reliability/rel.c tests/owner/owner.c
# Directories under tests/ with their own Makefile (out-of-tree kernel
# modules), built with KDIR set.
TEST_SUBDIRS := mdev

TEST_BINS := $(addprefix build/tests/,$(TEST_PROGS))
LIB_OBJS := build/tests/lib/vfio_test.o

export CMD

.PHONY: all help kernel kernel-kasan kernel-base patches patches-check lint tests ownertop vm check \
	check-kasan demo bench stress clean \
	$(TEST_SUBDIRS)

all: tests

help:
	@sed -n 's/^# \{0,1\}//; 3,8p' Makefile
	@echo
	@echo "Targets: kernel kernel-kasan kernel-base patches patches-check lint tests vm check"
	@echo "         check-kasan demo bench stress clean"
	@echo "Variables: FLAVOUR=$(FLAVOUR) KDIR=$(KDIR) ASIS=1 CMD=... VMFLAGS=..."
	@echo "  stress: DURATION=$(DURATION) (seconds) RACE_SCALE=$(RACE_SCALE) (races first, at"
	@echo "  that many times their iterations; 0: none)"
	@echo "  BENCH_QUICK=1: make bench in a few minutes, results in build/bench only"
	@echo "  KSRC=$(KSRC)"

kernel:
	kernel/build $(KBUILD_FLAGS)

kernel-kasan:
	kernel/build --flavour kasan $(if $(filter 1,$(ASIS)),--asis)

# The unpatched base kernel, for comparisons (build/kernel-base-test).
kernel-base:
	kernel/build --base

patches:
	kernel/build --export

patches-check:
	kernel/build --check-patches

# W=1 and sparse on drivers/vfio: no warning the series adds.
lint:
	kernel/build $(KBUILD_FLAGS) --lint

tests: $(LIB_OBJS) $(TEST_BINS) $(TEST_SUBDIRS) ownertop

# vfio-ownertop, its BPF program and what its tests run.
ownertop: | $(UAPI)/linux/vfio.h
	$(MAKE) -C tools/vfio-ownertop test-progs

$(TEST_SUBDIRS): | $(UAPI)/linux/vfio.h
	$(MAKE) -C tests/$@ KDIR=$(abspath $(KDIR))

# The tests need the uapi headers of the kernel they run on.
$(UAPI)/linux/vfio.h:
	@echo "make: no kernel headers in $(KDIR): building the kernel first"
	$(MAKE) kernel

build/tests/lib/%.o: tests/lib/%.c | $(UAPI)/linux/vfio.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CPPFLAGS) -MMD -MP -c -o $@ $<

build/tests/tracepoints/owner_exec: build/tests/owner/owner_exec
	@mkdir -p $(@D)
	cp $< $@

.SECONDEXPANSION:
build/tests/%: tests/%.c $$($$*_SRCS) $(LIB_OBJS) | $(UAPI)/linux/vfio.h
	@test -f $(SELFTESTS)/kselftest_harness.h || \
		{ echo "make: no kselftest_harness.h under KSRC=$(KSRC)" >&2; exit 1; }
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CPPFLAGS) -MMD -MP -o $@ $< $($*_SRCS) $(LIB_OBJS) -pthread

-include $(LIB_OBJS:.o=.d) $(TEST_BINS:=.d)

vm:
	@test -n "$$CMD" || { echo 'usage: make vm CMD="command"' >&2; exit 2; }
	tests/vm/run --kernel $(BZIMAGE) $(VMFLAGS) -- "$$CMD"

# The live-update demonstration: make demo [UPDATES=3] [MAPS=4] [SIZE=2]
UPDATES ?= 3
MAPS ?= 4
SIZE ?= 2
demo:
	$(MAKE) kernel
	$(MAKE) tests
	tests/vm/run --kernel $(BZIMAGE) $(VMFLAGS) -- \
		tests/liveupdate/demo.sh -u $(UPDATES) -m $(MAPS) -s $(SIZE)

# The reliability stress for longer than make check runs it: make stress
# [DURATION=600] [RACE_SCALE=10]. One VM with kmemleak; the stress runs
# seed after seed (each printed) until DURATION seconds have passed, after
# the races at RACE_SCALE times their iterations if RACE_SCALE is not 0.
DURATION ?= 600
RACE_SCALE ?= 0
stress:
	$(MAKE) kernel
	$(MAKE) tests
	tests/vm/run --kernel $(BZIMAGE) --kmemleak \
		--timeout $$(( $(DURATION) + 600 + 60 * $(RACE_SCALE) )) $(VMFLAGS) -- \
		'insmod tests/mdev/vfio_test_mdev.ko; \
		 if [ "$(RACE_SCALE)" != 0 ]; then \
			build/tests/reliability/races --scale $(RACE_SCALE) || exit 1; \
		 fi; \
		 build/tests/reliability/stress --duration $(DURATION) --steps 2000'

# One VM boot runs the whole suite; the kernel build is a no-op when current.
# A kmemleak scan after the suite makes leaks fail the run too.
# Host-side tests first (they need no test kernel), then the suite in the VM,
# with two edu devices so that vfio-ownertop has two containers to sort.
check:
	$(MAKE) kernel
	$(MAKE) tests
	$(MAKE) -C tools/vfio-ownertop unit
	tests/ownertop/host.sh
	tests/vm/run --kernel $(BZIMAGE) --kmemleak --edu 2 $(VMFLAGS) -- \
		tests/run-suite

# The whole suite again on the KASAN flavour of the test kernel (built in
# its own directory; it shares the compiler cache), each test allowed more
# time, as KASAN slows the kernel down. The test programs are the same; the
# test mdev module is built for that kernel from a copy of its sources, as
# kbuild builds an external module where its sources are.
KASAN_DIR = build/kernel-kasan
MDEV_KASAN = build/mdev-kasan
check-kasan:
	$(MAKE) kernel-kasan
	$(MAKE) tests
	@mkdir -p $(MDEV_KASAN)
	cp -p tests/mdev/Kbuild tests/mdev/vfio_test_mdev.c tests/mdev/vfio_test_mdev.h $(MDEV_KASAN)/
	$(MAKE) -C $(MDEV_KASAN) -f $(abspath tests/mdev/Makefile) modules KDIR=$(abspath $(KASAN_DIR))
	VDO_MDEV_KO=$(MDEV_KASAN)/vfio_test_mdev.ko \
	VDO_TEST_TIMEOUT=$${VDO_TEST_TIMEOUT:-1500} \
	tests/vm/run --kernel $(KASAN_DIR)/arch/x86/boot/bzImage --kmemleak --edu 2 \
		--log build/vm/kasan.log --timeout 4800 $(VMFLAGS) -- tests/run-suite

# The benchmark (tests/bench/run): the patched kernel, then the base kernel,
# each booted once. A full run (about 15 min in the VMs under emulation)
# also refreshes docs/bench/, the plot and data the README shows; with
# BENCH_QUICK=1 (a few minutes) results stay in build/bench.
BENCH_QUICK ?=
BENCH_DOCS = docs/bench
bench:
	$(MAKE) kernel
	$(MAKE) kernel-base
	$(MAKE) tests
ifeq ($(BENCH_QUICK),1)
	tests/bench/run -q -o build/bench -- $(VMFLAGS)
else
	tests/bench/run -o build/bench -p $(BENCH_DOCS)/bench.png -- $(VMFLAGS)
	cp build/bench/results.csv build/bench/results.txt build/bench/raw.csv \
		build/bench/pahole.txt $(BENCH_DOCS)/
endif

clean:
	rm -rf build/tests build/vm $(MDEV_KASAN)
	$(foreach d,$(TEST_SUBDIRS),$(MAKE) -C tests/$(d) KDIR=$(abspath $(KDIR)) clean;)
