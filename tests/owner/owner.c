// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for the DMA owner tests: the new ioctls, DMA checks, capabilities
 * the owner's tracker and vfio_test_mdev devices, on top of
 * tests/lib/vfio_test.c.
 */
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
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/vfio.h>

#include "owner.h"
#include "vfio_test_mdev.h"

int own_stage(int container, void *vaddr, uint64_t iova, size_t size)
{
	return vfio_dma_map_flags(container, vaddr, iova, size,
				  VFIO_DMA_MAP_FLAG_VADDR);
}

int own_change_owner(int container)
{
	return ioctl(container, VFIO_CHANGE_DMA_OWNER) ? -errno : 0;
}

int own_check_extension(int container, unsigned long ext)
{
	int ret = ioctl(container, VFIO_CHECK_EXTENSION, ext);

	return ret < 0 ? -errno : ret;
}

int own_open(struct own_ctx *c)
{
	memset(c, 0, sizeof(*c));
	return vfio_edu_open(&c->edu, 0);
}

void own_close(struct own_ctx *c)
{
	int i;

	vfio_edu_close(&c->edu);
	for (i = 0; i < c->nmaps; i++) {
		munmap(c->maps[i].vaddr, c->maps[i].size);
		close(c->maps[i].memfd);
	}
	c->nmaps = 0;
}

int own_add_map(struct own_ctx *c, uint64_t iova, size_t size)
{
	struct own_map *m = &c->maps[c->nmaps];
	int ret;

	if (c->nmaps == OWN_MAX_MAPS)
		return -ENOSPC;
	m->vaddr = memfd_buffer(size, &m->memfd);
	if (!m->vaddr)
		return -errno;
	m->iova = iova;
	m->size = size;
	ret = vfio_dma_map(c->edu.container, m->vaddr, iova, size);
	if (ret) {
		munmap(m->vaddr, size);
		close(m->memfd);
		return ret;
	}
	c->nmaps++;
	return 0;
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
	if (edu_dma_to_device(&c->edu, m->iova, 0, len) ||
	    edu_dma_to_ram(&c->edu, 0, m->iova + offset, len))
		return -1;
	return memcmp(src, dst, len) ? -1 : 0;
}

long own_wait_pinned(long want, int ms)
{
	struct timespec ts = { .tv_nsec = 1000000 };
	long now = pinned_pages();

	while (now != want && ms-- > 0) {
		nanosleep(&ts, NULL);
		now = pinned_pages();
	}
	return now;
}

long own_wait_vmlck(pid_t pid, long want, int ms)
{
	struct timespec ts = { .tv_nsec = 1000000 };
	long now = proc_vmlck_kb(pid);

	while (now != want && ms-- > 0) {
		nanosleep(&ts, NULL);
		now = proc_vmlck_kb(pid);
	}
	return now;
}

int own_drop_ipc_lock(void)
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
	if (syscall(SYS_capset, &hdr, data))
		return -1;
	return prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0);
}

int own_trackers(pid_t pid, unsigned long *start)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[vfio-dma-owner]")) {
			n++;
			if (start)
				sscanf(line, "%lx-", start);
		}
	fclose(f);
	return n;
}

int own_has_tracker(pid_t pid)
{
	int n = own_trackers(pid, NULL);

	return n < 0 ? -1 : n;
}

int own_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno ?: -EIO;
	close(fd);
	return ret;
}

#define MDEV_TYPE_DIR	"/sys/class/mdev_bus/" VFIO_TEST_MDEV_PARENT \
			"/mdev_supported_types/" VFIO_TEST_MDEV_TYPE

int own_mdev_open(struct own_mdev *m)
{
	char path[256], link[256];
	ssize_t n;
	FILE *f;
	int ret;

	memset(m, 0, sizeof(*m));
	m->container = m->group = m->device = -1;
	if (access(MDEV_TYPE_DIR "/create", W_OK))
		return -ENODEV;
	f = fopen("/proc/sys/kernel/random/uuid", "r");
	if (!f)
		return -errno;
	ret = fscanf(f, "%63s", m->uuid) == 1 ? 0 : -EIO;
	fclose(f);
	if (ret)
		return ret;
	ret = own_write_str(MDEV_TYPE_DIR "/create", m->uuid);
	if (ret) {
		m->uuid[0] = 0;
		return ret;
	}
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 m->uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		ret = -errno;
		goto err;
	}
	link[n] = 0;
	ret = vfio_container_open();
	if (ret < 0)
		goto err;
	m->container = ret;
	ret = vfio_group_attach(m->container, atoi(strrchr(link, '/') + 1));
	if (ret < 0)
		goto err;
	m->group = ret;
	ret = vfio_set_type1v2(m->container);
	if (ret)
		goto err;
	ret = vfio_device_get(m->group, m->uuid);
	if (ret < 0)
		goto err;
	m->device = ret;
	return 0;
err:
	own_mdev_close(m);
	return ret;
}

void own_mdev_close(struct own_mdev *m)
{
	char path[256];

	if (m->device >= 0)
		close(m->device);
	if (m->group >= 0)
		close(m->group);
	if (m->container >= 0)
		close(m->container);
	m->device = m->group = m->container = -1;
	if (m->uuid[0]) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove",
			 m->uuid);
		own_write_str(path, "1");
		m->uuid[0] = 0;
	}
}

int own_mdev_op(int device, uint32_t op, uint64_t iova, uint32_t n,
		void *data, uint64_t *wait_ns)
{
	struct vfio_test_mdev_op req = {
		.argsz = sizeof(req),
		.op = op,
		.iova = iova,
		.npage = n,
		.len = n,
		.data = (uintptr_t)data,
	};

	if (ioctl(device, VFIO_TEST_MDEV_OP, &req))
		return -1000 - errno;
	if (wait_ns)
		*wait_ns = req.wait_ns;
	return req.result;
}
