/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the DMA owner tests and their exec helper: one container with
 * the edu device, guest-RAM-like memfd buffers mapped for DMA, and checks
 * against independent counters.
 */
#ifndef OWNER_H
#define OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
	int container;
	int group;
	int device;		/* -1 when the test has no device */
	volatile uint8_t *bar;	/* edu BAR0, NULL without a device */
	int nmaps;
	struct own_map maps[OWN_MAX_MAPS];
};

/* Ioctl wrappers: 0 or the positive value on success, -errno on failure. */
int own_map_dma(int container, void *vaddr, uint64_t iova, size_t size,
		uint32_t flags);
int own_unmap_dma(int container, uint64_t iova, size_t size, uint32_t flags);
int own_stage(int container, void *vaddr, uint64_t iova, size_t size);
int own_change_owner(int container);
int own_check_extension(int container, unsigned long ext);

/* Open the container, attach the first edu group, TYPE1v2, device + BAR. */
int own_open(struct own_ctx *c, bool with_device);
/* Re-attach to descriptors inherited across exec (BAR mapped again). */
int own_adopt(struct own_ctx *c, int container, int group, int device);
void own_close(struct own_ctx *c);

/* A shared memfd buffer of @size bytes mapped at any address. */
void *own_memfd_buf(size_t size, int *memfd);
/* Map a new memfd buffer of @size at @iova and record it. */
int own_add_map(struct own_ctx *c, uint64_t iova, size_t size);

/*
 * Make the edu device copy @len bytes from @src_iova to @dst_iova through
 * its buffer: RAM -> device -> RAM, two real DMAs through the IOMMU.
 * Returns 0, or -1 when the device reports no completion.
 */
int own_edu_copy(struct own_ctx *c, uint64_t src_iova, uint64_t dst_iova,
		 size_t len);
/*
 * Prove DMA reaches mapping @m: write a pattern at its start, copy it with
 * the device to @offset in the same mapping, and compare.  0 if it arrived.
 */
int own_dma_check(struct own_ctx *c, struct own_map *m, size_t offset,
		  uint8_t seed);

/* Independent counters */
long own_vmlck_kb(pid_t pid);		/* VmLck of /proc/PID/status */
long own_pinned_pages(void);		/* nr_foll_pin_acquired - released */
/* Wait until own_pinned_pages() == @want, up to @ms; returns the last value. */
long own_wait_pinned(long want, int ms);
int own_set_memlock(unsigned long bytes);	/* soft and hard limit */
int own_drop_ipc_lock(void);			/* from all capability sets */
int own_has_tracker(pid_t pid);		/* "[vfio-dma-owner]" vmas in maps */

#endif
