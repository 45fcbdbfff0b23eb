// SPDX-License-Identifier: GPL-2.0
/*
 * edu_dma - the test bed itself: vfio type1 maps a memfd buffer for QEMU's
 * edu device, the device's DMA reaches those pages through the IOMMU and
 * nothing else, and the counters later tests judge by (VmLck, FOLL_PIN
 * pages) move by exactly the size of the mapping and come back on unmap,
 * whatever the end of the range unmapped.
 *
 * Runs in the test VM: tests/vm/run -- build/tests/foundation/edu_dma
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vfio_test.h"

#define BUF_SIZE	(2L << 20)	/* the mapping: 2 MiB of memfd */
#define BUF_IOVA	(1L << 20)	/* at IOVA 1 MiB */
#define PAGE		4096L
#define UNMAPPED_IOVA	(64L << 20)	/* never mapped */
#define XFER		2048L		/* bytes per DMA, within EDU_DMA_MAX */

FIXTURE(edu) {
	struct vfio_edu edu;
	unsigned char *buf;
	int memfd;
};

FIXTURE_SETUP(edu)
{
	int ret = vfio_edu_open(&self->edu, 0);

	ASSERT_EQ(0, ret) {
		TH_LOG("cannot open an edu device through vfio (%s); run in the test VM: make check",
		       strerror(-ret));
	}
	self->buf = memfd_buffer(BUF_SIZE, &self->memfd);
	ASSERT_NE(NULL, self->buf) {
		TH_LOG("memfd buffer: %s", strerror(errno));
	}
}

FIXTURE_TEARDOWN(edu)
{
	if (self->buf) {
		munmap(self->buf, BUF_SIZE);
		close(self->memfd);
	}
	vfio_edu_close(&self->edu);
}

/* Fill LEN bytes at P with a pattern that differs for each SEED. */
static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + seed + (i >> 8));
}

/* Returns the offset of the first byte of P (LEN bytes) not equal to C, or -1. */
static long first_not(const unsigned char *p, size_t len, unsigned char c)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return i;
	return -1;
}

/* RAM -> device -> another page of RAM, both through the IOMMU. */
TEST_F(edu, dma_roundtrip)
{
	unsigned char want[XFER];

	ASSERT_EQ(0, vfio_dma_map(self->edu.container, self->buf, BUF_IOVA,
				  BUF_SIZE));
	fill(self->buf, XFER, 7);
	memcpy(want, self->buf, XFER);

	ASSERT_EQ(0, edu_dma_to_device(&self->edu, BUF_IOVA, 0, XFER));
	ASSERT_EQ(0, edu_dma_to_ram(&self->edu, 0, BUF_IOVA + PAGE, XFER));
	EXPECT_EQ(0, memcmp(want, self->buf + PAGE, XFER));
	/* The source is untouched and nothing else was written. */
	EXPECT_EQ(0, memcmp(want, self->buf, XFER));
	EXPECT_EQ(-1, first_not(self->buf + XFER, PAGE - XFER, 0));
	EXPECT_EQ(-1, first_not(self->buf + PAGE + XFER,
				BUF_SIZE - PAGE - XFER, 0));

	/* The end of the mapping is reachable too. */
	ASSERT_EQ(0, edu_dma_to_ram(&self->edu, 0, BUF_IOVA + BUF_SIZE - XFER,
				    XFER));
	EXPECT_EQ(0, memcmp(want, self->buf + BUF_SIZE - XFER, XFER));

	EXPECT_EQ(BUF_SIZE, vfio_dma_unmap(self->edu.container, BUF_IOVA,
					   BUF_SIZE));
}

