/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Interface of vfio_test_mdev.ko, the vfio-test-mdev mediated device
 *
 * vfio_test_mdev.ko is a test driver: a mediated device with no registers,
 * whose only function is to pin, unpin, read and write the DMA memory of its
 * container on request, from a kernel thread, as a real mediated driver does
 * when its device does DMA.
 *
 * Creating a device and finding its group (as root):
 *
 *	insmod tests/mdev/vfio_test_mdev.ko
 *	uuid=$(cat /proc/sys/kernel/random/uuid)
 *	echo $uuid > /sys/class/mdev_bus/vfio-test-mdev/mdev_supported_types/vfio-test-mdev-1/create
 *	group=$(basename "$(readlink /sys/bus/mdev/devices/$uuid/iommu_group)")
 *	# the group's node is /dev/vfio/$group
 *	...
 *	echo 1 > /sys/bus/mdev/devices/$uuid/remove
 *
 * The parent device is /sys/class/vfio-test-mdev/vfio-test-mdev (also
 * reachable as /sys/class/mdev_bus/vfio-test-mdev); it has one mdev type,
 * VFIO_TEST_MDEV_TYPE, with VFIO_TEST_MDEV_MAX_INSTANCES instances.  Each
 * device is alone in an emulated-IOMMU group, which can only be used with a
 * VFIO_TYPE1v2_IOMMU container:
 *
 *	container = open("/dev/vfio/vfio", O_RDWR);
 *	group = open("/dev/vfio/<group>", O_RDWR);
 *	ioctl(group, VFIO_GROUP_SET_CONTAINER, &container);
 *	ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
 *	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "<uuid>");
 *
 * A container that holds only mediated-device groups has no IOMMU domain:
 * VFIO_IOMMU_MAP_DMA pins nothing, and pages are pinned, and charged to the
 * owner's locked memory (VmLck), only when the driver pins them.
 *
 * The device fd accepts one ioctl, VFIO_TEST_MDEV_OP, and nothing else
 * (ENOTTY).  Every operation runs on the device's own workqueue, in a kernel
 * thread with no mm, not in the caller's context; the caller sleeps until it
 * is done.  Operations on one device run one at a time, in order.
 */
#ifndef _UAPI_VFIO_TEST_MDEV_H
#define _UAPI_VFIO_TEST_MDEV_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#define VFIO_TEST_MDEV_PARENT		"vfio-test-mdev"
#define VFIO_TEST_MDEV_TYPE		"vfio-test-mdev-1"
#define VFIO_TEST_MDEV_MAX_INSTANCES	64

/* Most pages one PIN or UNPIN handles: VFIO_PIN_PAGES_MAX_ENTRIES */
#define VFIO_TEST_MDEV_MAX_PIN		512
/* Most bytes one READ or WRITE moves */
#define VFIO_TEST_MDEV_MAX_RW		(64 * 1024)

