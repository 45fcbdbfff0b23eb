// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for the DMA owner tests: vfio setup, edu DMA, counters.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/vfio.h>

#include "owner.h"

#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	0x1
#define EDU_CMD_TO_RAM	0x2
#define EDU_BUF		0x40000UL
#define EDU_BUF_SIZE	4096UL
#define EDU_BAR_SIZE	(1UL << 20)

static int ret_errno(int ret)
{
	return ret < 0 ? -errno : ret;
}

int own_map_dma(int container, void *vaddr, uint64_t iova, size_t size,
		uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ret_errno(ioctl(container, VFIO_IOMMU_MAP_DMA, &map));
}

int own_unmap_dma(int container, uint64_t iova, size_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};

	return ret_errno(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
}

int own_stage(int container, void *vaddr, uint64_t iova, size_t size)
{
	return own_map_dma(container, vaddr, iova, size,
			   VFIO_DMA_MAP_FLAG_VADDR);
}

int own_change_owner(int container)
{
	return ret_errno(ioctl(container, VFIO_CHANGE_DMA_OWNER));
}

int own_check_extension(int container, unsigned long ext)
{
	return ret_errno(ioctl(container, VFIO_CHECK_EXTENSION, ext));
}

/* The first edu device's group, from the VM runner or from sysfs. */
static int edu_group(char *bdf, size_t len)
{
	const char *env = getenv("VDO_EDU_BDFS");
	char path[256], link[256];
	ssize_t n;

	if (!env || sscanf(env, "%63s", bdf) != 1)
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	(void)len;
	return atoi(strrchr(link, '/') + 1);
}

static int edu_enable_master(int device)
{
	struct vfio_region_info cfg = {
		.argsz = sizeof(cfg),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t cmd;

	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &cfg))
		return -1;
	if (pread(device, &cmd, 2, cfg.offset + 4) != 2)
		return -1;
	cmd |= 0x4;	/* bus master */
	return pwrite(device, &cmd, 2, cfg.offset + 4) == 2 ? 0 : -1;
}

static int edu_map_bar(struct own_ctx *c)
{
	struct vfio_region_info bar = {
		.argsz = sizeof(bar),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	void *p;

	if (ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, &bar))
		return -1;
	p = mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 c->device, bar.offset);
	if (p == MAP_FAILED)
		return -1;
	c->bar = p;
	return edu_enable_master(c->device);
}

int own_open(struct own_ctx *c, bool with_device)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char bdf[64], path[64];
	int nr;

	memset(c, 0, sizeof(*c));
	c->device = -1;
	nr = edu_group(bdf, sizeof(bdf));
	if (nr < 0)
		return -1;
	c->container = open("/dev/vfio/vfio", O_RDWR);
	snprintf(path, sizeof(path), "/dev/vfio/%d", nr);
	c->group = open(path, O_RDWR);
	if (c->container < 0 || c->group < 0)
		return -1;
	if (ioctl(c->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -1;
	if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container) ||
	    ioctl(c->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return -1;
	if (!with_device)
		return 0;
	c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (c->device < 0)
		return -1;
	return edu_map_bar(c);
}

int own_adopt(struct own_ctx *c, int container, int group, int device)
{
	memset(c, 0, sizeof(*c));
	c->container = container;
	c->group = group;
	c->device = device;
	return device < 0 ? 0 : edu_map_bar(c);
}

void own_close(struct own_ctx *c)
{
	int i;

	if (c->bar)
		munmap((void *)c->bar, EDU_BAR_SIZE);
	if (c->device >= 0)
		close(c->device);
	close(c->group);
	close(c->container);
	for (i = 0; i < c->nmaps; i++) {
		munmap(c->maps[i].vaddr, c->maps[i].size);
		close(c->maps[i].memfd);
	}
	c->nmaps = 0;
}

void *own_memfd_buf(size_t size, int *memfd)
{
	void *p;
	int fd;

	fd = memfd_create("own-guest-ram", 0);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, size)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	*memfd = fd;
	return p;
}

