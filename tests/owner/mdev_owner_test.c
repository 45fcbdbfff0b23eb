// SPDX-License-Identifier: GPL-2.0
/*
 * Mediated devices across a change of DMA owner, with vfio_test_mdev.ko:
 * its kernel thread pins pages and accesses memory through
 * vfio_pin_pages() and vfio_dma_rw(), for the owner's mm, before and after
 * a change of owner, after the owner is gone, and while a change runs.
 *
 * The module must be loaded (tests/run-suite does it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "owner.h"
#include "vfio_test_mdev.h"

#define MiB		(1UL << 20)
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IOVA		(1 * MiB)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

FIXTURE(mdev)
{
	struct own_mdev m;
	int container, device;
	int memfd;
	uint8_t *buf;
	long pinned0;
};

FIXTURE_SETUP(mdev)
{
	int ret;

	self->pinned0 = pinned_pages();
	ret = own_mdev_open(&self->m);
	ASSERT_EQ(0, ret) {
		TH_LOG("is vfio_test_mdev.ko loaded? %s", strerror(-ret));
	}
	self->container = self->m.container;
	self->device = self->m.device;
	self->buf = memfd_buffer(2 * MiB, &self->memfd);
	ASSERT_NE(NULL, self->buf);
	/* Only the mediated device pins, and only when it asks. */
	ASSERT_EQ(0, vfio_dma_map_flags(self->container, self->buf, IOVA, 2 * MiB,
				 RW));
	ASSERT_EQ(0, proc_vmlck_kb(getpid()));
}

FIXTURE_TEARDOWN(mdev)
{
	own_mdev_close(&self->m);
	EXPECT_EQ(self->pinned0, own_wait_pinned(self->pinned0, 2000));
}

static uint64_t now_ns(void);

/*
 * A child that takes ownership, reports how long VFIO_CHANGE_DMA_OWNER took
 * in *@change_ns (if not NULL), then waits to be killed.
 */
static pid_t child_takes_ownership(int container, uint64_t *change_ns)
{
	uint64_t t;
	int go[2];
	pid_t pid;

	if (pipe(go))
		return -1;
	pid = fork();
	if (!pid) {
		close(go[0]);
		t = now_ns();
		if (own_change_owner(container))
			_exit(1);
		t = now_ns() - t;
		if (write(go[1], &t, sizeof(t)) != sizeof(t))
			_exit(1);
		pause();
		_exit(0);
	}
	close(go[1]);
	if (pid < 0 || read(go[0], &t, sizeof(t)) != sizeof(t))
		pid = -1;
	else if (change_ns)
		*change_ns = t;
	close(go[0]);
	return pid;
}

TEST_F(mdev, pins_and_access_follow_the_owner)
{
	char out[16] = "owner-changes!!", in[16] = { 0 };
	int status;
	pid_t child;

	/* The owner's mm is charged when the device pins. */
	ASSERT_EQ(4, own_mdev_op(self->device, VFIO_TEST_MDEV_PIN, IOVA, 4, NULL,
			     NULL));
	EXPECT_EQ(16, proc_vmlck_kb(getpid()));
	EXPECT_EQ(0, own_mdev_op(self->device, VFIO_TEST_MDEV_WRITE, IOVA + 64,
			     sizeof(out), out, NULL));
	EXPECT_EQ(0, memcmp(self->buf + 64, out, sizeof(out)));

	/* A child takes over: the pinned pages' charge moves with it. */
	child = child_takes_ownership(self->container, NULL);
	ASSERT_LT(0, child);
	EXPECT_EQ(0, proc_vmlck_kb(getpid()));
	EXPECT_EQ(16, proc_vmlck_kb(child));
	/* New pins are charged to the child, access goes through its mm. */
	EXPECT_EQ(4, own_mdev_op(self->device, VFIO_TEST_MDEV_PIN, IOVA + MiB, 4,
			     NULL, NULL));
	EXPECT_EQ(32, proc_vmlck_kb(child));
	EXPECT_EQ(0, proc_vmlck_kb(getpid()));
	EXPECT_EQ(0, own_mdev_op(self->device, VFIO_TEST_MDEV_READ, IOVA + 64,
			     sizeof(in), in, NULL));
	EXPECT_EQ(0, memcmp(in, out, sizeof(out)));
	out[0] = 'O';
	EXPECT_EQ(0, own_mdev_op(self->device, VFIO_TEST_MDEV_WRITE, IOVA + MiB,
			     sizeof(out), out, NULL));
	EXPECT_EQ(0, memcmp(self->buf + MiB, out, sizeof(out)));

	/* And back: everything the device pinned is charged here again. */
	EXPECT_EQ(0, own_change_owner(self->container));
	EXPECT_EQ(32, proc_vmlck_kb(getpid()));
	EXPECT_EQ(0, proc_vmlck_kb(child));
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	EXPECT_EQ(8, own_mdev_op(self->device, VFIO_TEST_MDEV_PIN_COUNT, 0, 0,
			     NULL, NULL));
	EXPECT_EQ(0, own_mdev_op(self->device, VFIO_TEST_MDEV_UNPIN, IOVA, 4, NULL,
			     NULL));
	EXPECT_EQ(16, proc_vmlck_kb(getpid()));
}

