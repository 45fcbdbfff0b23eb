// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_test_mdev - a mediated device that pins and accesses DMA memory
 *
 * A test driver for vfio type1 with mediated devices.  Each device has no
 * registers; the user drives it with the VFIO_TEST_MDEV_OP ioctl on the
 * device fd, described in vfio_test_mdev.h, to pin and unpin pages of the
 * container's DMA mappings, read and write them with vfio_dma_rw(), and
 * write to the pages it holds pinned through a kernel mapping.
 *
 * Like a real mediated driver, it pins and accesses memory from a kernel
 * thread: each operation is a work item on the device's ordered workqueue.
 *
 * Pinned pages are kept in an xarray indexed by IOVA page frame, with the
 * number of times each is pinned.  vfio type1 calls .dma_unmap before it
 * unmaps a range with pinned pages, and checks afterwards that none are left.
 *
 * Locking: vfio calls .dma_unmap with the container's device_list_lock held,
 * and vfio_pin_pages() and vfio_unpin_pages() take the container's iommu
 * lock, so the driver's own lock, vtm->lock, is never held across a vfio
 * call.  Instead, a pin or an unpin under way marks its range busy
 * (vtm->busy) for its whole duration, from before it looks at the xarray
 * until the xarray matches what vfio has pinned, and .dma_unmap waits for a
 * busy range that overlaps its own.  That wait is only for the iommu lock,
 * which vfio does not hold while it calls .dma_unmap.  So .dma_unmap always
 * finds in the xarray exactly the pages pinned in its range, and nothing is
 * unpinned twice, or after its range is unmapped.
 */

#include <linux/completion.h>
#include <linux/device.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/mdev.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "vfio_test_mdev.h"

static_assert(VFIO_TEST_MDEV_MAX_PIN <= VFIO_PIN_PAGES_MAX_ENTRIES);

/* One page the driver holds pinned */
struct vtm_pin {
	struct page	*page;
	unsigned int	count;		/* times pinned */
};

/* The range of the pin or unpin under way, if active */
struct vtm_busy {
	bool		active;
	unsigned long	first;		/* IOVA page frames */
	unsigned long	last;
	unsigned long	seq;		/* incremented when it ends */
};

struct vtm_state {
	struct vfio_device	vdev;
	struct workqueue_struct	*wq;
	struct mutex		lock;	/* protects pins, npinned, busy */
	struct xarray		pins;	/* IOVA page frame -> struct vtm_pin */
	unsigned long		npinned;
	struct vtm_busy		busy;
	wait_queue_head_t	busy_wait;	/* for the end of busy */
};

/* One VFIO_TEST_MDEV_OP request, run on the workqueue */
struct vtm_request {
	struct work_struct		work;
	struct completion		done;
	struct vtm_state		*vtm;
	struct vfio_test_mdev_op	*op;
	void				*buf;	/* bounce buffer of op->len */
};

static struct class *vtm_class;
static struct device *vtm_parent_dev;
static struct mdev_parent vtm_parent;

static struct mdev_type vtm_type = {
	.sysfs_name	= "1",	/* shown as "<class>-1" */
	.pretty_name	= "vfio test mdev",
};

static struct mdev_type *vtm_types[] = {
	&vtm_type,
};

static const struct vfio_device_ops vtm_dev_ops;

static inline struct vtm_state *to_vtm(struct vfio_device *vdev)
{
	return container_of(vdev, struct vtm_state, vdev);
}

static inline dma_addr_t vtm_iova(unsigned long pfn)
{
	return (dma_addr_t)pfn << PAGE_SHIFT;
}

/* Unpin one page, at IOVA page frame @pfn, @count times. */
static void vtm_unpin_page(struct vtm_state *vtm, unsigned long pfn,
			   unsigned int count)
{
	while (count--)
		vfio_unpin_pages(&vtm->vdev, vtm_iova(pfn), 1);
}

/* Mark [first, last] busy, until vtm_end_busy(). */
static void vtm_begin_busy(struct vtm_state *vtm, unsigned long first,
			   unsigned long last)
{
	lockdep_assert_held(&vtm->lock);
	WARN_ON(vtm->busy.active);

	vtm->busy.first = first;
	vtm->busy.last = last;
	vtm->busy.active = true;
}

static void vtm_end_busy(struct vtm_state *vtm)
{
	lockdep_assert_held(&vtm->lock);

	vtm->busy.active = false;
	vtm->busy.seq++;
	wake_up_all(&vtm->busy_wait);
}

