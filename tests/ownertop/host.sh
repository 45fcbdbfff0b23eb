#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tests/ownertop/host.sh - vfio-ownertop checks that need no VM (TAP).
#
# Usage: sh tests/ownertop/host.sh   (after make -C tools/vfio-ownertop test-progs)
#
# The unit tests, a table of bad command lines (each must exit 2 with a
# message), the help texts, the refusal on a kernel without the vfio_type1
# tracepoints (skipped on a kernel that has them), and make install.

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
OT=build/ownertop/vfio-ownertop
UNIT=build/ownertop/tests/unit
W=$(mktemp -d /tmp/ownertop-host.XXXXXX) || exit 1
trap 'rm -rf "$W"' EXIT

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

echo "TAP version 13"
for f in "$OT" "$UNIT"; do
	[ -x "$f" ] || { echo "Bail out! $f is not built"; exit 1; }
done

"$UNIT" > "$W/unit.tap" 2>&1
rc=$?
ok $rc "unit tests: $(grep -c '^ok' "$W/unit.tap") passed, $(grep -c '^not ok' "$W/unit.tap") failed"
[ $rc -eq 0 ] || grep '^not ok' "$W/unit.tap" | sed 's/^/# /'

# Bad command lines: exit 2 and say why, before touching the kernel.
while IFS='|' read -r args want; do
	[ -n "$args" ] || continue
	# shellcheck disable=SC2086 # word splitting of the table is wanted
	"$OT" $args > "$W/out" 2>&1
	rc=$?
	grep -q -- "$want" "$W/out"
	found=$?
	[ $rc -eq 2 ] && [ $found -eq 0 ]
	ok $? "usage error: '$args' exits 2 with \"$want\""
done <<'TABLE'
-d 0|invalid delay '0'
-d abc|invalid delay 'abc'
-d 1e9|invalid delay
-d nan|invalid delay
-n 0|invalid iteration count '0'
-n 1x|invalid iteration count '1x'
-n 99999999999999999999|invalid iteration count
-p -1|invalid pid '-1'
-p 2147483648|invalid pid
-i 0|invalid iommu id '0'
-i 4294967296|invalid iommu id
-m 0|invalid row count
-s nosuch|unknown sort column 'nosuch'
-c 0123456789abcdef|longer than 15
-q|-q leaves nothing to show
--attach kprobe|--attach wants auto, tp_btf or tracepoint
extra|unexpected argument 'extra'
--nosuch|unrecognized option
check foo|only taken with --follow
check --follow|--follow wants a command
check --pid 0|invalid pid '0'
check --settle -1|invalid settle time
TABLE

"$OT" --help > "$W/help" 2>&1
rc=$?
grep -q '^EXAMPLES:' "$W/help"
ok $(( rc || $? )) "--help: exit 0, with EXAMPLES"
"$OT" check --help > "$W/help" 2>&1
rc=$?
grep -q 'check --follow' "$W/help"
ok $(( rc || $? )) "check --help: exit 0, with EXAMPLES"

if [ -d /sys/kernel/tracing/events/vfio_type1 ] ||
   [ -d /sys/kernel/debug/tracing/events/vfio_type1 ]; then
	n=$((n + 1))
	echo "ok $n - refusal without tracepoints # SKIP this kernel has them"
else
	for mode in "-b -n 1" "check" "check --follow true"; do
		# shellcheck disable=SC2086
		"$OT" $mode > "$W/out" 2>&1
		rc=$?
		[ $rc -eq 2 ] && [ "$(wc -l < "$W/out")" -eq 1 ] &&
			grep -q "lacks .* vfio_type1 tracepoints (.*vfio_type1_map.*): it needs a kernel built with the vfio DMA owner patches" "$W/out"
		ok $? "'$mode' on kernel $(uname -r): one sentence naming the missing events and the kernel needed, exit 2"
	done
	sed 's/^/# /' "$W/out"
fi

make -s -C tools/vfio-ownertop install DESTDIR="$W/root" PREFIX=/usr \
	> "$W/install" 2>&1
rc=$?
[ $rc -eq 0 ] && [ -x "$W/root/usr/sbin/vfio-ownertop" ] &&
	[ -f "$W/root/usr/share/man/man8/vfio-ownertop.8" ]
ok $? "make install honours DESTDIR and PREFIX"

echo "1..$n"
[ $failed -eq 0 ] || echo "# $failed of $n failed"
[ $failed -eq 0 ]
