/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the DMA owner tests and their exec helper, on top of
 * tests/lib/vfio_test.h: one container with the edu device, guest-RAM-like
 * memfd buffers mapped for DMA, the new ioctls, checks against
 * independent counters, and a vfio_test_mdev device in its own container.
 */
#ifndef OWNER_H
#define OWNER_H

#include <stdint.h>
#include <sys/types.h>

#include "vfio_test.h"

#define OWN_PAGE	4096UL
#define OWN_MAX_MAPS	64

/* One DMA mapping of a memfd: what the test knows of it. */
struct own_map {
	int memfd;
	void *vaddr;		/* in this process */
	uint64_t iova;
	size_t size;
};

struct own_ctx {
	struct vfio_edu edu;	/* container, group, device, BAR0 */
	int nmaps;
	struct own_map maps[OWN_MAX_MAPS];
};

/* Ioctl wrappers: 0 or the positive value on success, -errno on failure. */
int own_stage(int container, void *vaddr, uint64_t iova, size_t size);
int own_change_owner(int container);
int own_check_extension(int container, unsigned long ext);

/* Open the first edu device (vfio_edu_open()) with no mappings yet. */
int own_open(struct own_ctx *c);
void own_close(struct own_ctx *c);

/* Map a new memfd buffer of @size at @iova and record it. */
int own_add_map(struct own_ctx *c, uint64_t iova, size_t size);

/*
 * Prove DMA reaches mapping @m: write a pattern at its start, make the edu
 * device copy it RAM -> device -> RAM to @offset in the same mapping, and
 * compare.  0 if it arrived.
 */
int own_dma_check(struct own_ctx *c, struct own_map *m, size_t offset,
		  uint8_t seed);

/* Wait until pinned_pages() == @want, up to @ms; returns the last value. */
long own_wait_pinned(long want, int ms);
/* Wait until VmLck of @pid is @want kB, up to @ms; returns the last value. */
long own_wait_vmlck(pid_t pid, long want, int ms);
int own_drop_ipc_lock(void);		/* from all capability sets */
int own_has_tracker(pid_t pid);		/* "[vfio-dma-owner]" vmas in maps */
/*
 * The number of "[vfio-dma-owner]" vmas of @pid (0: this process), and the
 * start of the last one in *@start if not NULL; -errno if maps is unreadable.
 */
int own_trackers(pid_t pid, unsigned long *start);

/* Write the string S to file PATH (sysfs, debugfs): 0 or -errno. */
int own_write_str(const char *path, const char *s);

/* A device of vfio_test_mdev.ko (tests/mdev), alone in its own container. */
struct own_mdev {
	char uuid[64];
	int container, group, device;
};

/*
 * Create a device and open it in a new type1v2 container. Returns 0,
 * -ENODEV if the module is not loaded, or another -errno.
 */
int own_mdev_open(struct own_mdev *m);
/* Close the fds and remove the device. Safe on a failed open. */
void own_mdev_close(struct own_mdev *m);

/*
 * Run VFIO_TEST_MDEV_OP OP on DEVICE: IOVA, N (pages or bytes as the
 * operation takes), DATA. Returns the operation's result (npage or 0 on
 * success, -errno from vfio), or -1000 - errno if the ioctl itself failed.
 * Stores wait_ns in *WAIT_NS if not NULL.
 */
int own_mdev_op(int device, uint32_t op, uint64_t iova, uint32_t n,
		void *data, uint64_t *wait_ns);

#endif
