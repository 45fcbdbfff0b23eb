#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tests/liveupdate/demo.sh - the live-update demonstration, run in the test
# VM by "make demo": build/tests/liveupdate/vmm live-updates itself while
# its edu device keeps doing verified DMA, and the vfio_type1 tracepoints
# show every hand-off of the DMA mappings as it happens.
#
# Usage (in the VM): tests/liveupdate/demo.sh [vmm options]
#   e.g. -u 5 -m 8 -s 4: 5 updates, 8 mappings of 4 MiB (see vmm --help)
set -u

tracing=/sys/kernel/tracing
events=$tracing/events/vfio_type1
watch_pid=

if [ -d "$events" ]; then
	echo 0 > "$tracing/tracing_on"
	echo > "$tracing/trace"
	echo 1 > "$events/vfio_type1_change_owner/enable"
	echo 1 > "$events/vfio_type1_locked_vm_move/enable"
	echo 1 > "$events/vfio_type1_owner_close/enable"
	echo 1 > "$events/vfio_type1_pin_denied/enable"
	echo 1 > "$tracing/tracing_on"
	# Each hand-off as the kernel reports it, next to the VMM's own lines.
	sed -u -n 's/^ *\([^ ]*\) .*: \(vfio_type1_[a-z_]*\): /  kernel: \2: /p' \
		"$tracing/trace_pipe" &
	watch_pid=$!
else
	echo "demo: no vfio_type1 tracepoints in this kernel" >&2
fi

# vfio-ownertop beside it, in batch mode: the containers' state each second.
ot=build/ownertop/vfio-ownertop
ot_pid=
if [ -x "$ot" ]; then
	out=/run/demo-ownertop.out
	"$ot" -b -d 1 > "$out" 2>&1 &
	ot_pid=$!
	# Attaching the BPF programs takes a few seconds under emulation.
	i=0
	while [ $i -lt 300 ] && ! grep -q . "$out" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	tail -f "$out" 2>/dev/null | sed -u 's/^/  ownertop| /' &
	tail_pid=$!
fi

build/tests/liveupdate/vmm "$@"
rc=$?
sleep 2
[ -z "$ot_pid" ] || { kill -INT "$ot_pid"; wait "$ot_pid"; kill "$tail_pid"; }
[ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null
[ ! -d "$events" ] || echo 0 > "$events/enable"
exit $rc
