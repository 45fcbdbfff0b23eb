// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_test.c - helpers for tests of vfio type1 with QEMU's edu device.
 * See vfio_test.h for what each function returns.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_test.h"

/* Print "# vfio_test: MSG" on stderr and return -ERR. */
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# vfio_test: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err));
	return -err;
}

/* Copy the INDEX-th space separated word of S into BUF; returns 0 or -1. */
static int nth_word(const char *s, int index, char *buf, size_t len)
{
	size_t n;

	for (;;) {
		s += strspn(s, " \t");
		if (!*s)
			return -1;
		n = strcspn(s, " \t");
		if (index-- == 0) {
			if (n >= len)
				return -1;
			memcpy(buf, s, n);
			buf[n] = '\0';
			return 0;
		}
		s += n;
	}
}

/* Returns the hex value in sysfs file DIR/NAME, or -1. */
static long sysfs_hex(const char *dir, const char *name)
{
	char path[PATH_MAX];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lx", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

/* Returns the IOMMU group number of PCI device BDF, or -1. */
static int iommu_group_of(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *slash;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	slash = strrchr(target, '/');
	return atoi(slash ? slash + 1 : target);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

int vfio_edu_find(int index, char *bdf, size_t len, int *group_id)
{
	const char *bdfs = getenv("VDO_EDU_BDFS");
	const char *groups = getenv("VDO_EDU_GROUPS");
	const char *drv = "/sys/bus/pci/drivers/vfio-pci";
	char group[16], *names[64], dir[PATH_MAX];
	struct dirent *de;
	int n = 0, i, ret = -ENOENT;
	DIR *d;

	if (bdfs && groups && *bdfs) {
		if (nth_word(bdfs, index, bdf, len) ||
		    nth_word(groups, index, group, sizeof(group)))
			return -ENOENT;
		*group_id = atoi(group);
		return 0;
	}

	/* Outside the VM's init: the edu devices vfio-pci has, by address. */
	d = opendir(drv);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d)) && n < 64) {
		if (!strchr(de->d_name, ':'))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", drv, de->d_name);
		if (sysfs_hex(dir, "vendor") != EDU_VENDOR ||
		    sysfs_hex(dir, "device") != EDU_DEVICE)
			continue;
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	if (index >= 0 && index < n && strlen(names[index]) < len) {
		strcpy(bdf, names[index]);
		*group_id = iommu_group_of(bdf);
		if (*group_id >= 0)
			ret = 0;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	return ret;
}

int vfio_container_open(void)
{
	int fd, ret;

	fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "open /dev/vfio/vfio");
	ret = ioctl(fd, VFIO_GET_API_VERSION);
	if (ret != VFIO_API_VERSION) {
		close(fd);
		return fail(EINVAL, "VFIO_GET_API_VERSION is %d, want %d",
			    ret, VFIO_API_VERSION);
	}
	return fd;
}

int vfio_group_attach(int container, int group_id)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int fd, err;

	snprintf(path, sizeof(path), "/dev/vfio/%d", group_id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "open %s", path);
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status)) {
		err = fail(errno, "VFIO_GROUP_GET_STATUS");
		goto out_close;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		err = fail(EBUSY, "group %d is not viable", group_id);
		goto out_close;
	}
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &container)) {
		err = fail(errno, "VFIO_GROUP_SET_CONTAINER");
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return err;
}

int vfio_set_type1v2(int container)
{
	if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		return fail(ENOTSUP, "no VFIO_TYPE1v2_IOMMU extension");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail(errno, "VFIO_SET_IOMMU type1v2");
	return 0;
}

int vfio_device_get(int group, const char *bdf)
{
	int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);

	if (fd < 0)
		return fail(errno, "VFIO_GROUP_GET_DEVICE_FD %s", bdf);
	return fd;
}

/* Returns 0 and the region's INFO, or -errno. */
static int region_info(int device, uint32_t index,
		       struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, info))
		return fail(errno, "VFIO_DEVICE_GET_REGION_INFO %u", index);
	return 0;
}

/* Set the bus master bit of the PCI command register. Returns 0 or -errno. */
static int enable_bus_master(struct vfio_edu *edu)
{
	off_t off = edu->config_offset + PCI_COMMAND;
	uint16_t cmd;

	if (pread(edu->device, &cmd, sizeof(cmd), off) != sizeof(cmd))
		return fail(errno ?: EIO, "read PCI_COMMAND");
	cmd |= PCI_COMMAND_MASTER;
	if (pwrite(edu->device, &cmd, sizeof(cmd), off) != sizeof(cmd))
		return fail(errno ?: EIO, "write PCI_COMMAND");
	return 0;
}

