#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tests/ownertop/vm.sh - vfio-ownertop on the patched kernel, in the VM.
#
# Usage (on the host): make -C tools/vfio-ownertop vmtest
#    or: tests/vm/run --edu 2 --log build/ownertop/console.log -- \
#                     sh tests/ownertop/vm.sh
#
# Needs, built on the host: build/ownertop/vfio-ownertop and
# build/ownertop/tests/ot_hold (make -C tools/vfio-ownertop test-progs),
# build/tests/owner/owner_test and owner_exec (make tests).  Runs as root in
# the VM, where the tracepoints exist; prints TAP.  The interactive tests
# need tmux and two edu devices (--edu 2); with one they are skipped.
#
# Ground truth comes from what the tests set up, not from the tool: the
# live-update test maps 1 MiB + 2 MiB (3145728 bytes, 768 pages) in a
# parent, hands them to a child, then to the parent's exec'd image
# (owner_exec); ot_hold maps sizes given on its command line.

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

OT=build/ownertop/vfio-ownertop
HOLD=build/ownertop/tests/ot_hold
OWNER_TEST=build/tests/owner/owner_test
W=$(mktemp -d /tmp/ownertop.XXXXXX) || exit 1
set -- ${VDO_EDU_GROUPS:-}
G1=${1:-}
G2=${2:-}

n=0
failed=0
holds=""

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# check DESCRIPTION CMD...: one test, passing when CMD succeeds.
check() {
	desc=$1
	shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

diag() {
	sed 's/^/# /' "$@"
}

# wait_for FILE REGEX SECONDS: until FILE has a line matching REGEX.
wait_for() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# hold NAME GROUP SIZE_KB...: start ot_hold, wait until it has mapped;
# its pid is in $W/NAME.pid.
hold() {
	name=$1
	shift
	"$HOLD" "$@" > "$W/$name.out" 2>&1 &
	echo $! > "$W/$name.pid"
	holds="$holds $!"
	wait_for "$W/$name.out" '^ready' 30
}

stop_holds() {
	for p in $holds; do kill "$p" 2>/dev/null; done
	for p in $holds; do wait "$p" 2>/dev/null; done
	holds=""
}

# Each tmux session gets a server of its own: a server that is still
# shutting down must not take the next session with it.
have_tmux=0
command -v tmux > /dev/null && have_tmux=1
tmux_sock=ot-keys
tmux() { command tmux -L "$tmux_sock" "$@"; }

cleanup() {
	command tmux -L ot-keys kill-server 2>/dev/null
	command tmux -L ot-colour kill-server 2>/dev/null
	stop_holds
}
trap cleanup EXIT

echo "TAP version 13"

for f in "$OT" "$HOLD" "$OWNER_TEST" build/tests/owner/owner_exec; do
	if [ ! -x "$f" ]; then
		echo "Bail out! $f is not built (see the header of $0)"
		exit 1
	fi
done
[ -n "$G1" ] || { echo "Bail out! no edu device bound to vfio-pci"; exit 1; }

# --- The command line -------------------------------------------------------

"$OT" -d abc > "$W/usage.out" 2>&1
check "a bad number is a usage error: exit 2" [ $? -eq 2 ]
"$OT" --help > "$W/help.out" 2>&1
check "--help shows EXAMPLES" grep -q '^EXAMPLES:' "$W/help.out"
"$OT" -b -n 1 > "$W/once.out" 2>&1
rc=$?
check "-b -n 1 prints one report and exits 0" \
	[ $rc -eq 0 -a "$(grep -c '^vfio-ownertop - ' "$W/once.out")" -eq 1 ]
grep -q 'events via tp_btf' "$W/once.out"
check "the tp_btf programs are the ones loaded" [ $? -eq 0 ]

# --- JSON while the live update runs ----------------------------------------

"$OT" -b --json -d 0.5 > "$W/top.json" 2> "$W/top.err" &
top_pid=$!
wait_for "$W/top.json" '^\{' 30
check "--json: the first interval comes at once" [ $? -eq 0 ]
"$OWNER_TEST" -r global.live_update_fork_exec > "$W/owner.log" 2>&1
owner_rc=$?
check "the live-update test passes under the tool" [ $owner_rc -eq 0 ]
[ $owner_rc -eq 0 ] || diag "$W/owner.log"
sleep 1.5
kill -INT $top_pid
wait $top_pid
check "--json: SIGINT ends it with exit 0" [ $? -eq 0 ]
[ -s "$W/top.err" ] && diag "$W/top.err"

J="$W/top.json"
jq -es 'length > 2 and all(.version == 1)' "$J" > /dev/null
check "--json: every line is a JSON object of schema version 1" [ $? -eq 0 ]
jq -es '[.[].seq] as $s | $s == [range(1; ($s | length) + 1)]' "$J" \
	> /dev/null
check "--json: intervals are numbered 1, 2, 3, ..." [ $? -eq 0 ]
jq -es 'all(.events_missed == 0 and .totals.lost_events == 0)' "$J" > /dev/null
check "--json: no event lost or missed" [ $? -eq 0 ]

# The hand-back to the exec'd image names everything else.
e2=$(jq -cs '[.[].events[] | select(.kind == "change_owner" and .ret == 0
	and .new_comm == "owner_exec" and .nr_dmas == 2)] | first // empty' "$J")
