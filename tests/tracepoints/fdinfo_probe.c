// SPDX-License-Identifier: GPL-2.0
/*
 * fdinfo_probe - walk a type1 container through its states and show, at
 * each, what /proc/PID/fdinfo of the container file says next to what the
 * probe knows to be true.
 *
 * Opens the container of the first edu device's group (VDO_EDU_BDFS and
 * VDO_EDU_GROUPS, set in the test VM), then: attaches the group, sets
 * TYPE1v2, maps two memfd buffers (1 MiB at 0x100000, 2 MiB at 0x800000),
 * stages a new vaddr for the first, unmaps it, lets a forked child named
 * "fdinfo_child" take ownership, lets the child exit, maps again (owner
 * again, with the tracker it had) and unmaps its "[vfio-dma-owner]" vma.
 *
 * Output, one line each, for tests/tracepoints/run.sh to compare:
 *
 *   STAGE fd KEY VALUE       a line of /proc/PID/fdinfo/FD ("key:\tvalue")
 *   STAGE truth KEY VALUE    what the probe knows: pids, VmLck, sizes
 *
 * Exit status: 0, or 1 when a step failed (with a message on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "vfio_test.h"

#define MiB		(1UL << 20)
#define IOVA_A		0x100000UL
#define IOVA_B		0x800000UL
#define SIZE_A		(1 * MiB)
#define SIZE_B		(2 * MiB)

static int container = -1;

static void __attribute__((noreturn)) fail(const char *what)
{
	fprintf(stderr, "fdinfo_probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Print the container's fdinfo as "STAGE fd KEY VALUE" lines. */
static void show(const char *stage, pid_t pid)
{
	char path[64], line[256], *tab;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, container);
	f = fopen(path, "r");
	if (!f)
		fail(path);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		tab = strchr(line, ':');
		if (!tab)
			continue;
		*tab++ = 0;
		while (*tab == '\t' || *tab == ' ')
			tab++;
		printf("%s fd %s %s\n", stage, line, tab);
	}
	fclose(f);
}

/* One fdinfo key, for polling; "" when absent. */
static void fdinfo_get(const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t n = strlen(key), m;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", container);
	val[0] = 0;
	f = fopen(path, "r");
	if (!f)
		fail(path);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, n) || line[n] != ':')
			continue;
		line[strcspn(line, "\n")] = 0;
		m = strlen(line + n + 2);
		if (m >= len)
			m = len - 1;
		memcpy(val, line + n + 2, m);
		val[m] = 0;
	}
	fclose(f);
}

static void truth(const char *stage, const char *key, long val)
{
	printf("%s truth %s %ld\n", stage, key, val);
}

/* The "[vfio-dma-owner]" vmas of this process: count, and the last start. */
static int trackers(unsigned long *start)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		fail("/proc/self/maps");
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[vfio-dma-owner]")) {
			n++;
			if (start)
				sscanf(line, "%lx-", start);
		}
	fclose(f);
	return n;
}

/* Wait up to 2 s for the close work to unmap everything. */
static void wait_unmapped(void)
{
	char val[64];
	int i;

	for (i = 0; i < 200; i++) {
		fdinfo_get("mappings", val, sizeof(val));
		if (!strcmp(val, "0"))
			return;
		usleep(10000);
	}
}

static void *memfd_buf(size_t size, int *fd)
{
	void *p;

	*fd = memfd_create("fdinfo-probe", 0);
	if (*fd < 0 || ftruncate(*fd, size))
		fail("memfd");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		fail("mmap");
	return p;
}

