#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/tracepoints/run.sh - the vfio_type1 tracepoints, the container fdinfo
# and the bpftrace tools of tracepoints/, checked against ground truth.
#
# Runs as root in the test VM (tests/vm/run), prints TAP. Needs the helpers
# built on the host by "make tests".
#
# Ground truth comes from outside the series: a kprobe and kretprobe on
# vfio_iommu_type1_ioctl (the command, the user's map/unmap struct, the
# return value) and a kprobe on vfio_iommu_type1_release, the
# sched_process_fork/exec/exit and task_rename events (who is whose child,
# which pid execed, command names), VmLck of /proc/PID/status as the owner
# tests report it, and what the programs themselves know (pids, sizes).
# About 2.5 minutes under TCG.
#
#   1. tracefs: every vfio_type1 event of the live-update flow, of an owner
#      that execs and of a change of owner over the memlock limit, replayed
#      by check-trace.awk, and the values the flow must show (pids by role,
#      VmLck, limits)
#   2. fdinfo of a container in each state, from fdinfo_probe, and its
#      events (unmap, a handoff to a child, the owner's exit, the owner
#      unmapping its tracker)
#   3. each bpftrace tool while the live-update test runs
#   4. tp_bench runs (the cost is measured apart: timing is not asserted)
#
# VDO_TP_SHOW=1 prints each trace and tool output as "# " lines.
# Usage: tests/tracepoints/run.sh [tracefs|fdinfo|tools|bench]...
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
T=/sys/kernel/tracing
bin=build/tests/tracepoints
here=tests/tracepoints
tools=tracepoints
RLIM_INF_PAGES=4503599627370495		# RLIM_INFINITY >> PAGE_SHIFT
MiB=1048576

n=0 failed=0
echo "TAP version 13"

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
note() { sed 's/^/# /'; }

# is DESC GOT WANT
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   got '$2', want '$3'"
		return 1
	fi
}

# sum N...: their sum ("?" when one is not a number)
sum() {
	awk 'BEGIN { for (i = 1; i < ARGC; i++) { if (ARGV[i] !~ /^[0-9]+$/) { print "?"; exit } s += ARGV[i] } print s + 0 }' "$@"
}

# pg KB: kB to 4 KiB pages ("?" when KB is not a number)
pg() {
	case ${1:-x} in
	*[!0-9]*) echo "?" ;;
	*) echo $(($1 / 4)) ;;
	esac
}

# has DESC FILE REGEX [COUNT]: REGEX matches COUNT lines (default: some)
has() {
	local c
	c=$(grep -cE -- "$3" "$2")
	if [ -z "${4:-}" ] && [ "$c" -gt 0 ] || [ "$c" = "${4:-}" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   /$3/ matched $c lines of $(basename "$2")${4:+, want $4}"
	fi
}

finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit
}

bail() {
	echo "Bail out! $*"
	exit 1
}

# ---------------------------------------------------------------- set-up

[ "$(id -u)" = 0 ] || bail "must run as root (in the test VM)"
[ -d $T/events/vfio_type1 ] ||
	bail "no vfio_type1 events in $T: not the patched kernel?"
for p in owner_one owner_exec fdinfo_probe tp_bench; do
	[ -x $bin/$p ] || bail "$bin/$p missing: run make tests"
done
[ -n "${VDO_EDU_GROUPS:-}" ] || bail "no edu device (VDO_EDU_GROUPS)"

work=$(mktemp -d /tmp/tracepoints.XXXXXX)
clock=$(sed 's/.*\[\(.*\)\].*/\1/' $T/trace_clock)
trap 'tr_off; echo "$clock" > $T/trace_clock; rm -rf "$work"' EXIT

# Expected limit and lock_cap of a child of this shell, from the outside.
if [ "$(ulimit -l)" = unlimited ]; then
	limit=$RLIM_INF_PAGES
else
	limit=$(($(ulimit -l) / 4))
fi
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
lock_cap=$(( (0x$capeff >> 14) & 1 ))	# CAP_IPC_LOCK