/* Record one more pin of @page at @pfn. */
static int vtm_hold(struct vtm_state *vtm, unsigned long pfn,
		    struct page *page)
{
	struct vtm_pin *pin;
	int ret;

	lockdep_assert_held(&vtm->lock);

	pin = xa_load(&vtm->pins, pfn);
	if (pin) {
		pin->count++;
	} else {
		pin = kzalloc(sizeof(*pin), GFP_KERNEL);
		if (!pin)
			return -ENOMEM;
		pin->page = page;
		pin->count = 1;
		ret = xa_insert(&vtm->pins, pfn, pin, GFP_KERNEL);
		if (ret) {
			kfree(pin);
			return ret;
		}
	}
	vtm->npinned++;
	return 0;
}

/* Forget one pin at @pfn, in a busy range. */
static void vtm_release(struct vtm_state *vtm, unsigned long pfn)
{
	struct vtm_pin *pin;

	lockdep_assert_held(&vtm->lock);

	pin = xa_load(&vtm->pins, pfn);
	if (WARN_ON(!pin))
		return;
	vtm->npinned--;
	if (--pin->count == 0) {
		xa_erase(&vtm->pins, pfn);
		kfree(pin);
	}
}

/*
 * Make the @n-th fault site the current thread reaches fail (@n > 0), or
 * stop (@n == 0) and return what was left of the count: 0 once injected.
 */
static unsigned int vtm_fail_nth(unsigned int n)
{
	unsigned int left = 0;

#ifdef CONFIG_FAULT_INJECTION
	left = READ_ONCE(current->fail_nth);
	WRITE_ONCE(current->fail_nth, n);
#endif
	return left;
}

/* PIN, and PIN_FAIL_NTH with fault injection around vfio_pin_pages(). */
static int vtm_op_pin(struct vtm_state *vtm, struct vfio_test_mdev_op *op)
{
	bool inject = op->op == VFIO_TEST_MDEV_PIN_FAIL_NTH;
	unsigned long first = op->iova >> PAGE_SHIFT;
	struct page **pages;
	int ret, held, err = 0;
	u64 start;

	pages = kcalloc(op->npage, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&vtm->lock);
	vtm_begin_busy(vtm, first, first + op->npage - 1);
	mutex_unlock(&vtm->lock);

	start = ktime_get_ns();
	if (inject)
		vtm_fail_nth(op->len);
	ret = vfio_pin_pages(&vtm->vdev, op->iova, op->npage,
			     IOMMU_READ | IOMMU_WRITE, pages);
	if (inject)
		op->len = vtm_fail_nth(0);
	op->wait_ns = ktime_get_ns() - start;

	mutex_lock(&vtm->lock);
	for (held = 0; held < ret; held++) {
		err = vtm_hold(vtm, first + held, pages[held]);
		if (err)
			break;
	}
	if (err) {
		/* Out of memory: undo the whole pin, still busy. */
		while (held)
			vtm_release(vtm, first + --held);
		mutex_unlock(&vtm->lock);
		vfio_unpin_pages(&vtm->vdev, op->iova, ret);
		mutex_lock(&vtm->lock);
		ret = err;
	}
	vtm_end_busy(vtm);
	mutex_unlock(&vtm->lock);

	kfree(pages);
	return ret;
}

static int vtm_op_unpin(struct vtm_state *vtm, struct vfio_test_mdev_op *op)
{
	unsigned long first = op->iova >> PAGE_SHIFT;
	unsigned int i;
	u64 start;

	mutex_lock(&vtm->lock);
	for (i = 0; i < op->npage; i++) {
		if (!xa_load(&vtm->pins, first + i)) {
			mutex_unlock(&vtm->lock);
			return -ENOENT;
		}
	}
	/* .dma_unmap waits, so the pages stay mapped and recorded. */
	vtm_begin_busy(vtm, first, first + op->npage - 1);
	mutex_unlock(&vtm->lock);

	start = ktime_get_ns();
	vfio_unpin_pages(&vtm->vdev, op->iova, op->npage);
	op->wait_ns = ktime_get_ns() - start;

	mutex_lock(&vtm->lock);
	for (i = 0; i < op->npage; i++)
		vtm_release(vtm, first + i);
	vtm_end_busy(vtm);
	mutex_unlock(&vtm->lock);
	return 0;
}

