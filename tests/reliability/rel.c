// SPDX-License-Identifier: GPL-2.0
/*
 * rel.c - helpers shared by the reliability tests; see rel.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "rel.h"
#include "vfio_test_mdev.h"

#define MDEV_TYPE_DIR	"/sys/class/mdev_bus/" VFIO_TEST_MDEV_PARENT \
			"/mdev_supported_types/" VFIO_TEST_MDEV_TYPE

int rel_fdinfo(pid_t pid, int fd, struct rel_fdinfo *fi)
{
	char path[64], line[256];
	int seen = 0;
	FILE *f;

	memset(fi, 0, sizeof(*fi));
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		seen += sscanf(line, "owner_tgid: %d", &fi->owner_tgid) == 1;
		seen += sscanf(line, "owner_comm: %31s", fi->owner_comm) == 1;
		seen += sscanf(line, "mappings: %u", &fi->mappings) == 1;
		seen += sscanf(line, "bytes_mapped: %llu", &fi->bytes) == 1;
		seen += sscanf(line, "locked_pages: %llu", &fi->locked) == 1;
		seen += sscanf(line, "staged_vaddrs: %u", &fi->staged) == 1;
		seen += sscanf(line, "owner_tracker: %15s", fi->tracker) == 1;
	}
	fclose(f);
	/* owner_comm is empty without an owner: six keys at least. */
	return seen >= 6 ? 0 : -ENOENT;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno ?: -EIO;
	close(fd);
	return ret;
}

int rel_mdev_open(struct rel_mdev *m)
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
	ret = write_str(MDEV_TYPE_DIR "/create", m->uuid);
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
	rel_mdev_close(m);
	return ret;
}

void rel_mdev_close(struct rel_mdev *m)
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
		write_str(path, "1");
		m->uuid[0] = 0;
	}
}

int rel_mdev_op(int device, uint32_t op, uint64_t iova, uint32_t n,
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

int rel_pidfd(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

int rel_pidfd_wait(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -ETIMEDOUT;
}

long long rel_pins_wait(long long want, int ms)
{
	long long now = pinned_pages();

	while (now != want && ms > 0) {
		rel_sleep_ms(2);
		ms -= 2;
		now = pinned_pages();
	}
	return now;
}

long rel_vmlck_pages(pid_t pid)
{
	long kb = proc_vmlck_kb(pid);

	return kb < 0 ? -1 : kb / 4;
}

uint64_t rel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void rel_spin_ns(uint64_t ns)
{
	uint64_t end = rel_now_ns() + ns;

	while (rel_now_ns() < end)
		;
}

void rel_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

uint64_t rel_fresh_seed(void)
{
	uint64_t s = rel_now_ns() ^ ((uint64_t)getpid() << 32);

	/* Short enough to type back on a command line. */
	return rel_rand(&s) % 1000000000ULL;
}

static int tap_n;

void tap_header(void)
{
	printf("TAP version 13\n");
	fflush(stdout);
}

void tap_result(bool ok, const char *directive, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (directive)
		printf(" # %s", directive);
	printf("\n");
	fflush(stdout);
}

void tap_plan(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}