tr_off() {
	echo 0 > $T/tracing_on
	echo 0 > $T/events/enable
	grep -q '^[pr].*vdo_tp/' $T/kprobe_events 2>/dev/null &&
		for e in ioctl ioctl_ret release; do
			echo "-:vdo_tp/$e" >> $T/kprobe_events
		done
}

# tr_on [EVENTS...]: trace vfio_type1, sched fork/exec/exit, task renames
# and the ioctl probes (or only the EVENTS given), into an empty buffer.
tr_on() {
	tr_off
	echo mono > $T/trace_clock	# as ktime_get_ns() of hold_ns
	echo 4096 > $T/buffer_size_kb
	# shellcheck disable=SC2016 # $argN and $retval are for the kernel
	{
		echo 'p:vdo_tp/ioctl vfio_iommu_type1_ioctl cmd=$arg2:x32 flags=+u4($arg3):x32 vaddr=+u8($arg3):x64 iova=+u16($arg3):x64 size=+u24($arg3):x64'
		echo 'r:vdo_tp/ioctl_ret vfio_iommu_type1_ioctl ret=$retval:s32'
		echo 'p:vdo_tp/release vfio_iommu_type1_release'
	} >> $T/kprobe_events
	echo > $T/trace
	for e in "${@:-vfio_type1 vdo_tp sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit task/task_rename}"; do
		for d in $e; do echo 1 > "$T/events/$d/enable"; done
	done
	echo 1 > $T/tracing_on
}

# tr_save NAME: stop, keep the trace and its replay as $work/NAME.*
tr_save() {
	echo 0 > $T/tracing_on
	cat $T/trace > "$work/$1.trace"
	tr_off
	awk -v limit="${2:-}" -v lock_cap="${3:-}" -f $here/check-trace.awk \
		"$work/$1.trace" > "$work/$1.checked"
	[ "${VDO_TP_SHOW:-0}" = 1 ] && grep -v '^#' "$work/$1.trace" | note
}

# replay NAME: one TAP line per check of check-trace.awk
replay() {
	local total=0 line
	while read -r line; do
		total=$((total + 1))
		case "$line" in
		NOTE*) echo "# $1 trace: ${line#NOTE }"; continue ;;
		"CHECK ok "*) ok "$1 trace: ${line#CHECK ok }" ;;
		*) not_ok "$1 trace: ${line#CHECK fail }" ;;
		esac
	done < <(grep -E '^(CHECK|NOTE) ' "$work/$1.checked")
	[ $total -gt 0 ] || not_ok "$1 trace: no events checked"
}

# ev NAME EVENT NTH KEY: a field of the NTH (1-based) EVENT in the replay
ev() {
	awk -v e="$2" -v nth="$3" -v key="$4" '
		$1 == "EV" && $2 == e && ++i == nth {
			for (f = 4; f <= NF; f++)
				if (index($f, key "=") == 1) {
					print substr($f, length(key) + 2)
					exit
				}
		}' "$work/$1.checked"
}
evcount() { grep -c "^EV $2 " "$work/$1.checked"; }
# children NAME PID: the pids PID forked, in order
children() { awk -v p="$2" '$1 == "FORK" && $2 == p { print $3 }' "$work/$1.checked"; }
# rep FILE KEY: a value the owner test reported ("...:KEY VALUE")
rep() { sed -n "s/.*:$2 \(-\{0,1\}[0-9][0-9]*\)\$/\1/p" "$1" | head -n 1; }

# owner_one NAME TEST...: run owner tests, pid in $main, status checked
owner_one() {
	local name=$1
	shift
	$bin/owner_one "$@" > "$work/$name.out" 2>&1 &
	main=$!
	wait $main
	is "$name: owner test $* passes while traced" "$?" 0 ||
		note < "$work/$name.out"
}

# ------------------------------------------------------ 1. tracefs events

