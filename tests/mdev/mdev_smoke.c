// SPDX-License-Identifier: GPL-2.0
/*
 * mdev_smoke - smoke test of the vfio-test-mdev mediated device
 *
 * Run as root with vfio_test_mdev.ko loaded (the caller loads it).  Creates
 * an mdev, puts its group in a type1v2 container, maps a 1 MiB memfd at IOVA
 * 0x100000 and checks that the driver pins (charging VmLck), reads and writes
 * the memory, unpins, and that unmapping a range with pinned pages makes the
 * driver unpin them.  Removes the mdev at the end.  Prints TAP; exits 0 if
 * every test passed.
 *
 * Usage: mdev_smoke [--no-unmap-pinned]
 *
 * --no-unmap-pinned skips unmapping a range while the driver holds pages of
 * it pinned.  vfio type1 then calls the driver's .dma_unmap with its
 * device_list_lock held, and the driver's vfio_unpin_pages() takes the iommu
 * lock under it; a kernel without "vfio/type1: take device_list_lock outside
 * iommu->lock", such as the unpatched baseline, takes them in the other
 * order elsewhere, which lockdep reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfio_test_mdev.h"

#define TYPE_DIR	"/sys/class/mdev_bus/" VFIO_TEST_MDEV_PARENT \
			"/mdev_supported_types/" VFIO_TEST_MDEV_TYPE
#define MDEV_DIR	"/sys/bus/mdev/devices/"
#define IOVA		0x100000ULL
#define MAP_SIZE	(1UL << 20)
#define PAGE		4096UL
#define NTESTS		29

static int ntest, nfail;

static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - ", cond ? "" : "not ", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void skip(const char *why)
{
	ntest++;
	printf("ok %d # SKIP %s\n", ntest, why);
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	return 0;
}

/* VmLck of this process in kB, or -1 */
static long vmlck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Run one operation; return the ioctl's result (0 or -errno). */
static int mdev_op(int dev, struct vfio_test_mdev_op *op, uint32_t code,
		   uint64_t iova, uint32_t npage, void *buf, uint32_t len)
{
	memset(op, 0, sizeof(*op));
	op->argsz = sizeof(*op);
	op->op = code;
	op->iova = iova;
	op->npage = npage;
	op->len = len;
	op->data = (uintptr_t)buf;
	op->result = INT32_MIN;
	return ioctl(dev, VFIO_TEST_MDEV_OP, op) ? -errno : 0;
}

/* Run one operation; return its result, or INT32_MIN if the ioctl failed. */
static int32_t run_op(int dev, uint32_t code, uint64_t iova, uint32_t npage,
		      void *buf, uint32_t len, uint64_t *wait_ns)
{
	struct vfio_test_mdev_op op;
	int ret = mdev_op(dev, &op, code, iova, npage, buf, len);

	if (ret) {
		diag("VFIO_TEST_MDEV_OP %u: %s", code, strerror(-ret));
		return INT32_MIN;
	}
	if (wait_ns)
		*wait_ns = op.wait_ns;
	return op.result;
}