/**
 * VFIO_TEST_MDEV_OP - _IO(VFIO_TYPE, VFIO_BASE + 60)
 *
 * Run one operation, struct vfio_test_mdev_op.op, on the device's workqueue
 * and wait for it.  The caller sets argsz to sizeof(struct vfio_test_mdev_op)
 * at least, and op, iova, npage, len and data as the operation needs them;
 * pad is ignored.  The kernel writes back result, wait_ns and pad (0).
 *
 * Operations (result is -errno on failure):
 *
 * VFIO_TEST_MDEV_PIN: vfio_pin_pages() of npage pages (1 to
 *	VFIO_TEST_MDEV_MAX_PIN) at iova, page aligned, with IOMMU_READ |
 *	IOMMU_WRITE.  The driver keeps the pages pinned until UNPIN, until the
 *	range is unmapped from the container (the .dma_unmap callback), or
 *	until the device is closed.  Pinning a page the driver already holds
 *	pins it once more.  result: npage, or what vfio_pin_pages() returned:
 *	EINVAL if a page is not mapped, EPERM if the mapping lacks READ or
 *	WRITE, ENOMEM if the owner's RLIMIT_MEMLOCK is exceeded, ENODEV if the
 *	owner's mm is gone, ...
 * VFIO_TEST_MDEV_UNPIN: vfio_unpin_pages() of npage pages (1 to
 *	VFIO_TEST_MDEV_MAX_PIN) at iova, page aligned, once each.  result: 0;
 *	ENOENT if the driver does not hold every page of the range, and then
 *	nothing is unpinned.
 * VFIO_TEST_MDEV_READ: vfio_dma_rw() of len bytes (1 to
 *	VFIO_TEST_MDEV_MAX_RW) from iova into a kernel buffer, copied to the
 *	caller's buffer at data.  result: 0.
 * VFIO_TEST_MDEV_WRITE: copy len bytes (1 to VFIO_TEST_MDEV_MAX_RW) from the
 *	caller's buffer at data into a kernel buffer, then vfio_dma_rw() them
 *	to iova.  result: 0.
 * VFIO_TEST_MDEV_PIN_COUNT: result: the number of page pins the driver
 *	holds (a page pinned twice counts twice).
 * VFIO_TEST_MDEV_WRITE_PINNED: write len bytes from the caller's buffer at
 *	data into the page the driver holds pinned at iova, through a kernel
 *	mapping of that page (kmap_local_page()), not through the IOMMU
 *	mapping or the process's address space; iova need not be aligned but
 *	the bytes must stay within one page.  result: 0; ENOENT if the driver
 *	does not hold the page.
 * VFIO_TEST_MDEV_READ_PINNED: the same, reading the pinned page into the
 *	caller's buffer.
 * VFIO_TEST_MDEV_PIN_FAIL_NTH: PIN, with fault injection in the kernel
 *	thread that pins, where the caller's own fail-nth cannot reach: the
 *	thread sets its fail-nth count to len right before vfio_pin_pages()
 *	and back to 0 right after, so that the len-th fault site (failslab,
 *	fail_page_alloc) that call reaches fails, as if len had been written
 *	to the thread's /proc/PID/task/TID/fail-nth.  len must be at least 1.
 *	On return len holds what was left of the count: 0 if the fault was
 *	injected.  result: as for PIN.  The ioctl fails with EOPNOTSUPP on
 *	a kernel without CONFIG_FAULT_INJECTION.
 *
 * wait_ns: for PIN, UNPIN, READ and WRITE, the time in nanoseconds that the
 * vfio_pin_pages(), vfio_unpin_pages() or vfio_dma_rw() call took, measured
 * in the kernel thread around the call with ktime_get_ns(): it includes the
 * time spent waiting for the container's lock, for instance while another
 * process changes the owner of the mappings.  0 for other operations.
 *
 * Return: 0 when the operation ran, whether or not it succeeded (see result),
 * or -1 with errno: EINVAL for argsz below the size of the structure, an
 * unknown op, or a count, length or alignment out of range; EFAULT for a bad
 * pointer; ENOMEM if the kernel buffer cannot be allocated.
 */
struct vfio_test_mdev_op {
	__u32	argsz;
	__u32	op;
#define VFIO_TEST_MDEV_PIN		1
#define VFIO_TEST_MDEV_UNPIN		2
#define VFIO_TEST_MDEV_READ		3
#define VFIO_TEST_MDEV_WRITE		4
#define VFIO_TEST_MDEV_PIN_COUNT	5
#define VFIO_TEST_MDEV_WRITE_PINNED	6
#define VFIO_TEST_MDEV_READ_PINNED	7
#define VFIO_TEST_MDEV_PIN_FAIL_NTH	8
	__u64	iova;		/* IO virtual address */
	__u32	npage;		/* PIN, UNPIN: number of pages */
	__u32	len;		/* READ, WRITE, *_PINNED: number of bytes;
				 * PIN_FAIL_NTH: in/out fail-nth count */
	__u64	data;		/* READ, WRITE, *_PINNED: user buffer */
	__s32	result;		/* out: see above */
	__u32	pad;		/* out: 0 */
	__u64	wait_ns;	/* out: time the vfio call took */
};

#define VFIO_TEST_MDEV_OP		_IO(VFIO_TYPE, VFIO_BASE + 60)

#endif /* _UAPI_VFIO_TEST_MDEV_H */