tracefs_live_update() {
	local t p c k=live
	tr_on
	owner_one $k global.live_update_fork_exec
	tr_save $k "$limit" "$lock_cap"
	replay $k

	# The roles, from sched_process_fork: main -> test -> parent -> child
	t=$(children $k "$main" | head -n 1)
	p=$(children $k "$t" | head -n 1)
	c=$(children $k "$p" | head -n 1)
	if [ -n "$p" ] && [ -n "$c" ]; then
		ok "$k: parent $p and child $c found by their forks"
	else
		not_ok "$k: parent and child found by their forks (test '$t')"
	fi
	is "$k: the parent execs owner_exec, keeping its pid" \
		"$(awk -v p="$p" '$1 == "EXEC" && $2 == p { print $3 }' "$work/$k.checked")" \
		owner_exec

	is "$k: 3 map events" "$(evcount $k map)" 3
	is "$k: 1st map by the parent, 1 MiB, 256 pages" \
		"$(ev $k map 1 tgid) $(ev $k map 1 size) $(ev $k map 1 pages) $(ev $k map 1 ret)" \
		"$p 0x100000 256 0"
	is "$k: 2nd map by the parent, 2 MiB, 512 pages" \
		"$(ev $k map 2 tgid) $(ev $k map 2 size) $(ev $k map 2 pages) $(ev $k map 2 ret)" \
		"$p 0x200000 512 0"
	is "$k: VmLck of the parent is the pages of its two maps" \
		"$(pg "$(rep "$work/$k.out" parent.vmlck_mapped)")" \
		"$(sum "$(ev $k map 1 pages)" "$(ev $k map 2 pages)")"

	is "$k: 1 pin_denied" "$(evcount $k pin_denied)" 1
	is "$k: the parent's map after handing off is denied: child owns" \
		"$(ev $k pin_denied 1 tgid) $(ev $k pin_denied 1 owner) $(ev $k pin_denied 1 op) $(ev $k pin_denied 1 ret)" \
		"$p $c map -1"
	is "$k: ... and the test saw EPERM too" \
		"$(rep "$work/$k.out" parent.map_after_handoff)" -1
	is "$k: ... and its map event failed with it" \
		"$(ev $k map 3 tgid) $(ev $k map 3 owner) $(ev $k map 3 nr) $(ev $k map 3 ret)" \
		"$p $c 0 -1"

	is "$k: 2 change_owner events" "$(evcount $k change_owner)" 2
	is "$k: 1st handoff: parent -> child, 2 dmas, 3 MiB, 768 pages" \
		"$(ev $k change_owner 1 old_comm)[$(ev $k change_owner 1 old_tgid)] -> $(ev $k change_owner 1 new_comm)[$(ev $k change_owner 1 new_tgid)] $(ev $k change_owner 1 dmas) $(ev $k change_owner 1 bytes) $(ev $k change_owner 1 pages) $(ev $k change_owner 1 ret)" \
		"owner_one[$p] -> owner_one[$c] 2 $((3 * MiB)) 768 0"
	is "$k: 2nd handoff: child -> new image, same pid as the 1st's old" \
		"$(ev $k change_owner 2 old_comm)[$(ev $k change_owner 2 old_tgid)] -> $(ev $k change_owner 2 new_comm)[$(ev $k change_owner 2 new_tgid)] $(ev $k change_owner 2 dmas) $(ev $k change_owner 2 bytes) $(ev $k change_owner 2 pages) $(ev $k change_owner 2 ret)" \
		"owner_one[$c] -> owner_exec[$p] 2 $((3 * MiB)) 768 0"
	is "$k: the 2nd handoff's new tgid is the 1st's old tgid" \
		"$(ev $k change_owner 2 new_tgid)" "$(ev $k change_owner 1 old_tgid)"

	is "$k: 2 locked_vm_move events" "$(evcount $k locked_vm_move)" 2
	is "$k: 1st move: locked_vm after = VmLck of parent and child" \
		"$(ev $k locked_vm_move 1 old_tgid):$(ev $k locked_vm_move 1 old_locked_vm) -> $(ev $k locked_vm_move 1 new_tgid):$(ev $k locked_vm_move 1 new_locked_vm) $(ev $k locked_vm_move 1 pages)" \
		"$p:$(pg "$(rep "$work/$k.out" child.parent_vmlck)") -> $c:$(pg "$(rep "$work/$k.out" child.vmlck)") 768"
	is "$k: 2nd move: locked_vm after = VmLck of child and new image" \
		"$(ev $k locked_vm_move 2 old_tgid):$(ev $k locked_vm_move 2 old_locked_vm) -> $(ev $k locked_vm_move 2 new_tgid):$(ev $k locked_vm_move 2 new_locked_vm) $(ev $k locked_vm_move 2 pages)" \
		"$c:$(pg "$(rep "$work/$k.out" exec.child_vmlck_after)") -> $p:$(pg "$(rep "$work/$k.out" exec.vmlck_after)") 768"
	is "$k: limit is RLIMIT_MEMLOCK in pages, lock_cap is CAP_IPC_LOCK" \
		"$(ev $k locked_vm_move 1 limit) $(ev $k locked_vm_move 1 lock_cap)" \
		"$limit $lock_cap"

	is "$k: 2 stage_vaddr events" "$(evcount $k stage_vaddr)" 2
	is "$k: the new image staged 1 of 2, then 2 of 2" \
		"$(ev $k stage_vaddr 1 tgid) $(ev $k stage_vaddr 1 staged)/$(ev $k stage_vaddr 1 nr_dmas) $(ev $k stage_vaddr 2 tgid) $(ev $k stage_vaddr 2 staged)/$(ev $k stage_vaddr 2 nr_dmas)" \
		"$p 1/2 $p 2/2"
	is "$k: ... as many as the test staged successfully" \
		"$(grep -c ':exec.stage 0$' "$work/$k.out")" 2
	is "$k: staged vaddrs replace the parent's" \
		"$(ev $k stage_vaddr 1 old_vaddr) $(ev $k stage_vaddr 2 old_vaddr)" \
		"$(ev $k map 1 vaddr) $(ev $k map 2 vaddr)"

	is "$k: 1 owner_close: the new image's exit, 2 dmas, VmLck pages" \
		"$(evcount $k owner_close) $(ev $k owner_close 1 owner) $(ev $k owner_close 1 reason) $(ev $k owner_close 1 dmas) $(ev $k owner_close 1 pages)" \
		"1 $p exit 2 $(pg "$(rep "$work/$k.out" exec.vmlck_end)")"
	is "$k: no unmap events (nobody called VFIO_IOMMU_UNMAP_DMA)" \
		"$(evcount $k unmap)" 0
	is "$k: one container, as named by every event" \
		"$(awk '$1 == "EV" { for (f = 4; f <= NF; f++) if ($f ~ /^iommu=/) print $f }' "$work/$k.checked" | sort -u | wc -l)" 1
}