P=$(echo "$e2" | jq -r '.new_tgid // empty')
C=$(echo "$e2" | jq -r '.old_tgid // empty')
ID=$(echo "$e2" | jq -r '.iommu_id // empty')
check "--json: the change of owner to the exec'd image (owner_exec) is there" \
	[ -n "$P" -a -n "$C" -a -n "$ID" ]
P=${P:-0} C=${C:-0} ID=${ID:-0}
echo "# live update: container $ID, parent/exec'd image $P, child $C"

q() {
	jq -es --argjson id "$ID" --argjson p "$P" --argjson c "$C" "$1" "$J" \
		> /dev/null
}
q '[.[].events[] | select(.iommu_id == $id and .kind == "map"
	and .ret == 0)] as $m
   | ($m | length) == 2 and all($m[]; .tgid == $p and .owner_tgid == $p)
   and ($m | map(.size) | add) == 3145728 and ($m | map(.pages) | add) == 768'
check "--json: the parent mapped 3145728 bytes, 768 pages, as owner" [ $? -eq 0 ]
q '[.[].events[] | select(.iommu_id == $id and .kind == "change_owner"
	and .ret == 0)] as $h
   | ($h | length) == 2
   and $h[0].old_tgid == $p and $h[0].new_tgid == $c
   and $h[1].old_tgid == $c and $h[1].new_tgid == $p
   and $h[1].new_comm == "owner_exec" and $h[0].seq < $h[1].seq
   and all($h[]; .bytes == 3145728 and .pages == 768)'
check "--json: owner parent -> child -> exec'd image, 768 pages each time" \
	[ $? -eq 0 ]
q '[.[].events[] | select(.iommu_id == $id and .kind == "locked_vm_move"
	and .ret == 0)] as $v
   | ($v | length) == 2 and all($v[]; .pages == 768 and .new_locked_vm == 768
	and .old_locked_vm == 0)'
check "--json: locked_vm moved whole: 768 pages to the new mm, 0 left" \
	[ $? -eq 0 ]
q '[.[].events[] | select(.iommu_id == $id and .kind == "pin_denied")] as $d
   | ($d | length) == 1 and $d[0].tgid == $p and $d[0].owner_tgid == $c'
check "--json: the parent's map after the hand-off was denied" [ $? -eq 0 ]
q '[.[].events[] | select(.iommu_id == $id and .kind == "owner_close")] as $x
   | ($x | length) == 1 and $x[0].owner_tgid == $p and $x[0].pages == 768
   and $x[0].reason == "exit"'
check "--json: the exec'd image's exit released the 768 pages" [ $? -eq 0 ]
q '[.[].containers[] | select(.iommu_id == $id and .mappings > 0)] as $s
   | ($s | map(select(.mappings == 2)) | length) > 0
   and all($s[]; .owner_tgid == $p or .owner_tgid == $c)
   and all($s[] | select(.mappings == 2);
	.bytes_mapped == 3145728 and .locked_pages == 768)
   and all($s[] | select(.mappings == 1);
	.bytes_mapped == 1048576 and .locked_pages == 256)'