static int vtm_op_rw(struct vtm_state *vtm, struct vfio_test_mdev_op *op,
		     void *buf, bool write)
{
	u64 start;
	int ret;

	start = ktime_get_ns();
	ret = vfio_dma_rw(&vtm->vdev, op->iova, buf, op->len, write);
	op->wait_ns = ktime_get_ns() - start;
	return ret;
}

static int vtm_op_pinned_rw(struct vtm_state *vtm,
			    struct vfio_test_mdev_op *op, void *buf, bool write)
{
	unsigned int offset = offset_in_page(op->iova);
	struct vtm_pin *pin;
	void *vaddr;
	int ret = 0;

	mutex_lock(&vtm->lock);
	pin = xa_load(&vtm->pins, op->iova >> PAGE_SHIFT);
	if (pin) {
		vaddr = kmap_local_page(pin->page);
		if (write)
			memcpy(vaddr + offset, buf, op->len);
		else
			memcpy(buf, vaddr + offset, op->len);
		kunmap_local(vaddr);
	} else {
		ret = -ENOENT;
	}
	mutex_unlock(&vtm->lock);
	return ret;
}

static void vtm_work(struct work_struct *work)
{
	struct vtm_request *req = container_of(work, struct vtm_request, work);
	struct vfio_test_mdev_op *op = req->op;
	struct vtm_state *vtm = req->vtm;

	switch (op->op) {
	case VFIO_TEST_MDEV_PIN:
	case VFIO_TEST_MDEV_PIN_FAIL_NTH:
		op->result = vtm_op_pin(vtm, op);
		break;
	case VFIO_TEST_MDEV_UNPIN:
		op->result = vtm_op_unpin(vtm, op);
		break;
	case VFIO_TEST_MDEV_READ:
		op->result = vtm_op_rw(vtm, op, req->buf, false);
		break;
	case VFIO_TEST_MDEV_WRITE:
		op->result = vtm_op_rw(vtm, op, req->buf, true);
		break;
	case VFIO_TEST_MDEV_PIN_COUNT:
		mutex_lock(&vtm->lock);
		op->result = min_t(unsigned long, vtm->npinned, INT_MAX);
		mutex_unlock(&vtm->lock);
		break;
	case VFIO_TEST_MDEV_WRITE_PINNED:
		op->result = vtm_op_pinned_rw(vtm, op, req->buf, true);
		break;
	case VFIO_TEST_MDEV_READ_PINNED:
		op->result = vtm_op_pinned_rw(vtm, op, req->buf, false);
		break;
	}
	complete(&req->done);
}

/* Check the fields an operation uses; return its buffer size, or -EINVAL. */
static long vtm_check_op(struct vfio_test_mdev_op *op)
{
	switch (op->op) {
	case VFIO_TEST_MDEV_PIN:
	case VFIO_TEST_MDEV_UNPIN:
		if (!op->npage || op->npage > VFIO_TEST_MDEV_MAX_PIN ||
		    !PAGE_ALIGNED(op->iova) ||
		    op->iova + ((u64)op->npage << PAGE_SHIFT) - 1 < op->iova)
			return -EINVAL;
		return 0;
	case VFIO_TEST_MDEV_PIN_FAIL_NTH:
		if (!IS_ENABLED(CONFIG_FAULT_INJECTION))
			return -EOPNOTSUPP;
		if (!op->len || !op->npage ||
		    op->npage > VFIO_TEST_MDEV_MAX_PIN ||
		    !PAGE_ALIGNED(op->iova) ||
		    op->iova + ((u64)op->npage << PAGE_SHIFT) - 1 < op->iova)
			return -EINVAL;
		return 0;
	case VFIO_TEST_MDEV_READ:
	case VFIO_TEST_MDEV_WRITE:
		if (!op->len || op->len > VFIO_TEST_MDEV_MAX_RW)
			return -EINVAL;
		return op->len;
	case VFIO_TEST_MDEV_PIN_COUNT:
		return 0;
	case VFIO_TEST_MDEV_WRITE_PINNED:
	case VFIO_TEST_MDEV_READ_PINNED:
		if (!op->len || op->len > PAGE_SIZE - offset_in_page(op->iova))
			return -EINVAL;
		return op->len;
	default:
		return -EINVAL;
	}
}