tracefs_owner_exec() {
	local k=exec x
	tr_on
	owner_one $k own.owner_exec_unmaps
	tr_save $k
	replay $k
	x=$(awk '$1 == "EXEC" && $3 == "sleep" { print $2 }' "$work/$k.checked")
	is "$k: owner_close of the owner that execed sleep, reason exec" \
		"$(evcount $k owner_close) $(ev $k owner_close 1 owner) $(ev $k owner_close 1 reason)" \
		"1 $x exec"
}

tracefs_memlock() {
	local k=memlock t g
	tr_on
	owner_one $k own.change_fails_over_the_memlock_limit
	tr_save $k
	replay $k
	t=$(children $k "$main" | head -n 1)
	g=$(children $k "$t" | head -n 1)
	# The child lowers RLIMIT_MEMLOCK to 512 KiB and drops CAP_IPC_LOCK.
	is "$k: failed move: nothing moved, limit 128 pages, no lock_cap" \
		"$(ev $k locked_vm_move 1 old_tgid):$(ev $k locked_vm_move 1 old_locked_vm) -> $(ev $k locked_vm_move 1 new_tgid):$(ev $k locked_vm_move 1 new_locked_vm) $(ev $k locked_vm_move 1 pages) $(ev $k locked_vm_move 1 limit) $(ev $k locked_vm_move 1 lock_cap) $(ev $k locked_vm_move 1 ret)" \
		"$t:256 -> $g:0 256 128 0 -12"
	is "$k: change_owner fails with ENOMEM, owner unchanged" \
		"$(ev $k change_owner 1 old_tgid) $(ev $k change_owner 1 new_tgid) $(ev $k change_owner 1 dmas) $(ev $k change_owner 1 bytes) $(ev $k change_owner 1 ret)" \
		"$t $g 1 $MiB -12"
}

