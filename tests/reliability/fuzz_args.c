// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_args - seeded random argument fuzzer for the vfio type1 ioctls the
 * DMA owner series changes: VFIO_IOMMU_MAP_DMA (with and without
 * VFIO_DMA_MAP_FLAG_VADDR), VFIO_IOMMU_UNMAP_DMA, VFIO_CHANGE_DMA_OWNER and
 * VFIO_CHECK_EXTENSION.
 *
 * Arguments: argsz (0, short, exact, larger, huge), flags (valid sets and
 * random bits, the removed unmap bit 2 among them), iova, vaddr and size
 * (page-aligned in a small window so that ranges overlap, unaligned, 0,
 * huge, wrapping; vaddrs in shared memfd views, a read-only view, private
 * anonymous memory, unmapped gaps, kernel and non-canonical addresses), bad
 * argument pointers. Staging hits mappings exactly, twice, unmapped ranges,
 * part of a mapping and several mappings. Calls come from this process, from
 * a forked child holding the same container (it may take ownership, and
 * exit while it owns the mappings), and go to containers with no IOMMU
 * driver set (no group, and a group with no type).
 *
 * A small model of the container (mappings, their vaddrs and staged vaddrs,
 * the owner) predicts each result: success, or the errno type1 returns
 * first. After every call the result must be the predicted one, its errno
 * one of those documented for the ioctl, and the state seen from user space
 * (container fdinfo, VmLck of both processes, the system-wide FOLL_PIN
 * count) must match the model: unchanged after a failure. Every so often,
 * and at the end, edu DMA must reach the pages of some mappings.
 *
 * Run in the test VM, as root, with the edu device (and vfio_test_mdev.ko
 * loaded for the container whose group has no IOMMU type):
 *
 *	build/tests/reliability/fuzz_args [--seed S] [--iterations N]
 *
 * The seed is printed first; --seed replays a run. Output is TAP; the
 * diagnostics count the calls and their errnos per ioctl.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <linux/vfio.h>

#include "rel.h"
#include "vfio_test.h"
#include "vfio_test_mdev.h"

#define PAGE		4096ULL
#define KiB		1024ULL
#define MiB		(1024 * KiB)
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define MAP_MINSZ	32	/* offsetofend(vfio_iommu_type1_dma_map, size) */
#define UNMAP_MINSZ	24	/* offsetofend(vfio_iommu_type1_dma_unmap, size) */
#define IOVA_WINDOW	(4 * MiB)
#define MAX_MAPS	256	/* never reached: see build_call() */
#define MAX_RANGES	16
#define TYPE_DIR	"/sys/class/mdev_bus/" VFIO_TEST_MDEV_PARENT \
			"/mdev_supported_types/" VFIO_TEST_MDEV_TYPE

static struct {
	uint64_t seed;
	unsigned long iterations;
	unsigned int dma_every;
	bool verbose;
} opt = { .iterations = 3000, .dma_every = 250 };

/* splitmix64: small, seedable, and the same everywhere. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int percent)
{
	return below(100) < percent;
}

/*
 * Memory the fuzzer maps from, in one reserved area with PROT_NONE gaps
 * between the regions. Forked children see the same layout.
 */
enum { R_MAIN, R_ALIAS, R_RO, R_OTHER, R_ANON, NREGIONS };

struct region {
	const char *name;
	uint64_t start, size;
	int object;		/* memfd number; -1: private anonymous */
	uint64_t offset;	/* into the object */
	bool writable;
};

static struct region regions[NREGIONS] = {
	[R_MAIN]  = { "main",  0, 1 * MiB, 0, 0, true },
	[R_ALIAS] = { "alias", 0, 1 * MiB, 0, 0, true },
	[R_RO]    = { "ro",    0, 1 * MiB, 0, 0, false },
	[R_OTHER] = { "other", 0, 256 * KiB, 1, 0, true },
	[R_ANON]  = { "anon",  0, 256 * KiB, -1, 0, true },
};
static uint64_t area_start, area_size;

/* Who calls, and which container */
enum { WHO_PARENT, WHO_CHILD };
enum { T_MAIN, T_NOIOMMU, T_NOTYPE, NTARGETS };
static const char *const target_name[] = { "main", "no-iommu", "no-type" };

enum { K_MAP, K_STAGE, K_UNMAP, K_CHANGE, K_EXT, NKINDS };
static const char *const kind_name[] = {
	"MAP_DMA", "MAP_DMA(VADDR)", "UNMAP_DMA", "CHANGE_DMA_OWNER",
	"CHECK_EXTENSION",
};

/* One call, as built and as run (by this process or the child). */
struct fcall {
	int kind;
	int target;
	int who;
	unsigned long cmd;
	bool bad_ptr;		/* pass an invalid argument pointer */
	unsigned long ext;	/* CHECK_EXTENSION argument */
	union {
		struct vfio_iommu_type1_dma_map map;
		struct {
			struct vfio_iommu_type1_dma_unmap unmap;
			struct vfio_bitmap bitmap;
		} u;
		uint8_t raw[64];
	} arg;
};

struct fres {
	long ret;		/* ioctl's return value */
	int err;		/* errno when ret < 0 */
	uint64_t size;		/* UNMAP_DMA: size written back */
};

/* The model */
struct mmap_ {
	uint64_t iova, size, vaddr;
	uint32_t prot;		/* VFIO_DMA_MAP_FLAG_READ/WRITE */
	bool staged;
	uint64_t staged_vaddr;
};

static struct {
	struct mmap_ maps[MAX_MAPS];	/* sorted by iova */
	int n;
	int owner;			/* WHO_*, meaningful when n > 0 */
} model;

struct iova_range {
	uint64_t start, end;
};
static struct iova_range ranges[MAX_RANGES];
static int nranges;

static int containers[NTARGETS] = { -1, -1, -1 };
static struct vfio_edu edu;
static pid_t parent_pid;
static long long pinned0;

