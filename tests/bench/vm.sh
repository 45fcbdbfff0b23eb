#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/vm.sh - run the benchmark in the test VM: load the test mdev
# driver when the kernel is the patched one (it is built for that kernel),
# then run build/tests/bench/bench with the arguments given.
#
# Usage (on the host; "make bench" does it for both kernels):
#   tests/vm/run --edu 2 --mem 3G -- tests/bench/vm.sh [-q] [SECTION...]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

if [ -d /sys/kernel/tracing/events/vfio_type1 ] &&
   ! grep -q '^vfio_test_mdev ' /proc/modules; then
	insmod tests/mdev/vfio_test_mdev.ko ||
		echo "# vm.sh: cannot load tests/mdev/vfio_test_mdev.ko" >&2
fi
exec build/tests/bench/bench "$@"