check "--json: intervals show the container at 3145728 bytes, 768 pages" \
	[ $? -eq 0 ]
q '[.[].containers[] | select(.iommu_id == $id and .mappings > 0)
	| .owner_tgid]
   | reduce .[] as $o ([]; if length > 0 and .[-1] == $o then . else
	. + [$o] end)
   | tostring as $t
   | [[$p], [$c], [$p, $c], [$c, $p], [$p, $c, $p]] | map(tostring)
   | index($t) != null'
check "--json: owners seen in intervals follow parent, child, exec'd image" \
	[ $? -eq 0 ]
q 'last.containers | map(select(.iommu_id == $id)) | length == 0'
check "--json: the container is gone once the test is" [ $? -eq 0 ]

# --- check --follow on the live update --------------------------------------

"$OT" check --follow "$OWNER_TEST" -r global.live_update_fork_exec \
	> "$W/check.out" 2>&1
rc=$?
check "check --follow live_update_fork_exec: exit 0" [ $rc -eq 0 ]
grep -q '^vfio-ownertop: check: pass: ' "$W/check.out"
check "check --follow: says pass" [ $? -eq 0 ]
grep -Eq '^vfio-ownertop: check: pinned pages (-?[0-9]+) before the command, \1 after$' \
	"$W/check.out"
check "check --follow: the pins are back where they started" [ $? -eq 0 ]
[ $rc -eq 0 ] || grep '^vfio-ownertop' "$W/check.out" | diag

# --- An owner with known numbers: batch, JSON, Prometheus --------------------

hold h1 "$G1" 1024 2048
check "ot_hold maps 1 MiB + 2 MiB without CAP_IPC_LOCK" [ $? -eq 0 ]
H=$(cat "$W/h1.pid")
"$OT" -b --json -n 1 > "$W/h1.json" 2>&1
HID=$(jq -r --argjson h "$H" \
	'.containers[] | select(.owner_tgid == $h) | .iommu_id' "$W/h1.json")
jq -e --argjson h "$H" '
	(.containers[] | select(.owner_tgid == $h)) as $c
	| (.processes[] | select(.tgid == $h)) as $p
	| $c.owner_comm == "ot_hold" and $c.mappings == 2
	and $c.bytes_mapped == 3145728 and $c.locked_pages == 768
	and $c.state == "idle" and $c.tracker == "armed"
	and $c.cap_ipc_lock == false and ($c.holders | index($h)) != null
	and $p.vfio_locked_pages == 768 and $p.vmlck_kb == 3072
	and $p.gone == false' "$W/h1.json" > /dev/null
check "--json: ot_hold's container: 3145728 bytes, 768 pages, VmLck 3072 kB" \
	[ $? -eq 0 ]

"$OT" -b -n 1 > "$W/h1.txt" 2>&1
grep -Eq "^ +$HID +$H ot_hold +2 +3M +768 +unlimited +0/2 idle" "$W/h1.txt"
check "-b: the row of ot_hold's container" [ $? -eq 0 ]

"$OT" -q -n 2 -d 0.3 --prometheus "$W/vfio.prom" > "$W/prom.out" 2>&1
rc=$?
check "--prometheus -q: exit 0, nothing on stdout" [ $rc -eq 0 -a ! -s "$W/prom.out" ]
grep -qx "vfio_ownertop_container_locked_pages{iommu_id=\"$HID\"} 768" \
	"$W/vfio.prom"
check "--prometheus: the container's locked pages" [ $? -eq 0 ]
grep -qx "vfio_ownertop_process_vmlck_bytes{pid=\"$H\",comm=\"ot_hold\"} 3145728" \
	"$W/vfio.prom"
check "--prometheus: the owner's VmLck in bytes" [ $? -eq 0 ]
check "--prometheus: no temporary file left" \
	[ "$(ls "$W" | grep -c 'vfio.prom')" -eq 1 ]

"$OT" check --pid "$H" > "$W/ok.out" 2>&1
check "check --pid: an owner within its limit passes (exit 0)" [ $? -eq 0 ]

# --- A real violation: RLIMIT_MEMLOCK lowered under what is locked ------------