# ------------------------------------------------------------ 2. fdinfo

fdinfo() {
	local k=fdinfo out=$work/fdinfo.out id pid child s
	tr_on
	$bin/fdinfo_probe > "$out" 2> "$work/fdinfo.err"
	is "fdinfo: fdinfo_probe runs" "$?" 0 || note < "$work/fdinfo.err"
	tr_save $k
	replay $k
	[ "${VDO_TP_SHOW:-0}" = 1 ] && note < "$out"

	# fd STAGE KEY / truth STAGE KEY
	fd() { awk -v s="$1" -v k="$2" '$1 == s && $2 == "fd" && $3 == k { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; f = 1 } END { if (!f) print "(absent)" }' "$out"; }
	truth() { awk -v s="$1" -v k="$2" '$1 == s && $2 == "truth" && $3 == k { print $4 }' "$out"; }

	pid=$(truth mapped pid)
	child=$(truth child pid)
	id=$(ev $k map 1 iommu)
	is "fdinfo: the probe's map events are its own" "$(ev $k map 1 tgid)" "$pid"

	is "fdinfo attached: no IOMMU driver yet" \
		"$(fd attached vfio-iommu)|$(fd attached iommu_id)" "none|(absent)"
	for s in empty mapped staged unmapped child exited remapped untracked; do
		is "fdinfo $s: type1, iommu_id = iommu of the events" \
			"$(fd $s vfio-iommu) $(fd $s iommu_id)" "vfio-iommu-type1 $id"
		is "fdinfo $s: extensions" "$(fd $s extensions)" "type1v2 dma_owner"
	done
	s=empty
	is "fdinfo $s: no owner, no mappings, no tracker" \
		"$(fd $s owner_tgid)|$(fd $s owner_comm)|$(fd $s mappings)|$(fd $s bytes_mapped)|$(fd $s locked_pages)|$(fd $s staged_vaddrs)|$(fd $s owner_tracker)" \
		"0||0|0|0|0|none"
	s=mapped
	is "fdinfo $s: the probe owns 2 mappings, 3 MiB, VmLck pages" \
		"$(fd $s owner_tgid)|$(fd $s owner_comm)|$(fd $s mappings)|$(fd $s bytes_mapped)|$(fd $s locked_pages)|$(fd $s staged_vaddrs)|$(fd $s owner_tracker)" \
		"$pid|fdinfo_probe|$(truth $s mappings)|$(truth $s bytes)|$(pg "$(truth $s vmlck_kb)")|0|armed"
	is "fdinfo $s: one tracker vma in the owner" "$(truth $s trackers)" 1
	s=staged
	is "fdinfo $s: one staged vaddr, nothing else changed" \
		"$(fd $s owner_tgid)|$(fd $s mappings)|$(fd $s locked_pages)|$(fd $s staged_vaddrs)" \
		"$pid|2|$(pg "$(truth $s vmlck_kb)")|$(truth $s staged)"
	s=unmapped
	is "fdinfo $s: unmapping dropped the mapping and its staged vaddr" \
		"$(fd $s owner_tgid)|$(fd $s mappings)|$(fd $s bytes_mapped)|$(fd $s locked_pages)|$(fd $s staged_vaddrs)" \
		"$pid|$(truth $s mappings)|$(truth $s bytes)|$(pg "$(truth $s vmlck_kb)")|0"
	s=child
	is "fdinfo $s: the child owns it, charged its VmLck, parent none" \
		"$(fd $s owner_tgid)|$(fd $s owner_comm)|$(fd $s mappings)|$(fd $s locked_pages)|$(fd $s owner_tracker)|$(truth $s parent_vmlck_kb)" \
		"$child|fdinfo_child|1|$(pg "$(truth $s child_vmlck_kb)")|armed|0"
	s=exited
	is "fdinfo $s: the owner's exit unmapped all, no owner left" \
		"$(fd $s owner_tgid)|$(fd $s owner_comm)|$(fd $s mappings)|$(fd $s bytes_mapped)|$(fd $s locked_pages)|$(fd $s staged_vaddrs)|$(fd $s owner_tracker)|$(truth $s vmlck_kb)" \
		"0||0|0|0|0|none|0"

	s=remapped
	is "fdinfo $s: the probe owns again, with its old tracker re-armed" \
		"$(fd $s owner_tgid)|$(fd $s owner_comm)|$(fd $s mappings)|$(fd $s bytes_mapped)|$(fd $s locked_pages)|$(fd $s owner_tracker)|$(truth $s trackers)" \
		"$pid|fdinfo_probe|1|$MiB|$(pg "$(truth $s vmlck_kb)")|armed|1"
	s=untracked
	is "fdinfo $s: unmapping the tracker unmapped all" \
		"$(fd $s owner_tgid)|$(fd $s mappings)|$(fd $s locked_pages)|$(fd $s owner_tracker)|$(truth $s vmlck_kb)|$(truth $s trackers)" \
		"0|0|0|none|0|0"

	is "fdinfo trace: unmap of 1 MiB at 0x100000 by the owner" \
		"$(ev $k unmap 1 tgid) $(ev $k unmap 1 owner) $(ev $k unmap 1 iova) $(ev $k unmap 1 size) $(ev $k unmap 1 pages) $(ev $k unmap 1 nr) $(ev $k unmap 1 ret)" \
		"$pid $pid 0x100000 0x100000 256 1 0"
	is "fdinfo trace: handoff to the named child" \
		"$(ev $k change_owner 1 old_comm)[$(ev $k change_owner 1 old_tgid)] -> $(ev $k change_owner 1 new_comm)[$(ev $k change_owner 1 new_tgid)] $(ev $k change_owner 1 dmas) $(ev $k change_owner 1 bytes) $(ev $k change_owner 1 pages)" \
		"fdinfo_probe[$pid] -> fdinfo_child[$child] 1 $((2 * MiB)) 512"
	is "fdinfo trace: the child's exit closed its ownership" \
		"$(ev $k owner_close 1 owner) $(ev $k owner_close 1 reason) $(ev $k owner_close 1 dmas) $(ev $k owner_close 1 pages)" \
		"$child exit 1 512"
	is "fdinfo trace: unmapping the tracker closed the probe's" \
		"$(evcount $k owner_close) $(ev $k owner_close 2 owner) $(ev $k owner_close 2 reason) $(ev $k owner_close 2 dmas) $(ev $k owner_close 2 pages)" \
		"2 $pid munmap 1 256"
}