static int map_dma(void *vaddr, unsigned long iova, size_t size, __u32 flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (unsigned long)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

int main(void)
{
	const char *groups = getenv("VDO_EDU_GROUPS");
	int group, memfd_a, memfd_b, go[2], done[2], status;
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = IOVA_A,
		.size = SIZE_A,
	};
	void *a, *a2, *b;
	unsigned long tracker = 0;
	char path[64];
	long vmlck0;
	pid_t me = getpid(), child;
	char x = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!groups || !*groups) {
		fprintf(stderr, "fdinfo_probe: no VDO_EDU_GROUPS: run in the test VM\n");
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", atoi(groups));
	vmlck0 = proc_vmlck_kb(me);

	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0)
		fail("open");
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) ||
	    !(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		fail("group not viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		fail("VFIO_GROUP_SET_CONTAINER");
	truth("attached", "pid", me);
	show("attached", me);

	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		fail("VFIO_SET_IOMMU");
	truth("empty", "pid", me);
	show("empty", me);

	a = memfd_buf(SIZE_A, &memfd_a);
	b = memfd_buf(SIZE_B, &memfd_b);
	if (map_dma(a, IOVA_A, SIZE_A, VFIO_DMA_MAP_FLAG_READ |
		    VFIO_DMA_MAP_FLAG_WRITE) ||
	    map_dma(b, IOVA_B, SIZE_B, VFIO_DMA_MAP_FLAG_READ |
		    VFIO_DMA_MAP_FLAG_WRITE))
		fail("VFIO_IOMMU_MAP_DMA");
	truth("mapped", "pid", me);
	truth("mapped", "mappings", 2);
	truth("mapped", "bytes", SIZE_A + SIZE_B);
	truth("mapped", "vmlck_kb", proc_vmlck_kb(me) - vmlck0);
	truth("mapped", "trackers", trackers(NULL));
	show("mapped", me);

	/* The same memory at a second address: a valid vaddr to stage. */
	a2 = mmap(NULL, SIZE_A, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_a, 0);
	if (a2 == MAP_FAILED)
		fail("mmap");
	if (map_dma(a2, IOVA_A, SIZE_A, VFIO_DMA_MAP_FLAG_VADDR))
		fail("stage");
	truth("staged", "pid", me);
	truth("staged", "staged", 1);
	truth("staged", "vmlck_kb", proc_vmlck_kb(me) - vmlck0);
	show("staged", me);

	/* Unmapping the mapping discards its staged vaddr. */
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) ||
	    unmap.size != SIZE_A)
		fail("VFIO_IOMMU_UNMAP_DMA");
	truth("unmapped", "pid", me);
	truth("unmapped", "mappings", 1);
	truth("unmapped", "bytes", SIZE_B);
	truth("unmapped", "vmlck_kb", proc_vmlck_kb(me) - vmlck0);
	show("unmapped", me);

	if (pipe(go) || pipe(done))
		fail("pipe");
	child = fork();
	if (child < 0)
		fail("fork");
	if (!child) {
		/* A name of its own, to tell it from the parent in fdinfo */
		prctl(PR_SET_NAME, "fdinfo_child");
		x = ioctl(container, VFIO_CHANGE_DMA_OWNER) ? 'e' : 'k';
		if (write(go[1], &x, 1) != 1 || read(done[0], &x, 1) != 1)
			_exit(1);
		_exit(0);
	}
	if (read(go[0], &x, 1) != 1 || x != 'k')
		fail("VFIO_CHANGE_DMA_OWNER in the child");
	truth("child", "pid", child);
	truth("child", "parent_vmlck_kb", proc_vmlck_kb(me) - vmlck0);
	truth("child", "child_vmlck_kb", proc_vmlck_kb(child));
	show("child", me);

	/* The owner exits: its mappings go, its container stays open here. */
	if (write(done[1], &x, 1) != 1 || waitpid(child, &status, 0) != child ||
	    status)
		fail("child exit");
	wait_unmapped();
	truth("exited", "pid", me);
	truth("exited", "child_pid", child);
	truth("exited", "vmlck_kb", proc_vmlck_kb(me) - vmlck0);
	show("exited", me);

	/* Owner again: the tracker it kept is armed again, not a new one. */
	if (map_dma(a, IOVA_A, SIZE_A, VFIO_DMA_MAP_FLAG_READ |
		    VFIO_DMA_MAP_FLAG_WRITE))
		fail("VFIO_IOMMU_MAP_DMA again");
	truth("remapped", "pid", me);
	truth("remapped", "vmlck_kb", proc_vmlck_kb(me) - vmlck0);
	truth("remapped", "trackers", trackers(&tracker));
	show("remapped", me);

	/* Unmapping the tracker gives up the mappings. */
	if (munmap((void *)tracker, 4096))
		fail("munmap of the tracker");
	wait_unmapped();
	truth("untracked", "pid", me);
	truth("untracked", "vmlck_kb", proc_vmlck_kb(me) - vmlck0);
	truth("untracked", "trackers", trackers(NULL));
	show("untracked", me);

	close(group);
	close(container);
	return 0;
}
