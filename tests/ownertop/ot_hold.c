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
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/vfio.h>

#define MiB (1UL << 20)

static int die(const char *what)
{
	fprintf(stderr, "ot_hold: %s: %s\n", what, strerror(errno));
	return 1;
}

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int i = CAP_TO_INDEX(CAP_IPC_LOCK);

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[i].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	data[i].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	data[i].inheritable &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data);
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
	struct vfio_group_status status = { .argsz = sizeof(status) };
	unsigned long iova = MiB;
	int container, group, i, first = 1;
	bool keep_cap = false;
	char path[64];
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
	if (!keep_cap && drop_ipc_lock())
		return die("dropping CAP_IPC_LOCK");

	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0)
		return die("/dev/vfio/vfio");
	snprintf(path, sizeof(path), "/dev/vfio/%ld", g);
	group = open(path, O_RDWR | O_CLOEXEC);
	if (group < 0)
		return die(path);
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = errno ? errno : EINVAL;
		return die("group not viable");
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		return die("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return die("VFIO_SET_IOMMU");

	for (i = first + 1; i < argc; i++) {
		long kb = parse_num(argv[i], 4, 1 << 20);
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ |
				 VFIO_DMA_MAP_FLAG_WRITE,
		};
		void *buf;
		int fd;

		if (kb < 0 || kb % 4) {
			fprintf(stderr, "ot_hold: bad size '%s'\n", argv[i]);
			return 2;
		}
		fd = memfd_create("ot_hold", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, kb * 1024))
			return die("memfd");
		buf = mmap(NULL, kb * 1024, PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);
		if (buf == MAP_FAILED)
			return die("mmap");
		map.vaddr = (unsigned long)buf;
		map.iova = iova;
		map.size = kb * 1024;
		if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
			return die("VFIO_IOMMU_MAP_DMA");
		iova += (kb * 1024 + MiB - 1) / MiB * MiB + MiB;
	}
	printf("ready %d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}