/* VmLck (mm->locked_vm) rises by the mapped size and falls back on unmap. */
TEST_F(edu, locked_vm_follows_mapping)
{
	long before, mapped, after;

	before = proc_vmlck_kb(0);
	ASSERT_LE(0, before);
	ASSERT_EQ(0, vfio_dma_map(self->edu.container, self->buf, BUF_IOVA,
				  BUF_SIZE));
	mapped = proc_vmlck_kb(0);
	ASSERT_EQ(BUF_SIZE, vfio_dma_unmap(self->edu.container, BUF_IOVA,
					   BUF_SIZE));
	after = proc_vmlck_kb(0);

	EXPECT_EQ(before + BUF_SIZE / 1024, mapped);
	EXPECT_EQ(before, after);
}

/* Every page of the mapping is pinned once, and unpinned on unmap. */
TEST_F(edu, pins_follow_mapping)
{
	long long before, mapped, after;

	/* The pages exist before the map, so only vfio pins them. */
	memset(self->buf, 1, BUF_SIZE);
	before = pinned_pages();
	ASSERT_LE(0, before);
	ASSERT_EQ(0, vfio_dma_map(self->edu.container, self->buf, BUF_IOVA,
				  BUF_SIZE));
	mapped = pinned_pages();
	ASSERT_EQ(BUF_SIZE, vfio_dma_unmap(self->edu.container, BUF_IOVA,
					   BUF_SIZE));
	after = pinned_pages();

	EXPECT_EQ(before + BUF_SIZE / PAGE, mapped);
	EXPECT_EQ(before, after);
}

/*
 * After unmap the device cannot reach the pages any more: its write faults
 * in the IOMMU (the guest kernel logs a DMAR fault) and memory stays as it
 * was. A write to an IOVA that was never mapped changes nothing either.
 */
TEST_F(edu, no_dma_outside_mappings)
{
	ASSERT_EQ(0, vfio_dma_map(self->edu.container, self->buf, BUF_IOVA,
				  BUF_SIZE));
	fill(self->buf, XFER, 3);
	ASSERT_EQ(0, edu_dma_to_device(&self->edu, BUF_IOVA, 0, XFER));
	ASSERT_EQ(BUF_SIZE, vfio_dma_unmap(self->edu.container, BUF_IOVA,
					   BUF_SIZE));

	memset(self->buf, 0x5a, BUF_SIZE);
	ASSERT_EQ(0, edu_dma_to_ram(&self->edu, 0, BUF_IOVA + PAGE, XFER));
	ASSERT_EQ(0, edu_dma_to_ram(&self->edu, 0, UNMAPPED_IOVA, XFER));
	EXPECT_EQ(-1, first_not(self->buf, BUF_SIZE, 0x5a));
}

/*
 * An unmap whose range ends at the top of the IOVA space (its last IOVA is
 * 2^64 - 1) unmaps every mapping from its start: pins and VmLck come back
 * and the reported size says so. One byte short of the top is the same.
 */
TEST_F(edu, unmap_to_the_top)
{
	long long pins_before = pinned_pages();
	long vmlck_before = proc_vmlck_kb(0);
	int i;

	ASSERT_LE(0, pins_before);
	ASSERT_LE(0, vmlck_before);
	memset(self->buf, 1, BUF_SIZE);
	for (i = 0; i < 2; i++) {
		/* size = 2^64 - BUF_IOVA, then a page less */
		uint64_t size = -(uint64_t)BUF_IOVA - (uint64_t)i * PAGE;

		ASSERT_EQ(0, vfio_dma_map(self->edu.container, self->buf,
					  BUF_IOVA, BUF_SIZE));
		EXPECT_EQ(pins_before + BUF_SIZE / PAGE, pinned_pages());
		EXPECT_EQ(BUF_SIZE, vfio_dma_unmap(self->edu.container,
						   BUF_IOVA, size)) {
			TH_LOG("unmap [%#lx, +%#llx) left the mapping",
			       BUF_IOVA, (unsigned long long)size);
		}
		EXPECT_EQ(pins_before, pinned_pages());
		EXPECT_EQ(vmlck_before, proc_vmlck_kb(0));
		/* Whatever happened, leave nothing mapped. */
		vfio_dma_unmap(self->edu.container, BUF_IOVA, BUF_SIZE);
	}
}

TEST_HARNESS_MAIN