TEST_F(mdev, pins_fail_cleanly_once_the_owner_is_gone)
{
	int status;
	pid_t child;

	ASSERT_EQ(4, own_mdev_op(self->device, VFIO_TEST_MDEV_PIN, IOVA, 4, NULL,
			     NULL));
	child = child_takes_ownership(self->container, NULL);
	ASSERT_LT(0, child);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* The owner's exit unmapped everything; the device was told. */
	EXPECT_EQ(self->pinned0, own_wait_pinned(self->pinned0, 2000));
	EXPECT_EQ(0, own_mdev_op(self->device, VFIO_TEST_MDEV_PIN_COUNT, 0, 0,
			     NULL, NULL));
	EXPECT_EQ(-EINVAL, own_mdev_op(self->device, VFIO_TEST_MDEV_PIN, IOVA, 1,
				   NULL, NULL));
	EXPECT_EQ(0, proc_vmlck_kb(getpid()));
	/* The container has no owner: the test may map again. */
	EXPECT_EQ(0, vfio_dma_map_flags(self->container, self->buf, IOVA, 2 * MiB,
				 RW));
	EXPECT_EQ(1, own_mdev_op(self->device, VFIO_TEST_MDEV_PIN, IOVA, 1, NULL,
			     NULL));
	EXPECT_EQ(4, proc_vmlck_kb(getpid()));
}

/*
 * Pins issued while ownership moves back and forth wait only while a
 * change of owner holds the container: never for user space.
 */
struct pinner {
	int device;
	volatile int stop;
	uint64_t max_wait_ns;
	int failures;
	int pins;
};

static void *pin_loop(void *arg)
{
	struct pinner *p = arg;
	uint64_t wait = 0;

	while (!p->stop) {
		if (own_mdev_op(p->device, VFIO_TEST_MDEV_PIN, IOVA, 1, NULL,
			    &wait) != 1 ||
		    own_mdev_op(p->device, VFIO_TEST_MDEV_UNPIN, IOVA, 1, NULL,
			    NULL) != 0)
			p->failures++;
		if (wait > p->max_wait_ns)
			p->max_wait_ns = wait;
		p->pins++;
	}
	return NULL;
}

TEST_F(mdev, pins_wait_only_while_the_change_runs)
{
	struct pinner p = { .device = self->device };
	uint64_t t, max_change_ns = 0;
	pthread_t thread;
	int i, nmaps = 2048, status;
	uint8_t *many;
	pid_t child;

	/* Many mappings make a change of owner take a while. */
	many = mmap(NULL, nmaps * OWN_PAGE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, many);
	for (i = 0; i < nmaps; i++)
		ASSERT_EQ(0, vfio_dma_map_flags(self->container, many + i * OWN_PAGE,
					 64 * MiB + i * OWN_PAGE, OWN_PAGE,
					 RW));

	ASSERT_EQ(0, pthread_create(&thread, NULL, pin_loop, &p));
	for (i = 0; i < 5; i++) {
		child = child_takes_ownership(self->container, &t);
		ASSERT_LT(0, child);
		if (t > max_change_ns)
			max_change_ns = t;
		t = now_ns();
		EXPECT_EQ(0, own_change_owner(self->container));
		t = now_ns() - t;
		if (t > max_change_ns)
			max_change_ns = t;
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	p.stop = 1;
	pthread_join(thread, NULL);

	TH_LOG("%d pins during 10 changes of owner of %d mappings: longest pin %.3f ms, longest change of owner %.3f ms, ratio %.2f",
	       p.pins, nmaps + 1, p.max_wait_ns / 1e6, max_change_ns / 1e6,
	       (double)p.max_wait_ns / max_change_ns);
	EXPECT_EQ(0, p.failures);
	EXPECT_LT(0, p.pins);
	/* A pin that waited for user space would wait for seconds. */
	EXPECT_GT(max_change_ns + 1000000000ULL, p.max_wait_ns);
	munmap(many, nmaps * OWN_PAGE);
}

TEST_HARNESS_MAIN
