// SPDX-License-Identifier: GPL-2.0
/*
 * ot_hold - own a vfio type1 container with known mappings, and keep it.
 *
 * Usage: ot_hold [-k] GROUP SIZE_KB...
 *
 * Opens a container, attaches IOMMU group GROUP (/dev/vfio/GROUP), sets
 * TYPE1v2 and maps one shared memfd buffer per SIZE_KB, 1 MiB apart past
 * the previous one, starting at IOVA 1 MiB.  Unless -k is given it first
 * drops CAP_IPC_LOCK, so that RLIMIT_MEMLOCK applies to it.  Then it
 * prints "ready PID" on stdout and waits until it is killed.
 *
 * The vfio-ownertop VM tests use it for numbers they know beforehand: the
 * bytes and pages of each container, and an owner whose RLIMIT_MEMLOCK they
 * can lower below what it already has locked.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "owner.h"

#define MiB (1UL << 20)

static int die(const char *what, int err)
{
	fprintf(stderr, "ot_hold: %s: %s\n", what, strerror(err));
	return 1;
}

static long parse_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	unsigned long iova = MiB;
	int container, group, i, first = 1, ret;
	bool keep_cap = false;
	long g;

	if (argc > 1 && !strcmp(argv[1], "-k")) {
		keep_cap = true;
		first = 2;
	}
	if (argc < first + 2) {
		fprintf(stderr, "usage: ot_hold [-k] GROUP SIZE_KB...\n");
		return 2;
	}
	g = parse_num(argv[first], 0, INT_MAX);
	if (g < 0) {
		fprintf(stderr, "ot_hold: bad group '%s'\n", argv[first]);
		return 2;
	}
	if (!keep_cap && own_drop_ipc_lock())
		return die("dropping CAP_IPC_LOCK", errno);

	container = vfio_container_open();
	if (container < 0)
		return die("/dev/vfio/vfio", -container);
	group = vfio_group_attach(container, g);
	if (group < 0)
		return die("attaching the group", -group);
	ret = vfio_set_type1v2(container);
	if (ret)
		return die("VFIO_SET_IOMMU", -ret);

	for (i = first + 1; i < argc; i++) {
		long kb = parse_num(argv[i], 4, 1 << 20);
		void *buf;

		if (kb < 0 || kb % 4) {
			fprintf(stderr, "ot_hold: bad size '%s'\n", argv[i]);
			return 2;
		}
		buf = memfd_buffer(kb * 1024, NULL);
		if (!buf)
			return die("memfd", errno);
		ret = vfio_dma_map(container, buf, iova, kb * 1024);
		if (ret)
			return die("VFIO_IOMMU_MAP_DMA", -ret);
		iova += (kb * 1024 + MiB - 1) / MiB * MiB + MiB;
	}
	printf("ready %d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}