/* Map BAR0 of the opened device and let it master DMA: 0 or -errno. */
static int edu_setup_device(struct vfio_edu *edu)
{
	struct vfio_region_info info;
	void *bar;
	int ret;

	ret = region_info(edu->device, VFIO_PCI_CONFIG_REGION_INDEX, &info);
	if (ret)
		return ret;
	edu->config_offset = info.offset;

	ret = region_info(edu->device, VFIO_PCI_BAR0_REGION_INDEX, &info);
	if (ret)
		return ret;
	if (info.size < EDU_BAR0_SIZE || !(info.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return fail(ENODEV, "BAR0 of %s: size %llu, flags %#x", edu->bdf,
			    (unsigned long long)info.size, info.flags);
	bar = mmap(NULL, EDU_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   edu->device, info.offset);
	if (bar == MAP_FAILED)
		return fail(errno, "mmap BAR0 of %s", edu->bdf);
	edu->bar0 = bar;
	return enable_bus_master(edu);
}

int vfio_edu_open(struct vfio_edu *edu, int index)
{
	int ret;

	memset(edu, 0, sizeof(*edu));
	edu->container = edu->group = edu->device = -1;

	ret = vfio_edu_find(index, edu->bdf, sizeof(edu->bdf), &edu->group_id);
	if (ret)
		return fail(-ret, "no edu device #%d bound to vfio-pci", index);
	ret = vfio_container_open();
	if (ret < 0)
		goto err;
	edu->container = ret;
	ret = vfio_group_attach(edu->container, edu->group_id);
	if (ret < 0)
		goto err;
	edu->group = ret;
	ret = vfio_set_type1v2(edu->container);
	if (ret)
		goto err;
	ret = vfio_device_get(edu->group, edu->bdf);
	if (ret < 0)
		goto err;
	edu->device = ret;

	ret = edu_setup_device(edu);
	if (ret)
		goto err;
	return 0;

err:
	vfio_edu_close(edu);
	return ret;
}

int vfio_edu_adopt(struct vfio_edu *edu, int container, int group,
		   int device)
{
	int ret;

	memset(edu, 0, sizeof(*edu));
	edu->container = container;
	edu->group = group;
	edu->device = device;
	ret = vfio_edu_find(0, edu->bdf, sizeof(edu->bdf), &edu->group_id);
	if (ret)
		return fail(-ret, "no edu device bound to vfio-pci");
	return edu_setup_device(edu);
}

void vfio_edu_close(struct vfio_edu *edu)
{
	if (edu->bar0)
		munmap(edu->bar0, EDU_BAR0_SIZE);
	edu->bar0 = NULL;
	/* A zeroed struct has fds 0: only close what vfio_edu_open() set. */
	if (edu->device > 0)
		close(edu->device);
	if (edu->group > 0)
		close(edu->group);
	if (edu->container > 0)
		close(edu->container);
	edu->device = edu->group = edu->container = -1;
}

int vfio_dma_map(int container, void *vaddr, uint64_t iova, uint64_t size)
{
	return vfio_dma_map_flags(container, vaddr, iova, size,
				  VFIO_DMA_MAP_FLAG_READ |
				  VFIO_DMA_MAP_FLAG_WRITE);
}

int vfio_dma_map_flags(int container, void *vaddr, uint64_t iova,
		       uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
		return -errno;
	return 0;
}

int64_t vfio_dma_unmap(int container, uint64_t iova, uint64_t size)
{
	return vfio_dma_unmap_flags(container, iova, size, 0);
}

int64_t vfio_dma_unmap_flags(int container, uint64_t iova, uint64_t size,
			     uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -errno;
	return unmap.size;
}

void *memfd_buffer(size_t size, int *fd)
{
	void *buf;
	int mfd, err;

	mfd = memfd_create("vfio_test", MFD_CLOEXEC);
	if (mfd < 0)
		return NULL;
	if (ftruncate(mfd, size)) {
		err = errno;
		close(mfd);
		errno = err;
		return NULL;
	}
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	err = errno;
	if (buf == MAP_FAILED || !fd)
		close(mfd);
	else
		*fd = mfd;
	errno = err;
	return buf == MAP_FAILED ? NULL : buf;
}

/*
 * Registers are MMIO: user space has no readq()/writeq(), and volatile is
 * what makes each access one load or store that reaches the device.
 */
static uint64_t edu_read64(struct vfio_edu *edu, uint32_t reg)
{
	return *(volatile uint64_t *)((char *)edu->bar0 + reg);
}

static void edu_write64(struct vfio_edu *edu, uint32_t reg, uint64_t val)
{
	*(volatile uint64_t *)((char *)edu->bar0 + reg) = val;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Program and start one transfer, then poll for its end. Returns 0 or -errno. */
static int edu_dma(struct vfio_edu *edu, uint64_t src, uint64_t dst,
		   uint32_t len, uint64_t cmd)
{
	struct timespec tick = { .tv_nsec = 1000000 };
	int64_t deadline;

	if (edu_read64(edu, EDU_REG_DMA_CMD) & EDU_DMA_CMD_START)
		return fail(EBUSY, "edu %s: a DMA is already running", edu->bdf);
	edu_write64(edu, EDU_REG_DMA_SRC, src);
	edu_write64(edu, EDU_REG_DMA_DST, dst);
	edu_write64(edu, EDU_REG_DMA_COUNT, len);
	__sync_synchronize();
	edu_write64(edu, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_START);

	deadline = now_ms() + EDU_DMA_TIMEOUT_MS;
	while (edu_read64(edu, EDU_REG_DMA_CMD) & EDU_DMA_CMD_START) {
		if (now_ms() > deadline)
			return fail(ETIMEDOUT, "edu %s: DMA did not complete in %d ms",
				    edu->bdf, EDU_DMA_TIMEOUT_MS);
		nanosleep(&tick, NULL);
	}
	__sync_synchronize();
	return 0;
}

/* Returns 0 if [OFFSET, OFFSET + LEN) is a range QEMU accepts, else -EINVAL. */
static int edu_check_buf(uint32_t offset, uint32_t len)
{
	if (offset > EDU_DMA_MAX || len > EDU_DMA_MAX - offset)
		return fail(EINVAL, "edu buffer range %#x+%#x", offset, len);
	return 0;
}

int edu_dma_to_device(struct vfio_edu *edu, uint64_t iova, uint32_t offset,
		      uint32_t len)
{
	int ret = edu_check_buf(offset, len);

	if (ret)
		return ret;
	return edu_dma(edu, iova, EDU_BUF_OFFSET + offset, len, 0);
}

int edu_dma_to_ram(struct vfio_edu *edu, uint32_t offset, uint64_t iova,
		   uint32_t len)
{
	int ret = edu_check_buf(offset, len);

	if (ret)
		return ret;
	return edu_dma(edu, EDU_BUF_OFFSET + offset, iova, len,
		       EDU_DMA_CMD_TO_RAM);
}

/* Returns the number after "KEY" on the first line of PATH starting with it. */
static long long read_key(const char *path, const char *key)
{
	size_t klen = strlen(key);
	long long val = -ENOENT;
	char line[256];
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0) {
			val = strtoll(line + klen, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

long proc_vmlck_kb(pid_t pid)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	return read_key(path, "VmLck:");
}

long long vmstat_read(const char *name)
{
	char key[128];

	snprintf(key, sizeof(key), "%s ", name);
	return read_key("/proc/vmstat", key);
}

/*
 * /proc/vmstat shows the global counters, which per-CPU deltas reach only
 * now and then: writing vm.stat_refresh (root only) folds them in first.
 */
static void vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, "1", 1) < 0)
		fprintf(stderr, "# vfio_test: vm.stat_refresh: %s\n", strerror(errno));
	close(fd);
}

long long pinned_pages(void)
{
	long long acquired, released;

	vmstat_refresh();
	acquired = vmstat_read("nr_foll_pin_acquired");
	released = vmstat_read("nr_foll_pin_released");

	if (acquired < 0)
		return acquired;
	if (released < 0)
		return released;
	return acquired - released;
}

rlim_t memlock_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return 0;
	return rl.rlim_cur;
}

int memlock_set(rlim_t soft, rlim_t hard)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return fail(errno, "setrlimit RLIMIT_MEMLOCK");
	return 0;
}