/* The child */
static pid_t child_pid;
static int child_cmd = -1, child_res = -1;
static unsigned int child_gen;	/* anonymous memory differs per child */

/* Counts */
static unsigned long ncalls[NKINDS], nerr[NKINDS][134], nok[NKINDS];
static unsigned long by_who[2], by_target[NTARGETS], nchild_exits;
static unsigned long ndma;
static unsigned long nto_end;	/* unmaps up to the last IOVA */
static unsigned long nknown;	/* those that hit the known bug */

/* Memory */

static int setup_memory(void)
{
	int fds[2], i;
	uint64_t gap = 64 * KiB, off;
	uint8_t *area;

	for (i = 0; i < 2; i++) {
		fds[i] = memfd_create(i ? "fuzz_other" : "fuzz_main",
				      MFD_CLOEXEC);
		if (fds[i] < 0 || ftruncate(fds[i], i ? 256 * KiB : 1 * MiB))
			return -errno;
	}
	area_size = gap;
	for (i = 0; i < NREGIONS; i++)
		area_size += regions[i].size + gap;
	area = mmap(NULL, area_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (area == MAP_FAILED)
		return -errno;
	area_start = (uintptr_t)area;
	off = gap;
	for (i = 0; i < NREGIONS; i++) {
		struct region *r = &regions[i];
		int prot = PROT_READ | (r->writable ? PROT_WRITE : 0);
		void *p;

		r->start = area_start + off;
		if (r->object < 0)
			p = mmap((void *)r->start, r->size, prot,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		else
			p = mmap((void *)r->start, r->size, prot,
				 MAP_SHARED | MAP_FIXED, fds[r->object],
				 r->offset);
		if (p == MAP_FAILED)
			return -errno;
		off += r->size + gap;
	}
	/* Fault everything in: the pins then allocate nothing. */
	memset((void *)regions[R_MAIN].start, 0x11, regions[R_MAIN].size);
	memset((void *)regions[R_OTHER].start, 0x22, regions[R_OTHER].size);
	memset((void *)regions[R_ANON].start, 0x33, regions[R_ANON].size);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

/* The region that holds all of [va, va + size), or -1. */
static int region_of(uint64_t va, uint64_t size)
{
	int i;

	for (i = 0; i < NREGIONS; i++)
		if (va >= regions[i].start && size <= regions[i].size &&
		    va - regions[i].start <= regions[i].size - size)
			return i;
	return -1;
}

/* Would pinning [va, va + size) with @prot succeed in any process? */
static bool vaddr_pinnable(uint64_t va, uint64_t size, uint32_t prot)
{
	int r = region_of(va, size);

	if (r < 0)
		return false;
	return !(prot & VFIO_DMA_MAP_FLAG_WRITE) || regions[r].writable;
}

/*
 * Does [va_old, +size) in process @old map the same memory as
 * [va_new, +size) in process @new: shared file pages, same file and
 * offset, same permissions? Private anonymous memory never does.
 */
static bool same_memory(int old, uint64_t va_old, int new, uint64_t va_new,
			uint64_t size)
{
	int ro = region_of(va_old, size), rn = region_of(va_new, size);

	(void)old;
	(void)new;
	if (ro < 0 || rn < 0)
		return false;
	if (regions[ro].object < 0 || regions[rn].object < 0)
		return false;
	return regions[ro].object == regions[rn].object &&
	       regions[ro].writable == regions[rn].writable &&
	       regions[ro].offset + (va_old - regions[ro].start) ==
	       regions[rn].offset + (va_new - regions[rn].start);
}

/* The model */

static int model_find(uint64_t iova, uint64_t size)
{
	int i;

	/* What vfio_find_dma() finds: a mapping overlapping the range. */
	for (i = 0; i < model.n; i++)
		if (iova < model.maps[i].iova + model.maps[i].size &&
		    model.maps[i].iova < iova + size)
			return i;
	return -1;
}

/* The mapping holding byte @iova, as vfio_find_dma(iova, 1). */
static int model_at(uint64_t iova)
{
	return model_find(iova, 1);
}

static bool iova_valid(uint64_t start, uint64_t end)
{
	int i;

	for (i = 0; i < nranges; i++)
		if (start >= ranges[i].start && end <= ranges[i].end)
			return true;
	return false;
}

static uint64_t model_pages(void)
{
	uint64_t pages = 0;
	int i;

	for (i = 0; i < model.n; i++)
		pages += model.maps[i].size / PAGE;
	return pages;
}

static int model_staged(void)
{
	int i, n = 0;

	for (i = 0; i < model.n; i++)
		n += model.maps[i].staged;
	return n;
}

static void model_insert(struct mmap_ *m)
{
	int i = model.n;

	while (i > 0 && model.maps[i - 1].iova > m->iova) {
		model.maps[i] = model.maps[i - 1];
		i--;
	}
	model.maps[i] = *m;
	model.n++;
}

static void model_remove(int i)
{
	memmove(&model.maps[i], &model.maps[i + 1],
		(model.n - i - 1) * sizeof(model.maps[0]));
	model.n--;
}

/* The expected outcome of a call: ret >= 0, or -errno. */
struct expect {
	long ret;
	uint64_t size;		/* UNMAP_DMA: bytes unmapped */
	bool any_ret;		/* CHECK_EXTENSION of no interest: >= 0 */
	bool to_end;		/* UNMAP_DMA up to the last IOVA: see below */
};

/*
 * Predict a call in the order type1 checks, and apply it to the model when
 * it succeeds (apply == true).
 */
static struct expect predict(const struct fcall *c, bool apply)
{
	struct expect e = { 0 };
	int i;

	if (c->kind == K_EXT) {
		switch (c->ext) {
		case VFIO_TYPE1v2_IOMMU:
		case VFIO_UNMAP_ALL:
		case VFIO_DMA_OWNER:
			e.ret = 1;
			break;
		case VFIO_UPDATE_VADDR:
			e.ret = 0;	/* the removed interface */
			break;
		default:
			e.any_ret = true;
		}
		return e;
	}
	if (c->target != T_MAIN) {
		e.ret = -EINVAL;	/* no IOMMU driver: vfio's default */
		return e;
	}
	if (c->kind == K_MAP || c->kind == K_STAGE) {
		const struct vfio_iommu_type1_dma_map *m = &c->arg.map;
		uint32_t prot = m->flags & RW;
		bool stage = m->flags & VFIO_DMA_MAP_FLAG_VADDR;
		struct mmap_ nm;

		if (c->bad_ptr)
			return (struct expect){ .ret = -EFAULT };
		if (m->argsz < MAP_MINSZ || (m->flags & ~(RW | 4)))
			return (struct expect){ .ret = -EINVAL };
		if ((prot && stage) || (!prot && !stage))
			return (struct expect){ .ret = -EINVAL };
		if (!m->size || ((m->size | m->iova | m->vaddr) & (PAGE - 1)))
			return (struct expect){ .ret = -EINVAL };
		if (m->iova + m->size - 1 < m->iova ||
		    m->vaddr + m->size - 1 < m->vaddr)
			return (struct expect){ .ret = -EINVAL };
		if (stage) {
			i = model_find(m->iova, m->size);
			if (i < 0)
				return (struct expect){ .ret = -ENOENT };
			if (model.maps[i].iova != m->iova ||
			    model.maps[i].size != m->size)
				return (struct expect){ .ret = -EINVAL };
			if (apply) {
				model.maps[i].staged = true;
				model.maps[i].staged_vaddr = m->vaddr;
			}
			return e;
		}
		if (model.n && model.owner != c->who)
			return (struct expect){ .ret = -EPERM };
		if (model_find(m->iova, m->size) >= 0)
			return (struct expect){ .ret = -EEXIST };
		if (!iova_valid(m->iova, m->iova + m->size - 1))
			return (struct expect){ .ret = -EINVAL };
		if (!vaddr_pinnable(m->vaddr, m->size, prot))
			return (struct expect){ .ret = -EFAULT };
		if (apply) {
			memset(&nm, 0, sizeof(nm));
			nm.iova = m->iova;
			nm.size = m->size;
			nm.vaddr = m->vaddr;
			nm.prot = prot;
			if (!model.n)
				model.owner = c->who;
			model_insert(&nm);
		}
		return e;
	}
	if (c->kind == K_UNMAP) {
		const struct vfio_iommu_type1_dma_unmap *u = &c->arg.u.unmap;
		uint64_t iova = u->iova, size = u->size, bytes = 0;
		bool all = u->flags & VFIO_DMA_UNMAP_FLAG_ALL;

		if (c->bad_ptr)
			return (struct expect){ .ret = -EFAULT };
		if (u->argsz < UNMAP_MINSZ || (u->flags & ~3u))
			return (struct expect){ .ret = -EINVAL };
		/* Dirty tracking is never started: the bitmap flag fails. */
		if (u->flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
			return (struct expect){ .ret = -EINVAL };
		if (iova & (PAGE - 1))
			return (struct expect){ .ret = -EINVAL };
		if (all) {
			if (iova || size)
				return (struct expect){ .ret = -EINVAL };
			iova = 0;
			size = UINT64_MAX;
		} else {
			if (!size || (size & (PAGE - 1)) ||
			    iova + size - 1 < iova)
				return (struct expect){ .ret = -EINVAL };
			i = model_at(iova);
			if (i >= 0 && model.maps[i].iova != iova)
				return (struct expect){ .ret = -EINVAL };
			i = model_at(iova + size - 1);
			if (i >= 0 && model.maps[i].iova < iova + size - 1 &&
			    model.maps[i].iova + model.maps[i].size !=
			    iova + size)
				return (struct expect){ .ret = -EINVAL };
		}
		for (i = 0; i < model.n; i++) {
			struct mmap_ *mm = &model.maps[i];

			if (mm->iova >= iova && mm->iova - iova < size) {
				bytes += mm->size;
				if (apply)
					model_remove(i--);
			}
		}
		e.size = bytes;
		/*
		 * A range that ends at the very last IOVA (iova + size wraps
		 * to 0) passes the checks, but type1 compares mapping starts
		 * with iova + size, which is 0: it unmaps nothing and reports
		 * success with size 0. A kernel bug older than the series,
		 * fixed by its "unmap a range that ends at the top of the IOVA
		 * space"; on a kernel without that fix the caller reports it
		 * as a TODO.
		 */
		e.to_end = !all && iova + size == 0 && bytes;
		return e;
	}
	/* K_CHANGE */
	if (!model.n)
		return e;
	for (i = 0; i < model.n; i++) {
		struct mmap_ *mm = &model.maps[i];
		uint64_t va = mm->staged ? mm->staged_vaddr : mm->vaddr;

		if (!mm->staged && c->who == model.owner)
			continue;
		if (!same_memory(model.owner, mm->vaddr, c->who, va, mm->size)) {
			if (!mm->staged && model_staged())
				return (struct expect){ .ret = -EINVAL };
			return (struct expect){ .ret = -ENXIO };
		}
	}
	if (apply) {
		model.owner = c->who;
		for (i = 0; i < model.n; i++) {
			if (model.maps[i].staged)
				model.maps[i].vaddr = model.maps[i].staged_vaddr;
			model.maps[i].staged = false;
		}
	}
	return e;
}

/* The errnos each ioctl documents (uapi vfio.h; vfio's own conventions). */
static bool documented(const struct fcall *c, int err)
{
	static const int map[] = { EINVAL, EFAULT, EPERM, EEXIST, ENOENT,
				   ENOSPC, ENOMEM, 0 };
	static const int unmap[] = { EINVAL, EFAULT, 0 };
	static const int change[] = { ENOMEM, ENXIO, EINVAL, ESRCH, EAGAIN,
				      EINTR, ENOTTY, 0 };
	const int *l;

	switch (c->kind) {
	case K_MAP:
	case K_STAGE:
		l = map;
		break;
	case K_UNMAP:
		l = unmap;
		break;
	case K_CHANGE:
		l = change;
		break;
	default:
		return false;	/* CHECK_EXTENSION never fails */
	}
	for (; *l; l++)
		if (*l == err)
			return true;
	return false;
}

/* Running a call */

static struct fres run_call(struct fcall *c)
{
	struct fres r = { 0 };
	void *arg = &c->arg;

	switch (c->kind) {
	case K_MAP:
	case K_STAGE:
		c->cmd = VFIO_IOMMU_MAP_DMA;
		break;
	case K_UNMAP:
		c->cmd = VFIO_IOMMU_UNMAP_DMA;
		break;
	case K_CHANGE:
		c->cmd = VFIO_CHANGE_DMA_OWNER;
		arg = NULL;
		break;
	case K_EXT:
		c->cmd = VFIO_CHECK_EXTENSION;
		arg = (void *)c->ext;
		break;
	}
	if (c->bad_ptr)
		arg = (void *)(uintptr_t)(below(2) ? 0 : area_start);
	r.ret = ioctl(containers[c->target], c->cmd, arg);
	r.err = r.ret < 0 ? errno : 0;
	if (c->kind == K_UNMAP)
		r.size = c->arg.u.unmap.size;
	return r;
}

static void __attribute__((noreturn)) child_main(int cmd, int res)
{
	struct fcall c;
	struct fres r;

	prctl(PR_SET_NAME, "fz_child");
	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		r = run_call(&c);
		if (write(res, &r, sizeof(r)) != sizeof(r))
			break;
	}
	_exit(0);
}

static int child_start(void)
{
	int cmd[2], res[2];

	if (pipe2(cmd, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	child_pid = fork();
	if (child_pid < 0)
		return -errno;
	if (!child_pid) {
		close(cmd[1]);
		close(res[0]);
		child_main(cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);
	child_cmd = cmd[1];
	child_res = res[0];
	child_gen++;
	return 0;
}

static void child_stop(void)
{
	if (!child_pid)
		return;
	close(child_cmd);
	waitpid(child_pid, NULL, 0);
	close(child_res);
	child_pid = 0;
}

static int do_call(struct fcall *c, struct fres *r)
{
	if (c->who == WHO_PARENT) {
		*r = run_call(c);
		return 0;
	}
	if (write(child_cmd, c, sizeof(*c)) != sizeof(*c) ||
	    read(child_res, r, sizeof(*r)) != sizeof(*r)) {
		tap_diag("the child did not answer");
		return -1;
	}
	/* The child draws the bad pointer itself: keep our sequence. */
	if (c->bad_ptr)
		below(2);
	return 0;
}

/* The state the model expects */

static void model_state(struct cstate *s)
{
	uint64_t pages = model_pages(), bytes = 0;
	pid_t owner = 0;
	int i;

	for (i = 0; i < model.n; i++)
		bytes += model.maps[i].size;
	memset(s, 0, sizeof(*s));
	strcpy(s->fi.iommu, "vfio-iommu-type1");
	if (model.n) {
		owner = model.owner == WHO_CHILD ? child_pid : parent_pid;
		s->fi.owner_tgid = owner;
		strcpy(s->fi.owner_comm, model.owner == WHO_CHILD ?
		       "fz_child" : "fuzz_args");
	}
	s->fi.mappings = model.n;
	s->fi.bytes = bytes;
	s->fi.locked = pages;
	s->fi.staged = model_staged();
	s->npids = child_pid ? 2 : 1;
	s->pid[0] = parent_pid;
	s->pid[1] = child_pid;
	s->vmlck_kb[0] = owner == parent_pid ? pages * 4 : 0;
	s->vmlck_kb[1] = owner == child_pid && owner ? pages * 4 : 0;
	s->pinned = pinned0 + pages;
}

static int check_state(const char *what, int ms)
{
	struct cstate want, got;
	int ret;

	model_state(&want);
	ret = cstate_wait(what, &want, &got, containers[T_MAIN], false, ms);
	if (ret) {
		cstate_print("want", &want);
		cstate_print("got ", &got);
		return -1;
	}
	/* The tracker: armed whenever there are mappings. */
	if (model.n && strcmp(got.fi.tracker, "armed")) {
		tap_diag("%s: owner_tracker is '%s' with %d mappings", what,
		    got.fi.tracker, model.n);
		return -1;
	}
	return 0;
}

/* Building calls */

static uint64_t pick_vaddr(void)
{
	static const int weights[NREGIONS] = { 45, 20, 8, 12, 15 };
	int r, w = (int)below(100), i;
	uint64_t pages;

	switch (below(20)) {
	case 0:
		return 0;
	case 1:
		return area_start + below(area_size / PAGE) * PAGE;
	case 2:
		return 0xffff888000000000ULL + below(16) * PAGE; /* kernel */
	case 3:
		return 0x0000800000000000ULL;	/* past user space */
	case 4:
		return -PAGE;
	case 5:
		return rnd();
	default:
		break;
	}
	for (r = 0, i = 0; i < NREGIONS; i++) {
		if (w < weights[i]) {
			r = i;
			break;
		}
		w -= weights[i];
	}
	pages = regions[r].size / PAGE;
	return regions[r].start + below(pages) * PAGE +
	       (chance(3) ? 1 + below(PAGE - 1) : 0);
}

static uint64_t pick_iova(void)
{
	switch (below(25)) {
	case 0:
		return 0;
	case 1:
		return 0xfee00000ULL;		/* the MSI window */
	case 2:
		return nranges ? ranges[nranges - 1].end + 1 - PAGE : 0;
	case 3:
		return 1ULL << 63;
	case 4:
		return -PAGE;
	case 5:
		return below(IOVA_WINDOW) | 1;	/* unaligned */
	case 6:
		return rnd();
	default:
		return below(IOVA_WINDOW / PAGE) * PAGE;
	}
}

static uint64_t pick_size(uint64_t iova)
{
	switch (below(25)) {
	case 0:
		return 0;
	case 1:
		return PAGE - 1;
	case 2:
		return 1ULL << 62;
	case 3:
		return -iova;			/* wraps to 0 at the end */
	case 4:
		return -iova + PAGE;		/* wraps */
	case 5:
		return rnd();
	default:
		return (1 + below(chance(10) ? 64 : 8)) * PAGE;
	}
}

static uint32_t pick_argsz(uint32_t exact, uint32_t minsz)
{
	switch (below(30)) {
	case 0:
		return 0;
	case 1:
		return minsz - 1;
	case 2:
		return minsz;
	case 3:
		return exact + 8;
	case 4:
		return 0xffffffff;
	case 5:
		return (uint32_t)rnd();
	default:
		return exact;
	}
}

static void build_map(struct fcall *c)
{
	struct vfio_iommu_type1_dma_map *m = &c->arg.map;

	c->kind = K_MAP;
	m->argsz = pick_argsz(sizeof(*m), MAP_MINSZ);
	switch (below(20)) {
	case 0:
		m->flags = 0;
		break;
	case 1:
		m->flags = RW | VFIO_DMA_MAP_FLAG_VADDR;
		break;
	case 2:
		m->flags = (uint32_t)rnd();
		break;
	case 3:
		m->flags = RW | (1u << (3 + below(29)));
		break;
	case 4:
	case 5:
		m->flags = VFIO_DMA_MAP_FLAG_READ;
		break;
	case 6:
		m->flags = VFIO_DMA_MAP_FLAG_WRITE;
		break;
	default:
		m->flags = RW;
	}
	m->vaddr = pick_vaddr();
	m->iova = pick_iova();
	m->size = pick_size(m->iova);
	/* A mapping's memory is never bigger than its region. */
	if (chance(30) && model.n) {
		const struct mmap_ *mm = &model.maps[below(model.n)];

		m->iova = mm->iova + (chance(50) ? 0 : PAGE);
	}
}

static void build_stage(struct fcall *c)
{
	struct vfio_iommu_type1_dma_map *m = &c->arg.map;
	const struct mmap_ *mm = model.n ? &model.maps[below(model.n)] : NULL;
	int r;

	c->kind = K_STAGE;
	m->argsz = pick_argsz(sizeof(*m), MAP_MINSZ);
	m->flags = chance(95) ? VFIO_DMA_MAP_FLAG_VADDR :
		   VFIO_DMA_MAP_FLAG_VADDR | (uint32_t)(rnd() & ~4u);
	switch (mm ? below(10) : 9) {
	case 0:
	case 1:
	case 2:
	case 3:
		/* Exactly a mapping: to a view of the same memory, mostly. */
		m->iova = mm->iova;
		m->size = mm->size;
		r = region_of(mm->vaddr, mm->size);
		if (r == R_MAIN || r == R_ALIAS || r == R_RO) {
			int to = chance(70) ? (r == R_MAIN ? R_ALIAS : R_MAIN) :
				 (int)below(3);

			m->vaddr = mm->vaddr - regions[r].start +
				   regions[to].start;
		} else {
			m->vaddr = chance(60) ? mm->vaddr : pick_vaddr();
		}
		if (chance(10))
			m->vaddr += PAGE;	/* other pages */
		break;
	case 4:
		/* Part of a mapping */
		m->iova = mm->iova + (chance(50) ? PAGE : 0);
		m->size = mm->size > PAGE ? mm->size - PAGE : 2 * PAGE;
		m->vaddr = pick_vaddr();
		break;
	case 5:
		/* Several mappings */
		m->iova = mm->iova;
		m->size = mm->size + (1 + below(64)) * PAGE;
		m->vaddr = pick_vaddr();
		break;
	default:
		/* Anywhere, likely nothing mapped */
		m->iova = pick_iova();
		m->size = pick_size(m->iova);
		m->vaddr = pick_vaddr();
	}
}

static void build_unmap(struct fcall *c)
{
	struct vfio_iommu_type1_dma_unmap *u = &c->arg.u.unmap;
	const struct mmap_ *mm = model.n ? &model.maps[below(model.n)] : NULL;

	c->kind = K_UNMAP;
	u->argsz = pick_argsz(sizeof(*u), UNMAP_MINSZ);
	switch (below(20)) {
	case 0:
		u->flags = VFIO_DMA_UNMAP_FLAG_ALL;
		break;
	case 1:
		u->flags = 1u << 2;		/* the removed VADDR bit */
		break;
	case 2:
		u->flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		u->argsz = sizeof(c->arg.u);
		c->arg.u.bitmap.pgsize = chance(50) ? PAGE : rnd();
		c->arg.u.bitmap.size = below(4096);
		c->arg.u.bitmap.data = (__u64 *)(uintptr_t)area_start;
		break;
	case 3:
		u->flags = (uint32_t)rnd();
		break;
	case 4:
		u->flags = VFIO_DMA_UNMAP_FLAG_ALL |
			   VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		break;
	default:
		u->flags = 0;
	}
	if (u->flags == VFIO_DMA_UNMAP_FLAG_ALL && chance(80)) {
		u->iova = 0;
		u->size = 0;
		return;
	}
	switch (mm ? below(10) : 9) {
	case 0:
	case 1:
	case 2:
	case 3:
		u->iova = mm->iova;
		u->size = mm->size;
		break;
	case 4:
		/* Part of a mapping */
		u->iova = mm->iova + (chance(50) ? PAGE : 0);
		u->size = PAGE;
		break;
	case 5:
		/* Several mappings, or a range from a mapping on */
		u->iova = mm->iova;
		u->size = (1 + below(IOVA_WINDOW / PAGE / 4)) * PAGE;
		break;
	default:
		u->iova = pick_iova();
		u->size = pick_size(u->iova);
	}
}

static void build_ext(struct fcall *c)
{
	static const unsigned long exts[] = {
		VFIO_TYPE1_IOMMU, VFIO_SPAPR_TCE_IOMMU, VFIO_TYPE1v2_IOMMU,
		VFIO_DMA_CC_IOMMU, VFIO_EEH, VFIO_TYPE1_NESTING_IOMMU,
		VFIO_SPAPR_TCE_v2_IOMMU, VFIO_NOIOMMU_IOMMU, VFIO_UNMAP_ALL,
		VFIO_UPDATE_VADDR, VFIO_DMA_OWNER, 12, 0,
	};

	c->kind = K_EXT;
	c->ext = chance(85) ? exts[below(sizeof(exts) / sizeof(exts[0]))] :
		 rnd();
}

static void build_call(struct fcall *c)
{
	unsigned int k = below(100);

	memset(c, 0, sizeof(*c));
	/* Keep the number of mappings bounded: unmap more when many. */
	if (model.n > 48 && k < 40)
		k = 60;
	if (model.n >= 64) {
		c->kind = K_UNMAP;
		c->arg.u.unmap.argsz = sizeof(c->arg.u.unmap);
		c->arg.u.unmap.flags = VFIO_DMA_UNMAP_FLAG_ALL;
	} else if (k < 36)
		build_map(c);
	else if (k < 54)
		build_stage(c);
	else if (k < 80)
		build_unmap(c);
	else if (k < 92) {
		c->kind = K_CHANGE;
	} else {
		build_ext(c);
	}
	c->who = child_pid && chance(25) ? WHO_CHILD : WHO_PARENT;
	c->target = T_MAIN;
	if (chance(5)) {
		c->target = chance(50) || containers[T_NOTYPE] < 0 ?
			    T_NOIOMMU : T_NOTYPE;
		c->who = WHO_PARENT;
	}
	c->bad_ptr = (c->kind == K_MAP || c->kind == K_STAGE ||
		      c->kind == K_UNMAP) && chance(2);
}

static void describe(const struct fcall *c, char *buf, size_t len)
{
	const char *who = c->who == WHO_CHILD ? "child" : "parent";
	int r;

	switch (c->kind) {
	case K_MAP:
	case K_STAGE:
		r = region_of(c->arg.map.vaddr, 1);
		snprintf(buf, len, "%s %s on %s: argsz %u flags %#x vaddr "
			 "%#llx (%s) iova %#llx size %#llx%s", who,
			 kind_name[c->kind], target_name[c->target],
			 c->arg.map.argsz, c->arg.map.flags,
			 (unsigned long long)c->arg.map.vaddr,
			 r < 0 ? "-" : regions[r].name,
			 (unsigned long long)c->arg.map.iova,
			 (unsigned long long)c->arg.map.size,
			 c->bad_ptr ? " bad pointer" : "");
		break;
	case K_UNMAP:
		snprintf(buf, len, "%s UNMAP_DMA on %s: argsz %u flags %#x "
			 "iova %#llx size %#llx%s", who,
			 target_name[c->target], c->arg.u.unmap.argsz,
			 c->arg.u.unmap.flags,
			 (unsigned long long)c->arg.u.unmap.iova,
			 (unsigned long long)c->arg.u.unmap.size,
			 c->bad_ptr ? " bad pointer" : "");
		break;
	case K_CHANGE:
		snprintf(buf, len, "%s CHANGE_DMA_OWNER on %s", who,
			 target_name[c->target]);
		break;
	default:
		snprintf(buf, len, "%s CHECK_EXTENSION(%#lx) on %s", who,
			 c->ext, target_name[c->target]);
	}
}

static void show_model(void)
{
	int i;

	tap_diag("model: %d mappings, owner %s", model.n,
	    model.owner == WHO_CHILD ? "child" : "parent");
	for (i = 0; i < model.n; i++) {
		const struct mmap_ *m = &model.maps[i];
		int r = region_of(m->vaddr, m->size);

		tap_diag("  iova %#llx size %#llx vaddr %#llx (%s) prot %u%s",
		    (unsigned long long)m->iova, (unsigned long long)m->size,
		    (unsigned long long)m->vaddr, r < 0 ? "-" : regions[r].name,
		    m->prot, m->staged ? " staged" : "");
	}
}

/* DMA through edu reaches the pages of up to @max mappings. */
static int dma_check(int max)
{
	size_t len = 128, i;
	int k, done = 0;

	for (k = 0; k < model.n && done < max; k++) {
		const struct mmap_ *m = &model.maps[(k + below(model.n)) %
						    model.n];
		int r = region_of(m->vaddr, m->size);
		uint8_t *src, *dst, seed = (uint8_t)rnd();

		/* Memory this process sees the same as the owner does */
		if (m->prot != RW || r < 0 || regions[r].object < 0 ||
		    m->iova + m->size > EDU_IOVA_LIMIT)
			continue;
		/* From the first page to the last */
		src = (uint8_t *)(uintptr_t)m->vaddr;
		dst = src + m->size - PAGE + 2048;
		for (i = 0; i < len; i++) {
			src[i] = (uint8_t)(seed + 3 * i);
			dst[i] = (uint8_t)~src[i];
		}
		if (edu_dma_to_device(&edu, m->iova, 0, len) ||
		    edu_dma_to_ram(&edu, 0, m->iova + m->size - PAGE + 2048,
				   len) ||
		    memcmp(src, dst, len)) {
			tap_diag("DMA at iova %#llx does not reach the pages at "
			    "vaddr %#llx", (unsigned long long)m->iova,
			    (unsigned long long)m->vaddr);
			return -1;
		}
		done++;
		ndma++;
	}
	return 0;
}

/* The child exits; if it owns the mappings they all go. */
static int child_exit_event(void)
{
	nchild_exits++;
	child_stop();
	if (model.n && model.owner == WHO_CHILD)
		model.n = 0;
	if (check_state("after the child exited", 5000))
		return -1;
	return child_start();
}

static int read_ranges(void)
{
	uint8_t buf[4096];
	struct vfio_iommu_type1_info *info = (void *)buf;
	uint32_t off;

	memset(buf, 0, sizeof(buf));
	info->argsz = sizeof(buf);
	if (ioctl(containers[T_MAIN], VFIO_IOMMU_GET_INFO, info))
		return -errno;
	if (!(info->flags & VFIO_IOMMU_INFO_CAPS))
		return -ENOENT;
	for (off = info->cap_offset; off && off + 8 <= sizeof(buf);) {
		struct vfio_info_cap_header *h = (void *)(buf + off);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *cr =
				(void *)h;
			uint32_t i;

			for (i = 0; i < cr->nr_iovas && i < MAX_RANGES; i++) {
				ranges[i].start = cr->iova_ranges[i].start;
				ranges[i].end = cr->iova_ranges[i].end;
			}
			nranges = i;
			return 0;
		}
		off = h->next;
	}
	return -ENOENT;
}

/* A container holding the vfio_test_mdev group with no IOMMU type set. */
static char notype_uuid[64];
static int notype_group = -1;

static int notype_container(void)
{
	char *uuid = notype_uuid, path[256], link[256];
	ssize_t n;
	FILE *f;
	int c, g;

	if (access(TYPE_DIR "/create", W_OK))
		return -ENOENT;
	f = fopen("/proc/sys/kernel/random/uuid", "r");
	if (!f)
		return -errno;
	n = fscanf(f, "%63s", uuid);
	fclose(f);
	if (n != 1)
		return -EIO;
	f = fopen(TYPE_DIR "/create", "w");
	if (!f)
		return -errno;
	fputs(uuid, f);
	if (fclose(f)) {
		uuid[0] = 0;
		return -errno;
	}
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	c = vfio_container_open();
	g = open(path, O_RDWR | O_CLOEXEC);
	notype_group = g;
	if (c < 0 || g < 0 || ioctl(g, VFIO_GROUP_SET_CONTAINER, &c))
		return -errno;
	return c;
}

static void notype_close(void)
{
	char path[256];
	FILE *f;

	if (containers[T_NOTYPE] >= 0)
		close(containers[T_NOTYPE]);
	if (notype_group >= 0)
		close(notype_group);
	if (!notype_uuid[0])
		return;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove",
		 notype_uuid);
	f = fopen(path, "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: fuzz_args [options]\n"
		"\n"
		"Seeded random argument fuzzer for the vfio type1 DMA ioctls,\n"
		"checked against a model of the container; in the test VM, as root.\n"
		"\n"
		"  --seed S          seed (default: random, printed first)\n"
		"  --iterations N    number of calls (default %lu)\n"
		"  --dma-every N     check edu DMA every N calls (default %u, 0: only at the end)\n"
		"  -v, --verbose     print every call\n"
		"  -h, --help        this help\n",
		opt.iterations, opt.dma_every);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || !*s || *end || *v > max || *s == '-' ? -1 : 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "dma-every", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool seeded = false;
	uint64_t v;
	int ch;

	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_u64(optarg, UINT64_MAX, &opt.seed)) {
				fprintf(stderr, "fuzz_args: bad --seed '%s'\n",
					optarg);
				return 2;
			}
			seeded = true;
			break;
		case 'i':
			if (parse_u64(optarg, 100000000, &v) || !v) {
				fprintf(stderr,
					"fuzz_args: bad --iterations '%s'\n",
					optarg);
				return 2;
			}
			opt.iterations = v;
			break;
		case 'd':
			if (parse_u64(optarg, 100000000, &v)) {
				fprintf(stderr,
					"fuzz_args: bad --dma-every '%s'\n",
					optarg);
				return 2;
			}
			opt.dma_every = v;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fuzz_args: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (!seeded && getrandom(&opt.seed, sizeof(opt.seed), 0) !=
	    sizeof(opt.seed))
		opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return 0;
}

static void print_counts(void)
{
	unsigned long total = 0;
	char line[512];
	int k, e;
	size_t off;

	for (k = 0; k < NKINDS; k++)
		total += ncalls[k];
	tap_diag("calls: %lu (parent %lu, child %lu; main %lu, no-iommu %lu, "
	    "no-type %lu), child exits %lu, DMA checks %lu", total,
	    by_who[WHO_PARENT], by_who[WHO_CHILD], by_target[T_MAIN],
	    by_target[T_NOIOMMU], by_target[T_NOTYPE], nchild_exits, ndma);
	for (k = 0; k < NKINDS; k++) {
		off = snprintf(line, sizeof(line), "%s: %lu calls, ok %lu",
			       kind_name[k], ncalls[k], nok[k]);
		for (e = 1; e < 134; e++)
			if (nerr[k][e] && off < sizeof(line))
				off += snprintf(line + off, sizeof(line) - off,
						", %s %lu", errno_name(e),
						nerr[k][e]);
		tap_diag("%s", line);
	}
}

int main(int argc, char **argv)
{
	char what[256];
	unsigned long it;
	struct fcall c, sent;
	struct fres r;
	struct expect e;
	int ret, bad = 0;
	bool known;
	time_t t0 = time(NULL);

	ret = parse_args(argc, argv);
	if (ret)
		return ret;
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng_state = opt.seed;
	printf("TAP version 13\n1..2\n");
	tap_diag("seed %llu (replay: --seed %llu --iterations %lu)",
	    (unsigned long long)opt.seed, (unsigned long long)opt.seed,
	    opt.iterations);

	parent_pid = getpid();
	ret = vfio_edu_open(&edu, 0);
	if (ret) {
		printf("ok 1 fuzz_args # SKIP no edu device\n");
		printf("ok 2 unmap_to_end # SKIP no edu device\n");
		return 4;
	}
	containers[T_MAIN] = edu.container;
	containers[T_NOIOMMU] = vfio_container_open();
	containers[T_NOTYPE] = notype_container();
	if (containers[T_NOTYPE] < 0)
		tap_diag("no container with a group and no type: "
		    "vfio_test_mdev.ko not loaded");
	if (containers[T_NOIOMMU] < 0 || read_ranges() || setup_memory()) {
		printf("not ok 1 fuzz_args # setting up failed\n");
		printf("ok 2 unmap_to_end # SKIP\n");
		return 1;
	}
	pinned0 = pinned_pages();
	if (child_start() || check_state("start", 0)) {
		printf("not ok 1 fuzz_args # setting up failed\n");
		printf("ok 2 unmap_to_end # SKIP\n");
		return 1;
	}

	for (it = 0; it < opt.iterations && !bad; it++) {
		if (chance(1) && chance(50)) {
			if (child_exit_event()) {
				bad = 1;
				break;
			}
		}
		build_call(&c);
		describe(&c, what, sizeof(what));
		if (opt.verbose)
			tap_diag("%lu: %s", it, what);
		/* The kernel writes back into the argument: keep a copy. */
		sent = c;
		if (do_call(&c, &r)) {
			bad = 1;
			break;
		}
		ncalls[c.kind]++;
		by_who[c.who]++;
		by_target[c.target]++;
		if (r.ret < 0 && r.err < 134)
			nerr[c.kind][r.err]++;
		else if (r.ret >= 0)
			nok[c.kind]++;

		e = predict(&sent, false);
		nto_end += e.to_end;
		known = e.to_end && r.ret == 0 && r.size == 0;
		if (known) {
			if (!nknown++)
				tap_diag("%lu: %s: unmapped nothing of %#llx bytes "
				    "(TODO: known kernel bug, unmap up to the "
				    "last IOVA)", it, what,
				    (unsigned long long)e.size);
		} else if (r.ret >= 0) {
			predict(&sent, true);
		}
		if (r.ret < 0 && !documented(&c, r.err)) {
			tap_diag("%lu: %s: %s is not documented for this ioctl", it,
			    what, errno_name(r.err));
			bad = 1;
		}
		if (e.any_ret ? r.ret < 0 :
		    (e.ret < 0 ? r.ret != -1 || r.err != -e.ret :
		     r.ret != e.ret)) {
			tap_diag("%lu: %s: returned %ld (%s), the model expects "
			    "%ld (%s)", it, what, r.ret,
			    r.ret < 0 ? errno_name(r.err) : "ok", e.ret,
			    e.ret < 0 ? errno_name(-e.ret) : "ok");
			bad = 1;
		}
		if (c.kind == K_UNMAP && r.ret == 0 && r.size != e.size &&
		    !known) {
			tap_diag("%lu: %s: unmapped %#llx bytes, the model says "
			    "%#llx", it, what, (unsigned long long)r.size,
			    (unsigned long long)e.size);
			bad = 1;
		}
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 " -> %s", r.ret < 0 ? errno_name(r.err) : "ok");
		if (check_state(what, 0))
			bad = 1;
		if (!bad && opt.dma_every && (it + 1) % opt.dma_every == 0 &&
		    dma_check(2))
			bad = 1;
		if (bad) {
			tap_diag("failed at call %lu of seed %llu", it,
			    (unsigned long long)opt.seed);
			show_model();
		}
	}
	if (!bad && dma_check(4))
		bad = 1;

	/* The child goes: if it owns the mappings, they go with it. */
	child_stop();
	if (model.n && model.owner == WHO_CHILD)
		model.n = 0;
	if (!bad && check_state("the child exited", 5000))
		bad = 1;
	/* Everything unmapped and unpinned; a new mapping takes DMA. */
	vfio_dma_unmap_flags(containers[T_MAIN], 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	model.n = 0;
	if (!bad && check_state("end", 0))
		bad = 1;
	if (!bad) {
		struct mmap_ m = {
			.iova = 0x100000, .size = 4 * PAGE, .prot = RW,
			.vaddr = regions[R_MAIN].start,
		};

		if (vfio_dma_map(containers[T_MAIN],
				 (void *)(uintptr_t)m.vaddr, m.iova, m.size)) {
			tap_diag("end: map: %s", strerror(errno));
			bad = 1;
		} else {
			model.owner = WHO_PARENT;
			model_insert(&m);
			bad = check_state("end, mapped", 0) || dma_check(1);
			vfio_dma_unmap(containers[T_MAIN], m.iova, m.size);
			model.n = 0;
			bad = bad || check_state("end, unmapped", 0);
		}
	}
	print_counts();
	vfio_edu_close(&edu);
	close(containers[T_NOIOMMU]);
	notype_close();
	tap_diag("%lu calls in %ld s", it, (long)(time(NULL) - t0));
	printf("%s 1 fuzz_args: %lu calls, seed %llu\n", bad ? "not ok" : "ok",
	       it, (unsigned long long)opt.seed);
	/*
	 * UNMAP_DMA of [iova, 2^64) must unmap the mappings in it: a kernel
	 * without the fix reports success and unmaps nothing. Kept apart,
	 * as a TODO, so that such a kernel still runs the rest.
	 */
	if (nknown)
		printf("not ok 2 unmap_to_end: %lu calls unmapped nothing "
		       "# TODO kernel without \"vfio/type1: unmap a range "
		       "that ends at the top of the IOVA space\"\n", nknown);
	else if (nto_end)
		printf("ok 2 unmap_to_end: %lu calls\n", nto_end);
	else
		printf("ok 2 unmap_to_end # SKIP not reached by this seed\n");
	return bad;
}