# ------------------------------------------------------- 3. bpftrace tools

# tool NAME TEST...: run tracepoints/vfio-NAME.bt around owner tests;
# output in $work/NAME.bt.out, fork/exec events in $work/NAME.checked.
tool() {
	local name=$1 out=$work/$1.bt.out bp i
	shift
	bpftrace "$tools/vfio-$name.bt" > "$out" 2>&1 &
	bp=$!
	# "Attaching N probes..." comes before the probes are attached; BEGIN,
	# which prints the column headers, runs once they all are.
	for i in $(seq 600); do
		grep -q '^TIME(ms) ' "$out" && break
		kill -0 $bp 2>/dev/null || break
		sleep 0.2
	done
	if ! grep -q '^TIME(ms) ' "$out"; then
		not_ok "$name: bpftrace attached"
		note < "$out"
		kill -KILL $bp 2>/dev/null
		wait $bp 2>/dev/null
		return 1
	fi
	ok "$name: bpftrace attached"
	tr_on "sched/sched_process_fork sched/sched_process_exec"
	i=0
	for t in "$@"; do
		i=$((i + 1))
		owner_one "$name.$i" "$t"
		mains+=("$main")
	done
	tr_save "$name"
	kill -INT $bp
	for i in $(seq 300); do
		kill -0 $bp 2>/dev/null || break
		sleep 0.2
	done
	kill -0 $bp 2>/dev/null && kill -KILL $bp
	wait $bp
	is "$name: bpftrace exits on SIGINT" "$?" 0
	[ "${VDO_TP_SHOW:-0}" = 1 ] && note < "$out"
	return 0
}

