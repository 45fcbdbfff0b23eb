/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfio_test.h - helpers for tests that drive QEMU's edu device through vfio
 * type1 in the test VM (tests/vm/run), and read the accounting that vfio
 * changes: VmLck of a process, FOLL_PIN counters, RLIMIT_MEMLOCK.
 *
 * Functions that can fail return a negative errno and print why on stderr,
 * as a "# " line so that TAP output stays valid.
 */
#ifndef VFIO_TEST_H
#define VFIO_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/*
 * QEMU's edu device (hw/misc/edu.c): BAR0 holds the registers, a DMA engine
 * copies between guest memory (through the IOMMU) and a 4 KiB buffer inside
 * the device. A transfer completes about 100 ms of virtual time after it is
 * started. The device masks DMA addresses to 28 bits, so IOVAs must stay
 * below 256 MiB. QEMU up to 7.2 (Debian 12) stops with a "hardware error"
 * when a transfer reaches the last byte of the device buffer: a transfer
 * moves at most EDU_DMA_MAX bytes, and edu_dma_*() refuse more.
 */
#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_BAR0_SIZE		(1UL << 20)
#define EDU_REG_ID		0x00	/* reads 0x010000ed */
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_CMD_START	0x1	/* set to start, clears when done */
#define EDU_DMA_CMD_TO_RAM	0x2	/* direction: device buffer -> RAM */
#define EDU_BUF_OFFSET		0x40000	/* the device buffer, in DMA addresses */
#define EDU_BUF_SIZE		4096
#define EDU_DMA_MAX		(EDU_BUF_SIZE - 1)
#define EDU_IOVA_LIMIT		(1ULL << 28)

/* How long edu_dma_*() wait for a transfer before giving up. */
#define EDU_DMA_TIMEOUT_MS	5000

/* An edu device opened through vfio: container, group and device. */
struct vfio_edu {
	int container;		/* /dev/vfio/vfio, set to type1v2 */
	int group;		/* /dev/vfio/N */
	int device;		/* the device fd */
	int group_id;		/* N */
	char bdf[32];		/* PCI address, e.g. 0000:00:03.0 */
	void *bar0;		/* BAR0 mapped, EDU_BAR0_SIZE bytes */
	uint64_t config_offset;	/* of the PCI config region in the device fd */
};

/*
 * Find the INDEX-th edu device bound to vfio-pci: from VDO_EDU_BDFS and
 * VDO_EDU_GROUPS (set by the VM's init), else from /sys/bus/pci/drivers/vfio-pci.
 * Returns 0 and fills BDF (LEN bytes) and GROUP_ID, or -ENOENT.
 */
int vfio_edu_find(int index, char *bdf, size_t len, int *group_id);

/* Returns an fd of /dev/vfio/vfio with the expected API version, or -errno. */
int vfio_container_open(void);

/*
 * Open /dev/vfio/GROUP_ID, check that it is viable and add it to CONTAINER.
 * Returns the group fd or -errno.
 */
int vfio_group_attach(int container, int group_id);

/* Select the type1v2 IOMMU for CONTAINER. Returns 0 or -errno. */
int vfio_set_type1v2(int container);

/* Returns the fd of device BDF in GROUP, or -errno. */
int vfio_device_get(int group, const char *bdf);

/*
 * Open the INDEX-th edu device: container, group, type1v2, device fd, BAR0
 * mapped and bus mastering enabled. Returns 0 or -errno; on failure nothing
 * stays open.
 */
int vfio_edu_open(struct vfio_edu *edu, int index);

/*
 * Take over the descriptors of the first edu device that a process kept
 * across exec: map BAR0 again and enable bus mastering. Returns 0 or -errno.
 */
int vfio_edu_adopt(struct vfio_edu *edu, int container, int group,
		   int device);

/* Undo vfio_edu_open(). Safe on a zeroed or already closed struct. */
void vfio_edu_close(struct vfio_edu *edu);

/*
 * Map SIZE bytes at VADDR to IOVA, readable and writable by the device.
 * Returns 0 or -errno (the errno of VFIO_IOMMU_MAP_DMA).
 */
int vfio_dma_map(int container, void *vaddr, uint64_t iova, uint64_t size);

/* The same with the map FLAGS given as they are, e.g. to stage a vaddr. */
int vfio_dma_map_flags(int container, void *vaddr, uint64_t iova,
		       uint64_t size, uint32_t flags);

/*
 * Unmap [IOVA, IOVA + SIZE). Returns the number of bytes unmapped (>= 0) or
 * -errno.
 */
int64_t vfio_dma_unmap(int container, uint64_t iova, uint64_t size);

/* The same with the unmap FLAGS given as they are. */
int64_t vfio_dma_unmap_flags(int container, uint64_t iova, uint64_t size,
			     uint32_t flags);

/*
 * Allocate SIZE bytes of shared memory backed by a memfd, zero-filled.
 * Returns the mapping and stores the memfd in *FD (if FD is not NULL, else
 * the fd is closed), or returns NULL with errno set.
 */
void *memfd_buffer(size_t size, int *fd);

/*
 * DMA LEN bytes from RAM at IOVA into the device buffer at byte OFFSET, with
 * OFFSET + LEN <= EDU_DMA_MAX. Returns 0 once the device reports completion,
 * -EINVAL for a range outside the buffer, -EBUSY if a transfer is already
 * running, -ETIMEDOUT if it never completes.
 * A fault in the IOMMU is not seen here: the transfer still completes.
 */
int edu_dma_to_device(struct vfio_edu *edu, uint64_t iova, uint32_t offset,
		      uint32_t len);

/* The same in the other direction: device buffer at OFFSET -> RAM at IOVA. */
int edu_dma_to_ram(struct vfio_edu *edu, uint32_t offset, uint64_t iova,
		   uint32_t len);

/*
 * Returns the VmLck of process PID (0: the caller) in kB, i.e. its
 * mm->locked_vm, or -errno.
 */
long proc_vmlck_kb(pid_t pid);

/* Returns the value of NAME in /proc/vmstat, or -errno. */
long long vmstat_read(const char *name);

/*
 * Returns the number of pages pinned with FOLL_PIN system-wide right now,
 * nr_foll_pin_acquired - nr_foll_pin_released, or -errno. Exact only as
 * root, which can fold the per-CPU counters in first (vm.stat_refresh).
 */
long long pinned_pages(void);

/* Returns the soft RLIMIT_MEMLOCK in bytes (RLIM_INFINITY if unlimited). */
rlim_t memlock_limit(void);

/* Set RLIMIT_MEMLOCK to SOFT and HARD bytes. Returns 0 or -errno. */
int memlock_set(rlim_t soft, rlim_t hard);

#endif /* VFIO_TEST_H */