int own_add_map(struct own_ctx *c, uint64_t iova, size_t size)
{
	struct own_map *m = &c->maps[c->nmaps];
	int ret;

	if (c->nmaps == OWN_MAX_MAPS)
		return -ENOSPC;
	m->vaddr = own_memfd_buf(size, &m->memfd);
	if (!m->vaddr)
		return -errno;
	m->iova = iova;
	m->size = size;
	ret = own_map_dma(c->container, m->vaddr, iova, size,
			  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	if (ret) {
		munmap(m->vaddr, size);
		close(m->memfd);
		return ret;
	}
	c->nmaps++;
	return 0;
}

static void bar_write64(struct own_ctx *c, unsigned long off, uint64_t val)
{
	*(volatile uint64_t *)(c->bar + off) = val;
}

static uint64_t bar_read64(struct own_ctx *c, unsigned long off)
{
	return *(volatile uint64_t *)(c->bar + off);
}

static int edu_dma(struct own_ctx *c, uint64_t src, uint64_t dst, size_t len,
		   uint64_t cmd)
{
	struct timespec ts = { .tv_nsec = 100000 };
	int i;

	bar_write64(c, EDU_DMA_SRC, src);
	bar_write64(c, EDU_DMA_DST, dst);
	bar_write64(c, EDU_DMA_CNT, len);
	bar_write64(c, EDU_DMA_CMD, cmd | EDU_CMD_START);
	for (i = 0; i < 50000; i++) {	/* up to ~5 s */
		if (!(bar_read64(c, EDU_DMA_CMD) & EDU_CMD_START))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

int own_edu_copy(struct own_ctx *c, uint64_t src_iova, uint64_t dst_iova,
		 size_t len)
{
	if (!c->bar || len > EDU_BUF_SIZE)
		return -1;
	if (edu_dma(c, src_iova, EDU_BUF, len, 0))
		return -1;
	return edu_dma(c, EDU_BUF, dst_iova, len, EDU_CMD_TO_RAM);
}

int own_dma_check(struct own_ctx *c, struct own_map *m, size_t offset,
		  uint8_t seed)
{
	uint8_t *src = m->vaddr, *dst = (uint8_t *)m->vaddr + offset;
	size_t i, len = 256;

	for (i = 0; i < len; i++) {
		src[i] = (uint8_t)(seed + i * 7);
		dst[i] = (uint8_t)~src[i];
	}
	if (own_edu_copy(c, m->iova, m->iova + offset, len))
		return -1;
	return memcmp(src, dst, len) ? -1 : 0;
}

static long read_key(const char *path, const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen)) {
			val = strtol(line + klen, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

long own_vmlck_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return read_key(path, "VmLck:");
}

long own_pinned_pages(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	/* Fold the per-cpu deltas into the totals before reading them. */
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			perror("stat_refresh");
		close(fd);
	}
	return read_key("/proc/vmstat", "nr_foll_pin_acquired ") -
	       read_key("/proc/vmstat", "nr_foll_pin_released ");
}

long own_wait_pinned(long want, int ms)
{
	struct timespec ts = { .tv_nsec = 1000000 };
	long now = own_pinned_pages();

	while (now != want && ms-- > 0) {
		nanosleep(&ts, NULL);
		now = own_pinned_pages();
	}
	return now;
}

int own_set_memlock(unsigned long bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

int own_drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int i;

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	for (i = 0; i < 2; i++) {
		data[i].effective &= ~(i == CAP_TO_INDEX(CAP_IPC_LOCK) ?
				       CAP_TO_MASK(CAP_IPC_LOCK) : 0);
		data[i].permitted &= ~(i == CAP_TO_INDEX(CAP_IPC_LOCK) ?
				       CAP_TO_MASK(CAP_IPC_LOCK) : 0);
	}
	if (syscall(SYS_capset, &hdr, data))
		return -1;
	return prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0);
}

int own_has_tracker(pid_t pid)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[vfio-dma-owner]"))
			n++;
	fclose(f);
	return n;
}