static int map_dma(int container, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

/* Unmap; return the size unmapped, or -errno. */
static int64_t unmap_dma(int container, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -errno;
	return unmap.size;
}

int main(int argc, char **argv)
{
	char uuid[64], path[PATH_MAX], link[PATH_MAX], *p;
	int container = -1, group = -1, dev = -1, mfd;
	struct vfio_group_status status = { .argsz = sizeof(status) };
	unsigned char pattern[16], back[16];
	struct vfio_test_mdev_op op;
	long lck0, lck;
	uint64_t wait_ns = 0;
	unsigned char *mem;
	struct stat st;
	int32_t r;
	ssize_t n;
	bool skip_unmap_pinned = false;
	int fd, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-unmap-pinned")) {
			skip_unmap_pinned = true;
		} else {
			fprintf(stderr, "usage: %s [--no-unmap-pinned]\n",
				argv[0]);
			return 2;
		}
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%d\n", NTESTS);

	/* Create the mdev */
	fd = open("/proc/sys/kernel/random/uuid", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, uuid, sizeof(uuid) - 1);
	if (fd >= 0)
		close(fd);
	if (n < 36) {
		printf("Bail out! cannot read a UUID\n");
		return 1;
	}
	uuid[36] = '\0';
	r = write_file(TYPE_DIR "/create", uuid);
	ok(r == 0, "create mdev %s (%s)", uuid, r ? strerror(-r) : "ok");
	if (r) {
		printf("Bail out! is vfio_test_mdev.ko loaded?\n");
		return 1;
	}
	snprintf(path, sizeof(path), MDEV_DIR "%s", uuid);
	ok(stat(path, &st) == 0, "%s exists", path);

	/* Its group */
	snprintf(path, sizeof(path), MDEV_DIR "%s/iommu_group", uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0)
		link[n] = '\0';
	p = n > 0 ? strrchr(link, '/') : NULL;
	ok(p, "iommu_group link: %s", p ? p + 1 : "none");
	if (!p)
		goto remove;
	snprintf(path, sizeof(path), "/dev/vfio/%s", p + 1);

	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	ok(container >= 0 && group >= 0, "open /dev/vfio/vfio and %s", path);
	if (container < 0 || group < 0)
		goto close;
	ok(ioctl(group, VFIO_GROUP_GET_STATUS, &status) == 0 &&
	   (status.flags & VFIO_GROUP_FLAGS_VIABLE), "group is viable");
	ok(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) == 0,
	   "VFIO_GROUP_SET_CONTAINER");
	ok(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0,
	   "VFIO_SET_IOMMU VFIO_TYPE1v2_IOMMU");
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	ok(dev >= 0, "VFIO_GROUP_GET_DEVICE_FD %s", uuid);
	if (dev < 0)
		goto close;

	/* Bad requests */
	memset(&op, 0, sizeof(op));
	op.argsz = sizeof(op) - 1;
	op.op = VFIO_TEST_MDEV_PIN_COUNT;
	errno = 0;
	ok(ioctl(dev, VFIO_TEST_MDEV_OP, &op) == -1 && errno == EINVAL,
	   "argsz below the structure size: EINVAL");
	ok(mdev_op(dev, &op, 99, 0, 0, NULL, 0) == -EINVAL,
	   "unknown op: EINVAL");

	/* Map a memfd */
	mfd = memfd_create("mdev_smoke", 0);
	if (mfd < 0 || ftruncate(mfd, MAP_SIZE)) {
		printf("Bail out! memfd: %s\n", strerror(errno));
		goto close;
	}
	mem = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	if (mem == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		goto close;
	}
	memset(mem, 0, MAP_SIZE);
	r = map_dma(container, mem, IOVA, MAP_SIZE);
	ok(r == 0, "VFIO_IOMMU_MAP_DMA 1 MiB at %#llx (%s)",
	   IOVA, r ? strerror(-r) : "ok");
	if (r)
		goto close;
	lck0 = vmlck_kb();
	diag("VmLck after mapping: %ld kB", lck0);

	/* Pin */
	r = run_op(dev, VFIO_TEST_MDEV_PIN, IOVA, 4, NULL, 0, &wait_ns);
	ok(r == 4, "PIN 4 pages at %#llx: result %d", IOVA, r);
	diag("vfio_pin_pages took %" PRIu64 " ns", wait_ns);
	r = run_op(dev, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, NULL, 0, NULL);
	ok(r == 4, "PIN_COUNT: %d", r);
	lck = vmlck_kb();
	ok(lck == lck0 + 16, "VmLck grew by 16 kB: %ld -> %ld kB", lck0, lck);

	/* dma_rw */
	for (i = 0; i < 16; i++)
		pattern[i] = 0xa0 + i;
	r = run_op(dev, VFIO_TEST_MDEV_WRITE, IOVA + 0x10, 0, pattern, 16,
		   NULL);
	ok(r == 0 && !memcmp(mem + 0x10, pattern, 16),
	   "WRITE 16 bytes: result %d, seen in the memfd", r);
	memset(back, 0, sizeof(back));
	r = run_op(dev, VFIO_TEST_MDEV_READ, IOVA + 0x10, 0, back, 16, NULL);
	ok(r == 0 && !memcmp(back, pattern, 16),
	   "READ 16 bytes back: result %d", r);
	memcpy(mem + 0x80000, "from the process", 16);
	memset(back, 0, sizeof(back));
	r = run_op(dev, VFIO_TEST_MDEV_READ, IOVA + 0x80000, 0, back, 16,
		   NULL);
	ok(r == 0 && !memcmp(back, "from the process", 16),
	   "READ of an unpinned page sees the process's write: result %d", r);

	/* Through the pinned page */
	for (i = 0; i < 16; i++)
		pattern[i] = 0x5a ^ i;
	r = run_op(dev, VFIO_TEST_MDEV_WRITE_PINNED, IOVA + PAGE + 8, 0,
		   pattern, 16, NULL);
	ok(r == 0 && !memcmp(mem + PAGE + 8, pattern, 16),
	   "WRITE_PINNED 16 bytes: result %d, seen in the memfd", r);
	memcpy(mem + 2 * PAGE, "seen by the page", 16);
	memset(back, 0, sizeof(back));
	r = run_op(dev, VFIO_TEST_MDEV_READ_PINNED, IOVA + 2 * PAGE, 0,
		   back, 16, NULL);
	ok(r == 0 && !memcmp(back, "seen by the page", 16),
	   "READ_PINNED sees the process's write: result %d", r);
	r = run_op(dev, VFIO_TEST_MDEV_WRITE_PINNED, IOVA + 8 * PAGE, 0,
		   pattern, 16, NULL);
	ok(r == -ENOENT, "WRITE_PINNED of a page not pinned: %d (ENOENT)", r);

	/* Unpin */
	r = run_op(dev, VFIO_TEST_MDEV_UNPIN, IOVA + 2 * PAGE, 4, NULL, 0,
		   NULL);
	ok(r == -ENOENT, "UNPIN of a range not all pinned: %d (ENOENT)", r);
	r = run_op(dev, VFIO_TEST_MDEV_UNPIN, IOVA, 4, NULL, 0, &wait_ns);
	ok(r == 0, "UNPIN 4 pages: result %d", r);
	r = run_op(dev, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, NULL, 0, NULL);
	lck = vmlck_kb();
	ok(r == 0 && lck == lck0, "PIN_COUNT %d, VmLck back to %ld kB", r, lck);

	/*
	 * Unmapping a range with pinned pages makes vfio call .dma_unmap,
	 * and the driver unpin them.
	 */
	if (skip_unmap_pinned) {
		for (i = 0; i < 4; i++)
			skip("unmap with pinned pages (--no-unmap-pinned)");
		n = unmap_dma(container, IOVA, MAP_SIZE);
	} else {
		r = run_op(dev, VFIO_TEST_MDEV_PIN, IOVA + 0x10000, 3, NULL, 0,
			   NULL);
		ok(r == 3, "PIN 3 pages at %#llx: result %d",
		   IOVA + 0x10000, r);
		lck = vmlck_kb();
		ok(lck == lck0 + 12, "VmLck grew by 12 kB: %ld kB", lck);
		n = unmap_dma(container, IOVA, MAP_SIZE);
		ok(n == (ssize_t)MAP_SIZE,
		   "VFIO_IOMMU_UNMAP_DMA with pinned pages: %zd", n);
		r = run_op(dev, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, NULL, 0, NULL);
		lck = vmlck_kb();
		ok(r == 0 && lck == lck0,
		   "dma_unmap unpinned: PIN_COUNT %d, VmLck %ld kB", r, lck);
	}
	r = run_op(dev, VFIO_TEST_MDEV_PIN, IOVA, 1, NULL, 0, NULL);
	ok(n == (ssize_t)MAP_SIZE && r == -EINVAL,
	   "PIN after unmap: %d (EINVAL)", r);
	munmap(mem, MAP_SIZE);

close:
	if (dev >= 0)
		close(dev);
	if (group >= 0)
		close(group);
	if (container >= 0)
		close(container);
remove:
	snprintf(path, sizeof(path), MDEV_DIR "%s/remove", uuid);
	r = write_file(path, "1");
	snprintf(path, sizeof(path), MDEV_DIR "%s", uuid);
	ok(r == 0 && stat(path, &st) != 0, "remove mdev (%s)",
	   r ? strerror(-r) : "ok");

	if (ntest != NTESTS)
		diag("ran %d of %d tests", ntest, NTESTS);
	if (nfail)
		diag("%d of %d tests failed", nfail, ntest);
	return nfail || ntest != NTESTS;
}