# roles NAME: $p $c of the live-update test, the first run by tool NAME
# (mains: the pids of owner_one, one per test, set by tool)
roles() {
	local t
	t=$(children "$1" "${mains[0]}" | head -n 1)
	p=$(children "$1" "$t" | head -n 1)
	c=$(children "$1" "$p" | head -n 1)
}

tool_handoff() {
	local o=$work/handoff.bt.out mains=()
	tool handoff global.live_update_fork_exec \
		own.change_fails_over_the_memlock_limit || return
	roles handoff
	has "handoff: column headers" "$o" '^TIME\(ms\) +IOMMU +PID +COMM +EVENT +DETAILS$' 1
	has "handoff: parent -> child, 2 dmas, 3 MiB, 768 pages" "$o" \
		"^ *[0-9]+\.[0-9]{3} [0-9]+ +$c +owner_one +HANDOFF +owner_one\[$p\] -> owner_one\[$c\]: dmas=2 bytes=3145728 pages=768, lock held [0-9]+\.[0-9]{3} ms$" 1
	has "handoff: child -> new image (same pid as the parent)" "$o" \
		"^ *[0-9]+\.[0-9]{3} [0-9]+ +$p +owner_exec +HANDOFF +owner_one\[$c\] -> owner_exec\[$p\]: dmas=2 bytes=3145728 pages=768, lock held [0-9]+\.[0-9]{3} ms$" 1
	has "handoff: exactly two handoffs succeed" "$o" ' HANDOFF .*ms$' 2
	has "handoff: the denied pin is marked, with the owner" "$o" \
		" $p +owner_one +!! DENIED +tgid $p may not pin \(map\): owner is $c, error -1 EPERM$" 1
	has "handoff: staging progress 1 of 2, 2 of 2" "$o" \
		" $p +owner_exec +stage .*: [12] of 2 staged$" 2
	has "handoff: the new image's exit unmapped everything" "$o" \
		" CLOSE +owner $p exited: unmapped 2 mappings, -768 pages$" 1
	has "handoff: a failed handoff is marked with its errno" "$o" \
		' !! HANDOFF .*dmas=1 bytes=1048576 pages=256, lock held [0-9.]+ ms: error -12 ENOMEM, nothing changed$' 1
	has "handoff: the failed move shows the limit" "$o" \
		' !! lockedvm +256 pages [0-9]+ -> [0-9]+: locked_vm [0-9]+:256 [0-9]+:0, limit 128, cap_ipc_lock 0: error -12 ENOMEM$' 1
	is "handoff: lines in time order" \
		"$(awk '$1 ~ /^[0-9]+\.[0-9]+$/ { if ($1 + 0 < last) bad++; last = $1 + 0 } END { print bad + 0 }' "$o")" 0
}

tool_lockedvm() {
	local o=$work/lockedvm.bt.out mains=() vm=$work/lockedvm.1.out
	tool lockedvm global.live_update_fork_exec || return
	roles lockedvm
	has "lockedvm: column headers" "$o" \
		'^TIME\(ms\) +TGID +COMM +DELTA +TOTAL +MM_LOCKED +IOMMU +WHY$' 1
	has "lockedvm: the parent's maps: +256 then +512, total 768" "$o" \
		" $p +owner_one +\+(256 +256|512 +768) +- .* map iova " 2
	has "lockedvm: 1st handoff moves 768 out of the parent" "$o" \
		" $p +owner_one +-768 +0 +$(pg "$(rep "$vm" child.parent_vmlck)") .* move-out to $c$" 1
	has "lockedvm: ... into the child, whose mm then has VmLck" "$o" \
		" $c +owner_one +\+768 +768 +$(pg "$(rep "$vm" child.vmlck)") .* move-in from $p$" 1
	has "lockedvm: 2nd handoff moves it out of the child" "$o" \
		" $c +owner_one +-768 +0 +$(pg "$(rep "$vm" exec.child_vmlck_after)") .* move-out to $p$" 1
	has "lockedvm: ... into the new image" "$o" \
		" $p +owner_exec +\+768 +768 +$(pg "$(rep "$vm" exec.vmlck_after)") .* move-in from $c$" 1
	has "lockedvm: the new image's exit drops it" "$o" \
		" $p +owner_exec +-768 +0 +- .* close:exit$" 1
	has "lockedvm: final total of the parent/new image is 0" "$o" \
		"^@locked_pages\[$p\]: 0$" 1
	has "lockedvm: final total of the child is 0" "$o" \
		"^@locked_pages\[$c\]: 0$" 1
	has "lockedvm: no other tgid in the totals" "$o" '^@locked_pages\[' 2
}