static long vtm_ioctl(struct vfio_device *vdev, unsigned int cmd,
		      unsigned long arg)
{
	struct vtm_state *vtm = to_vtm(vdev);
	void __user *uarg = (void __user *)arg;
	struct vfio_test_mdev_op op;
	struct vtm_request req = {
		.vtm = vtm,
		.op = &op,
	};
	unsigned long minsz;
	bool to_user;
	long len;
	int ret = 0;

	if (cmd != VFIO_TEST_MDEV_OP)
		return -ENOTTY;

	minsz = offsetofend(struct vfio_test_mdev_op, wait_ns);
	if (copy_from_user(&op, uarg, minsz))
		return -EFAULT;
	if (op.argsz < minsz)
		return -EINVAL;

	len = vtm_check_op(&op);
	if (len < 0)
		return len;

	to_user = op.op == VFIO_TEST_MDEV_READ ||
		  op.op == VFIO_TEST_MDEV_READ_PINNED;
	if (len) {
		req.buf = kvzalloc(len, GFP_KERNEL);
		if (!req.buf)
			return -ENOMEM;
		if (!to_user &&
		    copy_from_user(req.buf, u64_to_user_ptr(op.data), len)) {
			ret = -EFAULT;
			goto out_free;
		}
	}

	op.result = 0;
	op.pad = 0;
	op.wait_ns = 0;

	init_completion(&req.done);
	INIT_WORK_ONSTACK(&req.work, vtm_work);
	queue_work(vtm->wq, &req.work);
	wait_for_completion(&req.done);
	destroy_work_on_stack(&req.work);

	if (to_user && op.result == 0 &&
	    copy_to_user(u64_to_user_ptr(op.data), req.buf, len)) {
		ret = -EFAULT;
		goto out_free;
	}
	if (copy_to_user(uarg, &op, minsz))
		ret = -EFAULT;

out_free:
	kvfree(req.buf);
	return ret;
}

/*
 * Called by vfio type1 before it unmaps [iova, iova + length) while pages of
 * the range are pinned, with the iommu lock released: unpin every page the
 * driver holds in the range, after waiting for a pin or unpin under way in
 * the range, which may be waiting for the iommu lock.
 */
static void vtm_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct vtm_state *vtm = to_vtm(vdev);
	unsigned long first, last, idx, seq;
	struct vtm_pin *pin;

	if (!length)
		return;
	first = iova >> PAGE_SHIFT;
	if (iova + length - 1 < iova)
		last = ULONG_MAX;
	else
		last = (iova + length - 1) >> PAGE_SHIFT;

	/* Take the pages out of the xarray one at a time and unpin them. */
	for (;;) {
		mutex_lock(&vtm->lock);
		if (vtm->busy.active && vtm->busy.first <= last &&
		    vtm->busy.last >= first) {
			seq = vtm->busy.seq;
			mutex_unlock(&vtm->lock);
			wait_event(vtm->busy_wait,
				   READ_ONCE(vtm->busy.seq) != seq);
			continue;
		}
		idx = first;
		pin = xa_find(&vtm->pins, &idx, last, XA_PRESENT);
		if (pin) {
			xa_erase(&vtm->pins, idx);
			vtm->npinned -= pin->count;
		}
		mutex_unlock(&vtm->lock);
		if (!pin)
			break;
		vtm_unpin_page(vtm, idx, pin->count);
		kfree(pin);
	}
}

/* Unpin everything the driver holds: the device is being closed. */
static void vtm_unpin_all(struct vtm_state *vtm)
{
	unsigned long idx;
	struct vtm_pin *pin;

	for (;;) {
		idx = 0;
		mutex_lock(&vtm->lock);
		pin = xa_find(&vtm->pins, &idx, ULONG_MAX, XA_PRESENT);
		if (pin)
			vtm_begin_busy(vtm, idx, idx);
		mutex_unlock(&vtm->lock);
		if (!pin)
			break;

		/* Unpin, then forget, as vtm_op_unpin() does. */
		vtm_unpin_page(vtm, idx, pin->count);

		mutex_lock(&vtm->lock);
		xa_erase(&vtm->pins, idx);
		vtm->npinned -= pin->count;
		vtm_end_busy(vtm);
		mutex_unlock(&vtm->lock);
		kfree(pin);
	}
}

static int vtm_open_device(struct vfio_device *vdev)
{
	struct vtm_state *vtm = to_vtm(vdev);

	mutex_lock(&vtm->lock);
	WARN_ON(vtm->npinned || !xa_empty(&vtm->pins));
	mutex_unlock(&vtm->lock);
	return 0;
}

