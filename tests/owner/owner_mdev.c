// SPDX-License-Identifier: GPL-2.0
/*
 * The vfio-test-mdev device of tests/mdev for the DMA owner tests and the
 * benchmark: create one in its own container, run its operations.  See
 * own_mdev_open() in owner.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>

#include "owner.h"
#include "vfio_test_mdev.h"

#define MDEV_TYPE_DIR	"/sys/class/mdev_bus/" VFIO_TEST_MDEV_PARENT \
			"/mdev_supported_types/" VFIO_TEST_MDEV_TYPE

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		n = -errno;
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : n < 0 ? n : -EIO;
}

/* Print "# own_mdev: WHAT: error" on stderr and return -ERR. */
static int mdev_fail(int err, const char *what)
{
	fprintf(stderr, "# own_mdev: %s: %s\n", what, strerror(err));
	return -err;
}

int own_mdev_open(struct own_mdev *m)
{
	char path[320], link[256];
	const char *slash;
	ssize_t n;
	FILE *f;
	int ret;

	memset(m, 0, sizeof(*m));
	m->container = m->group = m->device = -1;
	f = fopen("/proc/sys/kernel/random/uuid", "r");
	if (!f)
		return mdev_fail(errno, "/proc/sys/kernel/random/uuid");
	ret = fscanf(f, "%63s", m->uuid) == 1 ? 0 : -EIO;
	fclose(f);
	if (ret)
		return mdev_fail(EIO, "no uuid");
	ret = write_file(MDEV_TYPE_DIR "/create", m->uuid);
	if (ret) {
		m->uuid[0] = 0;
		return mdev_fail(-ret,
				 "create: is vfio_test_mdev.ko loaded?");
	}

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 m->uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		ret = mdev_fail(errno, path);
		goto err;
	}
	link[n] = 0;
	slash = strrchr(link, '/');
	snprintf(path, sizeof(path), "/dev/vfio/%s", slash ? slash + 1 : link);
	m->container = vfio_container_open();
	if (m->container < 0) {
		ret = m->container;
		goto err;
	}
	m->group = open(path, O_RDWR | O_CLOEXEC);
	if (m->group < 0) {
		ret = mdev_fail(errno, path);
		goto err;
	}
	if (ioctl(m->group, VFIO_GROUP_SET_CONTAINER, &m->container)) {
		ret = mdev_fail(errno, "VFIO_GROUP_SET_CONTAINER");
		goto err;
	}
	ret = vfio_set_type1v2(m->container);
	if (ret)
		goto err;
	m->device = ioctl(m->group, VFIO_GROUP_GET_DEVICE_FD, m->uuid);
	if (m->device < 0) {
		ret = mdev_fail(errno, "VFIO_GROUP_GET_DEVICE_FD");
		goto err;
	}
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
		write_file(path, "1");
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