prlimit --pid "$H" --memlock=65536:65536
"$OT" check --pid "$H" > "$W/bad.out" 2>&1
rc=$?
check "check --pid: vfio locked memory over RLIMIT_MEMLOCK: exit 1" [ $rc -eq 1 ]
want="vfio-ownertop: check: violation (memlock): container $HID: owner pid $H (ot_hold) has 3145728 bytes (768 pages) locked by vfio, over its RLIMIT_MEMLOCK of 65536 bytes, without CAP_IPC_LOCK"
grep -qxF "$want" "$W/bad.out"
check "check --pid: the message names container, pid and numbers" [ $? -eq 0 ]
[ $rc -eq 1 ] && grep -qxF "$want" "$W/bad.out" || diag "$W/bad.out"
stop_holds

"$OT" check --follow sh -c "
	$HOLD $G1 1024 > $W/h2.out 2>&1 &
	echo \$! > $W/h2.pid
	while ! grep -q ready $W/h2.out; do sleep 0.1; done
	prlimit --pid \$(cat $W/h2.pid) --memlock=4096:4096
	sleep 1.5
	kill \$(cat $W/h2.pid)
	wait" > "$W/follow-bad.out" 2>&1
rc=$?
H2=$(cat "$W/h2.pid" 2>/dev/null)
check "check --follow: a limit lowered while it runs: exit 1" [ $rc -eq 1 ]
grep -Eq "^vfio-ownertop: check: violation \(memlock\): container [0-9]+: owner pid $H2 \(ot_hold\) has 1048576 bytes \(256 pages\) locked by vfio, over its RLIMIT_MEMLOCK of 4096 bytes, without CAP_IPC_LOCK$" \
	"$W/follow-bad.out"
check "check --follow: the violation names the pid and numbers" [ $? -eq 0 ]
[ $rc -eq 1 ] || diag "$W/follow-bad.out"

# --- The classic tracepoint programs, the fallback of tp_btf ------------------

"$OT" --attach tracepoint -b --json -d 0.3 > "$W/tp.json" 2> "$W/tp.err" &
tp_pid=$!
wait_for "$W/tp.json" '^\{' 30
hold tp "$G1" 1024
T=$(cat "$W/tp.pid")
sleep 0.5
stop_holds
# The owner's exit is unmapped by a work item: wait for its event.
wait_for "$W/tp.json" '"owner_close"' 15
sleep 0.5
kill -INT $tp_pid
wait $tp_pid
check "--attach tracepoint: exit 0" [ $? -eq 0 ]
jq -es --argjson t "$T" 'all(.probe == "tracepoint")
   and ([.[].events[] | select(.tgid == $t and .kind == "map" and .ret == 0
	and .size == 1048576 and .pages == 256)] | length) == 1
   and ([.[].events[] | select(.kind == "owner_close" and .tgid == $t
	and .pages == 256 and .reason == "exit")] | length) == 1' \
	"$W/tp.json" > /dev/null
check "--attach tracepoint: the map and the owner's exit come through" \
	[ $? -eq 0 ]

"$OT" check --pid 999999 > "$W/nopid.out" 2>&1
check "check --pid of no process: exit 2" [ $? -eq 2 ]
"$OT" check --follow /nonexistent/cmd > "$W/nocmd.out" 2>&1
check "check --follow: a command that cannot run: exit 2" [ $? -eq 2 ]

# --- Interactive, in tmux ---------------------------------------------------

screen() {
	tmux capture-pane -p -t ot > "$W/screen"
}