static void vtm_close_device(struct vfio_device *vdev)
{
	/*
	 * No operation is under way: each runs within an ioctl on a file
	 * of the device, and the last one is being released.
	 */
	vtm_unpin_all(to_vtm(vdev));
}

static int vtm_init_dev(struct vfio_device *vdev)
{
	struct vtm_state *vtm = to_vtm(vdev);

	vtm->wq = alloc_ordered_workqueue("vfio-test-mdev/%s", 0,
					  dev_name(vdev->dev));
	if (!vtm->wq)
		return -ENOMEM;
	mutex_init(&vtm->lock);
	xa_init(&vtm->pins);
	init_waitqueue_head(&vtm->busy_wait);
	return 0;
}

static void vtm_release_dev(struct vfio_device *vdev)
{
	struct vtm_state *vtm = to_vtm(vdev);
	unsigned long idx;
	struct vtm_pin *pin;

	/*
	 * close_device unpinned everything; after it vfio may no longer be
	 * asked to unpin, so anything left is only freed.
	 */
	xa_for_each(&vtm->pins, idx, pin) {
		dev_err(vdev->dev, "page at IOVA %#llx still pinned\n",
			(unsigned long long)vtm_iova(idx));
		kfree(pin);
	}
	xa_destroy(&vtm->pins);
	destroy_workqueue(vtm->wq);
	mutex_destroy(&vtm->lock);
	vfio_free_device(vdev);
}

static const struct vfio_device_ops vtm_dev_ops = {
	.name		= "vfio-test-mdev",
	.init		= vtm_init_dev,
	.release	= vtm_release_dev,
	.open_device	= vtm_open_device,
	.close_device	= vtm_close_device,
	.ioctl		= vtm_ioctl,
	.dma_unmap	= vtm_dma_unmap,
};

static int vtm_probe(struct mdev_device *mdev)
{
	struct vtm_state *vtm;
	int ret;

	vtm = vfio_alloc_device(vtm_state, vdev, &mdev->dev, &vtm_dev_ops);
	if (IS_ERR(vtm))
		return PTR_ERR(vtm);

	ret = vfio_register_emulated_iommu_dev(&vtm->vdev);
	if (ret) {
		vfio_put_device(&vtm->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, vtm);
	return 0;
}

static void vtm_remove(struct mdev_device *mdev)
{
	struct vtm_state *vtm = dev_get_drvdata(&mdev->dev);

	/* Waits until every fd of the device is closed */
	vfio_unregister_group_dev(&vtm->vdev);
	vfio_put_device(&vtm->vdev);
}

static struct mdev_driver vtm_driver = {
	.device_api	= "vfio-test-mdev",
	.max_instances	= VFIO_TEST_MDEV_MAX_INSTANCES,
	.driver = {
		.name		= "vfio_test_mdev",
		.owner		= THIS_MODULE,
		.mod_name	= KBUILD_MODNAME,
	},
	.probe		= vtm_probe,
	.remove		= vtm_remove,
};

static int __init vtm_init(void)
{
	int ret;

	ret = mdev_register_driver(&vtm_driver);
	if (ret)
		return ret;

	/* The type's directory is named after the class: "vfio-test-mdev-1" */
	vtm_class = class_create(THIS_MODULE, VFIO_TEST_MDEV_PARENT);
	if (IS_ERR(vtm_class)) {
		ret = PTR_ERR(vtm_class);
		goto err_driver;
	}

	vtm_parent_dev = device_create(vtm_class, NULL, MKDEV(0, 0), NULL,
				       VFIO_TEST_MDEV_PARENT);
	if (IS_ERR(vtm_parent_dev)) {
		ret = PTR_ERR(vtm_parent_dev);
		goto err_class;
	}

	ret = mdev_register_parent(&vtm_parent, vtm_parent_dev, &vtm_driver,
				   vtm_types, ARRAY_SIZE(vtm_types));
	if (ret)
		goto err_device;
	return 0;

err_device:
	device_unregister(vtm_parent_dev);
err_class:
	class_destroy(vtm_class);
err_driver:
	mdev_unregister_driver(&vtm_driver);
	return ret;
}

static void __exit vtm_exit(void)
{
	mdev_unregister_parent(&vtm_parent);
	device_unregister(vtm_parent_dev);
	class_destroy(vtm_class);
	mdev_unregister_driver(&vtm_driver);
}

module_init(vtm_init);
module_exit(vtm_exit);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("Mediated device that pins and accesses DMA memory, for testing vfio");