tool_staging() {
	local o=$work/staging.bt.out mains=()
	tool staging global.live_update_fork_exec || return
	roles staging
	has "staging: column headers" "$o" '^TIME\(ms\) +PID +COMM +PROGRESS$' 1
	has "staging: the child's takeover commits nothing staged" "$o" \
		" $c +owner_one +iommu [0-9]+: change of owner owner_one\[$p\] -> owner_one\[$c\] committed 0 staged of 2 mappings$" 1
	has "staging: staged 1 of 2" "$o" " $p +owner_exec +iommu [0-9]+: staged 1 of 2 " 1
	has "staging: staged 2 of 2" "$o" " $p +owner_exec +iommu [0-9]+: staged 2 of 2 " 1
	has "staging: the new image's change of owner commits 2 of 2" "$o" \
		" $p +owner_exec +iommu [0-9]+: change of owner owner_one\[$c\] -> owner_exec\[$p\] committed 2 staged of 2 mappings$" 1
	is "staging: in that order" \
		"$(grep -oE 'staged [12] of 2|committed [0-9] staged' "$o" | tr '\n' ,)" \
		"committed 0 staged,staged 1 of 2,staged 2 of 2,committed 2 staged,"
}

tool_alerts() {
	local o=$work/alerts.bt.out mains=() t g
	tool alerts global.live_update_fork_exec \
		own.change_fails_over_the_memlock_limit || return
	roles alerts
	t=$(children alerts "${mains[1]}" | head -n 1)
	g=$(children alerts "$t" | head -n 1)
	has "alerts: column headers" "$o" '^TIME\(ms\) +IOMMU +ALERT +DETAILS$' 1
	has "alerts: the parent's pin after handing off, owner named" "$o" \
		" DENIED_PIN +tgid $p \(owner_one\) tried to pin by map; owner is $c \(owner_one\): error -1 EPERM$" 1
	has "alerts: the new image's exit unmapped everything" "$o" \
		" OWNER_CLOSE +owner $p \(owner_exec\) reason exit: unmapped 2 mappings, 768 pages$" 1
	has "alerts: the change of owner over the memlock limit" "$o" \
		" CHANGE_FAIL +owner_one\[$t\] -> owner_one\[$g\]: error -12 ENOMEM; 1 mappings, 1048576 bytes stay with $t$" 1
	has "alerts: ... and its locked_vm move, with the limit" "$o" \
		" LOCKEDVM_FAIL 256 pages $t -> $g: error -12 ENOMEM; $g has locked_vm 0, limit 128, cap_ipc_lock 0$" 1
	has "alerts: no other alerts" "$o" '^ *[0-9]+\.[0-9]{3} ' 4
	has "alerts: counted at the end" "$o" '^@alerts\[(DENIED_PIN|OWNER_CLOSE|CHANGE_FAIL|LOCKEDVM_FAIL)\]: 1$' 4
}

# --------------------------------------------------------------- 4. bench

bench() {
	$bin/tp_bench -n 20 -r 2 > "$work/bench.out" 2>&1
	is "bench: tp_bench runs" "$?" 0
	has "bench: prints both ratios" "$work/bench.out" '^(map\+unmap|change) +[0-9]+ +[0-9]+ +[0-9.]+$' 2
	is "bench: leaves the events disabled" "$(cat $T/events/vfio_type1/enable)" 0
	note < "$work/bench.out"
}

parts=${*:-tracefs fdinfo tools bench}
for part in $parts; do
	case $part in
	tracefs) tracefs_live_update; tracefs_owner_exec
		 tracefs_memlock ;;
	fdinfo) fdinfo ;;
	tools) tool_handoff; tool_lockedvm; tool_staging; tool_alerts ;;
	bench) bench ;;
	*) bail "unknown part '$part'" ;;
	esac
done
finish
