// SPDX-License-Identifier: GPL-2.0
/*
 * tp_bench - what the vfio_type1 tracepoints cost when enabled.
 *
 * Times two operations on a type1 container of the first edu group
 * (VDO_EDU_GROUPS, set in the test VM), with all vfio_type1 events disabled
 * and then enabled through tracefs, in alternation, for several rounds:
 *
 *   map+unmap  VFIO_IOMMU_MAP_DMA then VFIO_IOMMU_UNMAP_DMA of a 4 KiB
 *              memfd mapping (one pinned page)
 *   change     VFIO_CHANGE_DMA_OWNER by the owner itself (nothing moves)
 *
 * and prints, per operation, the median over rounds of the time per
 * operation in each state and the ratio enabled/disabled.  With -b, that
 * many other 4 KiB mappings stay in the container meanwhile, to show how
 * the cost grows with the number of mappings.  Events go to the trace
 * buffer (nobody reads it); the events are disabled again at the end.
 *
 * Usage: tp_bench [-n ITERATIONS] [-r ROUNDS] [-b BACKGROUND_MAPPINGS]
 * Must run as root in the test VM.  Times under emulation (TCG) are only
 * comparable with each other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#define PAGE		4096UL
#define IOVA_BENCH	0x100000UL	/* the mapping that comes and goes */
#define IOVA_KEEP	0x200000UL	/* kept, so that there is an owner */
#define IOVA_BG		0x10000000UL	/* background mappings from here */
#define MAX_ROUNDS	64
#define ENABLE		"/sys/kernel/tracing/events/vfio_type1/enable"

static int container;

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "tp_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned long parse(const char *s, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || !v) {
		fprintf(stderr, "tp_bench: %s wants a positive number\n", opt);
		exit(2);
	}
	return v;
}

static void set_events(int on)
{
	int fd = open(ENABLE, O_WRONLY);

	if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1)
		die(ENABLE);
	close(fd);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void map_dma(void *vaddr, unsigned long iova, size_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (unsigned long)vaddr,
		.iova = iova,
		.size = size,
	};

	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
		die("VFIO_IOMMU_MAP_DMA");
}

static void unmap_dma(unsigned long iova, size_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) ||
	    unmap.size != size)
		die("VFIO_IOMMU_UNMAP_DMA");
}

static void *memfd_buf(size_t size)
{
	int fd = memfd_create("tp-bench", 0);
	void *p;

	if (fd < 0 || ftruncate(fd, size))
		die("memfd");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	close(fd);
	return p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	unsigned long iterations = 2000, rounds = 7, background = 0, i, r;
	double map_ns[2][MAX_ROUNDS], change_ns[2][MAX_ROUNDS], t, m0, m1;
	const char *groups = getenv("VDO_EDU_GROUPS");
	char path[64];
	void *buf, *keep, *bg = NULL;
	int group, opt, k;

	while ((opt = getopt(argc, argv, "n:r:b:h")) != -1) {
		switch (opt) {
		case 'n': iterations = parse(optarg, "-n"); break;
		case 'r': rounds = parse(optarg, "-r"); break;
		case 'b': background = parse(optarg, "-b"); break;
		default:
			fprintf(stderr, "usage: tp_bench [-n ITERATIONS] [-r ROUNDS] [-b BACKGROUND_MAPPINGS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (rounds > MAX_ROUNDS || background > 60000) {
		fprintf(stderr, "tp_bench: at most %d rounds, 60000 mappings\n",
			MAX_ROUNDS);
		return 2;
	}
	if (!groups || !*groups) {
		fprintf(stderr, "tp_bench: no VDO_EDU_GROUPS: run in the test VM\n");
		return 1;
	}

	snprintf(path, sizeof(path), "/dev/vfio/%d", atoi(groups));
	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0)
		die("open");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("container setup");

	buf = memfd_buf(PAGE);
	keep = memfd_buf(PAGE);
	map_dma(keep, IOVA_KEEP, PAGE);
	if (background) {
		bg = memfd_buf(background * PAGE);
		for (i = 0; i < background; i++)
			map_dma((char *)bg + i * PAGE, IOVA_BG + i * PAGE, PAGE);
	}

	printf("tp_bench: %lu iterations, %lu rounds, %lu other mappings\n",
	       iterations, rounds, background + 1);
	printf("%-5s %-8s %14s %14s\n", "ROUND", "EVENTS", "MAP+UNMAP(ns)",
	       "CHANGE(ns)");
	for (r = 0; r < rounds; r++) {
		/* Alternate which state goes first, against drift. */
		for (k = 0; k < 2; k++) {
			int on = (r + k) % 2;

			set_events(on);
			t = now_ns();
			for (i = 0; i < iterations; i++) {
				map_dma(buf, IOVA_BENCH, PAGE);
				unmap_dma(IOVA_BENCH, PAGE);
			}
			map_ns[on][r] = (now_ns() - t) / iterations;

			t = now_ns();
			for (i = 0; i < iterations; i++)
				if (ioctl(container, VFIO_CHANGE_DMA_OWNER))
					die("VFIO_CHANGE_DMA_OWNER");
			change_ns[on][r] = (now_ns() - t) / iterations;
			printf("%-5lu %-8s %14.0f %14.0f\n", r + 1,
			       on ? "enabled" : "disabled", map_ns[on][r],
			       change_ns[on][r]);
		}
	}
	set_events(0);

	printf("%-10s %14s %14s %7s\n", "OPERATION", "DISABLED(ns)",
	       "ENABLED(ns)", "RATIO");
	m0 = median(map_ns[0], rounds);
	m1 = median(map_ns[1], rounds);
	printf("%-10s %14.0f %14.0f %7.3f\n", "map+unmap", m0, m1, m1 / m0);
	m0 = median(change_ns[0], rounds);
	m1 = median(change_ns[1], rounds);
	printf("%-10s %14.0f %14.0f %7.3f\n", "change", m0, m1, m1 / m0);

	close(group);
	close(container);
	return 0;
}