# until the screen matches REGEX (extended), up to 20 s
screen_has() {
	i=0
	while [ $i -lt 100 ]; do
		screen
		grep -Eq "$1" "$W/screen" && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

screen_lacks() {
	i=0
	while [ $i -lt 100 ]; do
		screen
		grep -Eq "$1" "$W/screen" || return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# The iommu id of the first row under the table header.
first_row() {
	screen
	awk '/IOMMU +OWNER/ { getline; print $1; exit }' "$W/screen"
}

row_first() {
	i=0
	while [ $i -lt 100 ]; do
		[ "$(first_row)" = "$1" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

if [ $have_tmux = 0 ]; then
	skip "interactive view" "no tmux"
elif [ -z "$G2" ]; then
	skip "interactive view" "needs two edu devices (tests/vm/run --edu 2)"
else
	hold a "$G1" 1024 && hold b "$G2" 1024 2048
	check "two owners: 1 MiB and 3 MiB" [ $? -eq 0 ]
	A=$(cat "$W/a.pid")
	B=$(cat "$W/b.pid")
	"$OT" -b --json -n 1 > "$W/ab.json"
	AID=$(jq -r --argjson p "$A" '.containers[] | select(.owner_tgid == $p)
		| .iommu_id' "$W/ab.json")
	BID=$(jq -r --argjson p "$B" '.containers[] | select(.owner_tgid == $p)
		| .iommu_id' "$W/ab.json")

	tmux -f /dev/null new-session -d -s ot -x 150 -y 40 \
		"NO_COLOR=1 $OT -d 0.3; echo \$? > $W/tmux.rc; sleep 30"
	screen_has 'IOMMU +OWNER'
	check "tmux: the table comes up" [ $? -eq 0 ]
	screen_has "^ +$AID +$A ot_hold +1 +1M +256 " &&
		screen_has "^ +$BID +$B ot_hold +2 +3M +768 "
	check "tmux: one row per container, with owner, bytes and pages" [ $? -eq 0 ]
	screen_has '^Containers: 2 \(2 owned' &&
		screen_has 'pinned: 4M \(1024 pages\)'
	check "tmux: the header totals both containers" [ $? -eq 0 ]
	tmux capture-pane -p -e -t ot > "$W/screen.esc"
	grep -q "$(printf '\033')\[[0-9;]*3[0-7]m" "$W/screen.esc"
	check "tmux: NO_COLOR: no colour escapes" [ $? -ne 0 ]

	tmux send-keys -t ot b
	screen_has 'sort: bytes \(desc\)' && row_first "$BID"
	check "tmux: b sorts by bytes, the 3M container first" [ $? -eq 0 ]
	tmux send-keys -t ot b
	screen_has 'sort: bytes  ' && row_first "$AID"
	check "tmux: b again reverses: the 1M container first" [ $? -eq 0 ]
	tmux send-keys -t ot l
	screen_has 'sort: locked \(desc\)' && row_first "$BID"
	check "tmux: l sorts by locked pages" [ $? -eq 0 ]

	tmux send-keys -t ot f
	screen_has 'filter \(pid or comm'
	tmux send-keys -t ot "$A" Enter
	screen_has "filter: pid $A" && screen_lacks "^ +$BID +$B " &&
		screen_has "^ +$AID +$A "
	check "tmux: f filters by pid: one row left" [ $? -eq 0 ]
	tmux send-keys -t ot F
	screen_has "^ +$BID +$B " && screen_has "^ +$AID +$A "
	check "tmux: F clears the filter" [ $? -eq 0 ]

	tmux send-keys -t ot h
	screen_has 'vfio-ownertop keys'
	check "tmux: h shows the keys" [ $? -eq 0 ]
	tmux send-keys -t ot x
	screen_has 'IOMMU +OWNER'
	check "tmux: any key closes the help" [ $? -eq 0 ]
	tmux send-keys -t ot p
	screen_has '\[paused\]'
	check "tmux: p pauses" [ $? -eq 0 ]
	tmux send-keys -t ot p
	screen_lacks '\[paused\]'
	check "tmux: p again resumes" [ $? -eq 0 ]

	tmux send-keys -t ot q
	wait_for "$W/tmux.rc" '^[0-9]+$' 20
	check "tmux: q quits with exit 0" [ "$(cat "$W/tmux.rc" 2>/dev/null)" = 0 ]
	tmux kill-server 2>/dev/null

	tmux_sock=ot-colour
	tmux -f /dev/null new-session -d -s ot -x 150 -y 40 "$OT -d 0.3"
	screen_has 'IOMMU +OWNER'
	tmux capture-pane -p -e -t ot > "$W/screen.esc"
	grep -q "$(printf '\033')\[[0-9;]*[34][0-7]m" "$W/screen.esc"
	check "tmux: without NO_COLOR the sort column is coloured" [ $? -eq 0 ]
	tmux kill-server 2>/dev/null
	stop_holds
fi

echo "1..$n"
[ $failed -eq 0 ] || echo "# $failed of $n failed"
[ $failed -eq 0 ]
