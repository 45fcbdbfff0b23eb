// SPDX-License-Identifier: GPL-2.0
/*
 * fail_nth - fault injection sweep over the DMA owner operations of vfio
 * type1.
 *
 * For each operation the series adds or changes (first map, which creates
 * the owner's tracker; a later map; staging a vaddr; a change of owner to a
 * child and back; unmap; the owner unmapping its tracker; the owner's exit;
 * a mediated device pinning after a change of owner; adding a group to a
 * container with mappings, which replays them), the sweep runs the
 * operation with the calling task's fail-nth set to 1, 2, 3, ...: the N-th
 * fault site (a slab or page allocation) the task reaches in the system call
 * fails. The count is written to /proc/self/task/TID/fail-nth right before
 * the system call and read back right after (0: the fault was injected),
 * then reset, so that faults land in that call only. The sweep ends at the
 * first N that runs to the end without an injected fault: N - 1 is the
 * number of fault sites the operation reaches.
 *
 * After every call: a call that fails must fail with an errno documented for
 * it, and change nothing (the container's fdinfo: owner, mappings, bytes,
 * locked pages, staged vaddrs, tracker; VmLck of every process involved;
 * the system-wide FOLL_PIN count; DMA through the edu device still reaching
 * the mapped pages, and not reaching a range that failed to map). A call
 * that succeeds, with or without an injected fault that it absorbed, must
 * leave the new state right. Then the known state is restored for the
 * next N.
 *
 * Fault sites count only with allocations that may sleep, user pages and
 * order-0 pages made injectable (ignore-gfp-wait, ignore-gfp-highmem = N,
 * min-order = 0): fault_config_setup() sets that for the run and quiets the
 * fault messages (verbose = 0).
 *
 * What fail-nth cannot reach is said where it matters: the owner's tracker
 * closes in the exiting task, but the unmapping runs in a kworker (the
 * unmap_all sweep covers that code in the caller's context), and a mediated
 * device pins from its kernel thread: vfio_test_mdev's PIN_FAIL_NTH sets the
 * count in that thread instead.
 *
 * Run in the test VM, as root, with the edu device (and vfio_test_mdev.ko
 * loaded for the mediated device sweeps, else they are skipped):
 *
 *	tests/vm/run --kmemleak --timeout 1800 -- \
 *		'insmod tests/mdev/vfio_test_mdev.ko; build/tests/reliability/fail_nth'
 *
 * Output is TAP, one test per sweep, with the number of fault sites; the
 * last line sums them up.
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
#include <sys/wait.h>
#include <linux/vfio.h>

#include "owner.h"
#include "rel.h"
#include "vfio_test.h"
#include "vfio_test_mdev.h"

#define KiB		1024UL
#define PAGE		4096UL
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
/* Small mappings: every page is a few fault sites when it is pinned. */
#define BUF_SIZE	(32 * KiB)
#define BUF_PAGES	(BUF_SIZE / PAGE)
#define BUF_KB		(BUF_SIZE / KiB)
#define IOVA_A		0x100000UL
#define IOVA_B		0x200000UL
#define IOVA_X		0x400000UL
#define MDEV_NPAGE	4
#define WAIT_MS		5000
#define TYPE_DIR	"/sys/class/mdev_bus/" VFIO_TEST_MDEV_PARENT \
			"/mdev_supported_types/" VFIO_TEST_MDEV_TYPE

static struct {
	unsigned int max_n;
	const char *only;
	bool verbose;
	bool quick;
} opt = { .max_n = 2000 };

/* A memfd buffer and where it is mapped for DMA. */
struct buf {
	int memfd;
	uint8_t *va;		/* the view this process maps to the iova */
	uint8_t *alias;		/* a second view of the same pages */
	uint64_t iova;
	bool mapped;
};

/* A child process that runs commands: changes owner, exits. */
struct agent {
	pid_t pid;
	int cmd;		/* to the child */
	int res;		/* from the child */
};

struct ctx {
	pid_t self;
	long long pinned0;	/* pinned pages before anything */
	struct vfio_edu edu;	/* the edu device, its container */
	bool edu_open;
	struct buf a, b;
	struct agent ag;
	int container;		/* the one the sweep works on */

	bool mdev;		/* a vfio_test_mdev device is set up */
	struct own_mdev md;
	int m_container, m_group, m_device;	/* md's */
	struct buf x;		/* mapped in m_container */
	int pin_count0;

	/* Per step */
	struct cstate before;
	unsigned long tracker;	/* address of this process's tracker */
	uint64_t unmapped;	/* bytes the last UNMAP_DMA reported */
	int tracker_left;	/* failures that left a tracker armed */
};

/* The result of one call with fail-nth set. */
struct call {
	int ret;		/* 0 or -errno */
	int left;		/* fail-nth read back: 0 if injected */
};

/* One sweep: how to put the state in place, call, check and restore. */
struct op {
	const char *name;
	const char *what;
	bool mdev;			/* needs vfio_test_mdev */
	const int *errnos;		/* documented for injected failures */
	int (*setup)(struct ctx *c);
	int (*prepare)(struct ctx *c);	/* before each N: state, snapshot */
	struct call (*call)(struct ctx *c, unsigned int n);
	int (*check_failed)(struct ctx *c, struct call *r);
	int (*check_done)(struct ctx *c, struct call *r);
	int (*restore)(struct ctx *c, struct call *r);
	void (*teardown)(struct ctx *c);
	const char *note;		/* what fail-nth does not reach */
};

struct tally {
	unsigned int sites;		/* N - 1 at the first clean run */
	unsigned int visited;		/* fault sites seen by that run */
	unsigned int failed;		/* injected, call failed */
	unsigned int absorbed;		/* injected, call succeeded */
	unsigned int errs[160];		/* injected failures by errno */
	bool complete;
};

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			tap_diag(__VA_ARGS__);				\
			return -1;					\
		}							\
	} while (0)

/* Memory */

static int buf_new(struct buf *b, uint64_t iova)
{
	memset(b, 0, sizeof(*b));
	b->va = memfd_buffer(BUF_SIZE, &b->memfd);
	if (!b->va) {
		tap_diag("memfd buffer: %s", strerror(errno));
		return -1;
	}
	b->alias = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			b->memfd, 0);
	if (b->alias == MAP_FAILED) {
		tap_diag("memfd alias: %s", strerror(errno));
		munmap(b->va, BUF_SIZE);
		close(b->memfd);
		b->va = NULL;
		return -1;
	}
	b->iova = iova;
	return 0;
}

static void buf_free(struct buf *b)
{
	if (!b->va)
		return;
	munmap(b->va, BUF_SIZE);
	munmap(b->alias, BUF_SIZE);
	close(b->memfd);
	b->va = NULL;
	b->mapped = false;
}

static int buf_map(int container, struct buf *b)
{
	int ret = vfio_dma_map(container, b->va, b->iova, BUF_SIZE);

	CHECK(!ret, "map %#lx: %s", (unsigned long)b->iova, strerror(-ret));
	b->mapped = true;
	return 0;
}

/* Fault injection around one system call */

#define INJECT(n, r, expr)						\
	do {								\
		int __ret;						\
		fail_nth_set(n);					\
		__ret = (expr);						\
		(r)->ret = __ret < 0 ? -errno : 0;			\
		(r)->left = fail_nth_get();				\
		fail_nth_set(0);					\
	} while (0)

/* DMA through the edu device */

/* DMA reaches @b: a pattern goes RAM -> device -> RAM within it. */
static int dma_ok(struct ctx *c, struct buf *b, const char *what)
{
	static uint8_t seed;
	uint8_t *src = b->va, *dst = b->va + 2048;
	size_t i, len = 256;

	if (opt.quick)
		return 0;
	seed += 17;
	for (i = 0; i < len; i++) {
		src[i] = (uint8_t)(seed + i * 7);
		dst[i] = (uint8_t)~src[i];
	}
	CHECK(!edu_dma_to_device(&c->edu, b->iova, 0, len) &&
	      !edu_dma_to_ram(&c->edu, 0, b->iova + 2048, len),
	      "%s: edu DMA at %#lx did not complete", what,
	      (unsigned long)b->iova);
	CHECK(!memcmp(src, dst, len),
	      "%s: DMA at iova %#lx does not reach its pages", what,
	      (unsigned long)b->iova);
	return 0;
}

/*
 * DMA does not reach @b: its iova is not mapped to it. Run while the pages
 * of a failed attempt still exist, so that a mapping left behind would show.
 */
static int dma_blocked(struct ctx *c, struct buf *b, const char *what)
{
	size_t i, len = 256;

	if (opt.quick)
		return 0;
	memset(b->va, 0xa5, len);
	CHECK(!edu_dma_to_ram(&c->edu, 0, b->iova, len),
	      "%s: edu DMA at %#lx did not complete", what,
	      (unsigned long)b->iova);
	for (i = 0; i < len; i++)
		CHECK(b->va[i] == 0xa5,
		      "%s: DMA to iova %#lx, which should not be mapped, "
		      "reached the pages", what, (unsigned long)b->iova);
	return 0;
}

/* State */

static int snap(struct ctx *c, struct cstate *s)
{
	pid_t pids[2] = { c->self, c->ag.pid };
	int ret = cstate_read(s, c->container, pids, c->ag.pid ? 2 : 1);

	CHECK(!ret, "reading the state: %s", strerror(-ret));
	return 0;
}

static int expect(struct ctx *c, const char *what, const struct cstate *want,
		  bool tracker, int ms)
{
	struct cstate got;
	int ret = cstate_wait(what, want, &got, c->container, tracker, ms);

	if (ret < 0)
		tap_diag("%s: reading the state: %s", what, strerror(-ret));
	if (ret) {
		cstate_print("want", want);
		cstate_print("got ", &got);
		return -1;
	}
	return 0;
}

/*
 * The state stays @want for @ms: a work item queued by mistake would
 * unmap a little later.
 */
static int expect_stays(struct ctx *c, const char *what,
			const struct cstate *want, int ms)
{
	struct timespec tick = { .tv_nsec = 10000000 };

	for (; ms > 0; ms -= 10) {
		if (expect(c, what, want, true, 0))
			return -1;
		nanosleep(&tick, NULL);
	}
	return expect(c, what, want, true, 0);
}

/* The failed call changed nothing. */
static int unchanged(struct ctx *c, const char *what)
{
	return expect(c, what, &c->before, true, 0);
}

static void set_owner(struct cstate *s, pid_t pid, const char *comm)
{
	s->fi.owner_tgid = pid;
	snprintf(s->fi.owner_comm, sizeof(s->fi.owner_comm), "%s",
		 pid ? comm : "");
}

static void set_vmlck(struct cstate *s, pid_t pid, long kb)
{
	int i;

	for (i = 0; i < s->npids; i++)
		if (s->pid[i] == pid)
			s->vmlck_kb[i] = kb;
}

static long vmlck_of(const struct cstate *s, pid_t pid)
{
	int i;

	for (i = 0; i < s->npids; i++)
		if (s->pid[i] == pid)
			return s->vmlck_kb[i];
	return -1;
}

/* The state of an empty container with no owner and no tracker. */
static void empty_state(struct ctx *c, struct cstate *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->fi.iommu, "vfio-iommu-type1");
	strcpy(s->fi.tracker, "none");
	s->npids = 1;
	s->pid[0] = c->self;
	s->pinned = c->pinned0;
}

/* Unmap everything, drop this process's tracker: back to empty_state(). */
static int reset_container(struct ctx *c)
{
	struct cstate want;
	unsigned long addr;
	int64_t ret;

	ret = vfio_dma_unmap_flags(c->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	CHECK(ret >= 0, "unmap all: %s", strerror((int)-ret));
	c->a.mapped = c->b.mapped = c->x.mapped = false;
	while (own_trackers(0, &addr) > 0)
		CHECK(!munmap((void *)addr, PAGE), "munmap tracker: %s",
		      strerror(errno));
	empty_state(c, &want);
	if (c->container == c->m_container)
		strcpy(want.fi.iommu, "vfio-iommu-type1");
	return expect(c, "reset", &want, true, WAIT_MS);
}

/* The child */

enum { AG_CHANGE = 1, AG_EXIT };

struct ag_msg {
	int cmd;
	unsigned int n;		/* fail-nth, 0: none */
};

static void __attribute__((noreturn)) agent_main(int container, int cmd,
						  int res)
{
	struct ag_msg m;
	struct call r;

	prctl(PR_SET_NAME, "fn_child");
	if (fail_nth_open())
		_exit(2);
	while (read(cmd, &m, sizeof(m)) == sizeof(m)) {
		switch (m.cmd) {
		case AG_CHANGE:
			if (m.n)
				INJECT(m.n, &r,
				       ioctl(container, VFIO_CHANGE_DMA_OWNER));
			else
				r.ret = ioctl(container, VFIO_CHANGE_DMA_OWNER) ?
					-errno : 0;
			break;
		case AG_EXIT:
			if (m.n)
				fail_nth_set(m.n);
			_exit(0);
		default:
			_exit(3);
		}
		if (write(res, &r, sizeof(r)) != sizeof(r))
			_exit(4);
	}
	_exit(0);
}

static int agent_start(struct ctx *c)
{
	int cmd[2], res[2];
	pid_t pid;

	CHECK(!pipe2(cmd, O_CLOEXEC) && !pipe2(res, O_CLOEXEC), "pipe: %s",
	      strerror(errno));
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		close(cmd[1]);
		close(res[0]);
		agent_main(c->container, cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);
	c->ag.pid = pid;
	c->ag.cmd = cmd[1];
	c->ag.res = res[0];
	return 0;
}

static struct call agent_change(struct ctx *c, unsigned int n)
{
	struct ag_msg m = { .cmd = AG_CHANGE, .n = n };
	struct call r = { .ret = -EPIPE, .left = -1 };

	if (write(c->ag.cmd, &m, sizeof(m)) != sizeof(m) ||
	    read(c->ag.res, &r, sizeof(r)) != sizeof(r))
		tap_diag("the child did not answer");
	return r;
}

/*
 * Make the child exit, with fail-nth @n set for its exit. Returns what was
 * left of the count, read from the zombie before it is reaped, or -1.
 */
static int agent_exit(struct ctx *c, unsigned int n)
{
	struct ag_msg m = { .cmd = AG_EXIT, .n = n };
	char path[64], val[16] = "";
	siginfo_t si;
	int fd, left = -1;
	ssize_t len;

	if (!c->ag.pid)
		return -1;
	if (write(c->ag.cmd, &m, sizeof(m)) != sizeof(m))
		tap_diag("the child is gone");
	if (!waitid(P_PID, c->ag.pid, &si, WEXITED | WNOWAIT)) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/fail-nth",
			 c->ag.pid, c->ag.pid);
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			len = read(fd, val, sizeof(val) - 1);
			if (len > 0) {
				val[len] = 0;
				left = atoi(val);
			}
			close(fd);
		}
	}
	waitpid(c->ag.pid, NULL, 0);
	close(c->ag.cmd);
	close(c->ag.res);
	c->ag.pid = 0;
	return left;
}

/* Errnos an injected allocation failure may give, per operation */

/* MAP_DMA: memory could not be allocated or pinned. */
static const int err_map[] = { ENOMEM, 0 };
/* VFIO_CHANGE_DMA_OWNER: "ENOMEM: ... memory could not be allocated". */
static const int err_change[] = { ENOMEM, 0 };
/* munmap(2) of the tracker, when splitting the address space fails. */
static const int err_munmap[] = { ENOMEM, 0 };
/* Calls that allocate nothing they cannot do without. */
static const int err_none[] = { 0 };
/*
 * SET_CONTAINER: the IOMMU domain, its page tables, the group's lists; type1
 * reports an IOMMU domain it cannot allocate as EIO (as before the series).
 */
static const int err_attach[] = { ENOMEM, EIO, 0 };

static bool errno_allowed(const int *list, int err)
{
	for (; *list; list++)
		if (*list == err)
			return true;
	return false;
}

/*
 * map_first: the first MAP_DMA of a container, which makes the caller the
 * owner and maps its "[vfio-dma-owner]" tracker. Fresh, never touched pages
 * each time, so that pinning faults them in.
 */
static int map_first_setup(struct ctx *c)
{
	c->container = c->edu.container;
	return reset_container(c);
}

static int map_first_prepare(struct ctx *c)
{
	if (buf_new(&c->a, IOVA_A))
		return -1;
	return snap(c, &c->before);
}

static struct call map_a(struct ctx *c, unsigned int n)
{
	struct call r;

	INJECT(n, &r, vfio_dma_map(c->container, c->a.va, c->a.iova,
				   BUF_SIZE) ? -1 : 0);
	return r;
}

static int map_first_failed(struct ctx *c, struct call *r)
{
	struct cstate got;

	(void)r;
	/*
	 * A tracker made before the failure stays, armed, for the next map
	 * (it outlives ownership): everything else is as before.
	 */
	snap(c, &got);
	if (!strcmp(got.fi.tracker, "armed") &&
	    !strcmp(c->before.fi.tracker, "none")) {
		c->tracker_left++;
		strcpy(c->before.fi.tracker, "armed");
	}
	if (unchanged(c, "failed map"))
		return -1;
	return dma_blocked(c, &c->a, "failed map");
}

static int map_first_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;

	(void)r;
	set_owner(&want, c->self, "fail_nth");
	want.fi.mappings = 1;
	want.fi.bytes = BUF_SIZE;
	want.fi.locked = BUF_PAGES;
	strcpy(want.fi.tracker, "armed");
	set_vmlck(&want, c->self, BUF_KB);
	want.pinned += BUF_PAGES;
	if (expect(c, "map", &want, true, 0))
		return -1;
	CHECK(own_trackers(0, NULL) == 1, "map: %d trackers, want 1",
	      own_trackers(0, NULL));
	return dma_ok(c, &c->a, "map");
}

/* Unmap the tracker: its close unmaps everything (or just disarms it). */
static int map_first_restore(struct ctx *c, struct call *r)
{
	int ret;

	(void)r;
	ret = reset_container(c);
	buf_free(&c->a);
	return ret;
}

/* map_next: a second MAP_DMA by the owner, fresh pages each time. */
static int map_next_setup(struct ctx *c)
{
	c->container = c->edu.container;
	if (reset_container(c) || buf_new(&c->a, IOVA_A) ||
	    buf_map(c->container, &c->a))
		return -1;
	return 0;
}

static int map_next_prepare(struct ctx *c)
{
	if (buf_new(&c->b, IOVA_B))
		return -1;
	return snap(c, &c->before);
}

static struct call map_b(struct ctx *c, unsigned int n)
{
	struct call r;

	INJECT(n, &r, vfio_dma_map(c->container, c->b.va, c->b.iova,
				   BUF_SIZE) ? -1 : 0);
	return r;
}

static int map_next_failed(struct ctx *c, struct call *r)
{
	(void)r;
	if (unchanged(c, "failed map") || dma_ok(c, &c->a, "failed map"))
		return -1;
	return dma_blocked(c, &c->b, "failed map");
}

static int map_next_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;

	(void)r;
	want.fi.mappings++;
	want.fi.bytes += BUF_SIZE;
	want.fi.locked += BUF_PAGES;
	set_vmlck(&want, c->self, vmlck_of(&want, c->self) + BUF_KB);
	want.pinned += BUF_PAGES;
	if (expect(c, "map", &want, true, 0))
		return -1;
	c->b.mapped = true;
	return dma_ok(c, &c->b, "map") || dma_ok(c, &c->a, "map");
}

static int map_next_restore(struct ctx *c, struct call *r)
{
	int64_t ret;

	(void)r;
	if (c->b.mapped) {
		ret = vfio_dma_unmap(c->container, c->b.iova, BUF_SIZE);
		CHECK(ret == BUF_SIZE, "unmap: %lld", (long long)ret);
		c->b.mapped = false;
	}
	buf_free(&c->b);
	return expect(c, "after unmap", &c->before, true, 0);
}

static void free_bufs(struct ctx *c)
{
	if (c->ag.pid)
		agent_exit(c, 0);
	reset_container(c);
	buf_free(&c->a);
	buf_free(&c->b);
}

/* stage: VFIO_IOMMU_MAP_DMA with VFIO_DMA_MAP_FLAG_VADDR. */
static int two_maps_setup(struct ctx *c)
{
	c->container = c->edu.container;
	if (reset_container(c) || buf_new(&c->a, IOVA_A) ||
	    buf_new(&c->b, IOVA_B) || buf_map(c->container, &c->a) ||
	    buf_map(c->container, &c->b))
		return -1;
	return 0;
}

static int snap_before(struct ctx *c)
{
	return snap(c, &c->before);
}

static struct call stage_a(struct ctx *c, unsigned int n)
{
	struct call r;

	INJECT(n, &r, vfio_dma_map_flags(c->container, c->a.alias, c->a.iova,
					 BUF_SIZE, VFIO_DMA_MAP_FLAG_VADDR) ?
		      -1 : 0);
	return r;
}

static int stage_failed(struct ctx *c, struct call *r)
{
	(void)r;
	return unchanged(c, "failed stage") ||
	       dma_ok(c, &c->a, "failed stage");
}

static int stage_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;

	(void)r;
	want.fi.staged = 1;
	return expect(c, "stage", &want, true, 0) ||
	       dma_ok(c, &c->a, "stage");
}

static int nothing(struct ctx *c, struct call *r)
{
	(void)c;
	(void)r;
	return 0;
}

/*
 * change_child: a forked child takes ownership with VFIO_CHANGE_DMA_OWNER:
 * a tracker is made in its mm, its mm charged, the old one uncharged, the
 * staged vaddr of A takes effect. A fresh child each time.
 */
static int change_child_setup(struct ctx *c)
{
	return two_maps_setup(c);
}

static int change_child_prepare(struct ctx *c)
{
	struct cstate s;
	int ret;

	if (snap(c, &s))
		return -1;
	if (!s.fi.staged) {
		/* Stage the view of A that is not in use. */
		uint8_t *t = c->a.va;

		ret = own_stage(c->container, c->a.alias, c->a.iova, BUF_SIZE);
		CHECK(!ret, "stage: %s", strerror(-ret));
		c->a.va = c->a.alias;
		c->a.alias = t;
	}
	if (agent_start(c) || snap(c, &c->before))
		return -1;
	CHECK(c->before.fi.owner_tgid == c->self &&
	      c->before.fi.mappings == 2 && c->before.fi.staged == 1,
	      "not the state to start from");
	return 0;
}

static struct call change_child_call(struct ctx *c, unsigned int n)
{
	return agent_change(c, n);
}

static int change_child_failed(struct ctx *c, struct call *r)
{
	struct cstate want;

	(void)r;
	if (unchanged(c, "failed change") ||
	    dma_ok(c, &c->a, "failed change") ||
	    dma_ok(c, &c->b, "failed change"))
		return -1;
	/* The child's tracker, if one was made, is not armed: its exit
	 * must not touch the mappings. */
	want = c->before;
	agent_exit(c, 0);
	want.npids = 1;
	return expect_stays(c, "child exit after a failed change", &want, 100);
}

static int change_child_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;
	long kb = vmlck_of(&c->before, c->self);

	(void)r;
	set_owner(&want, c->ag.pid, "fn_child");
	want.fi.staged = 0;
	set_vmlck(&want, c->self, 0);
	set_vmlck(&want, c->ag.pid, kb);
	return expect(c, "change", &want, true, 0) ||
	       dma_ok(c, &c->a, "change") || dma_ok(c, &c->b, "change");
}

/* Take ownership back, then let the child go. */
static int change_child_restore(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;
	int ret;

	if (r->ret)
		return 0;	/* the child is gone already */
	ret = own_change_owner(c->container);
	CHECK(!ret, "taking ownership back: %s", strerror(-ret));
	agent_exit(c, 0);
	want.npids = 1;
	want.fi.staged = 0;
	return expect(c, "ownership back", &want, true, 200);
}

/*
 * change_back: the original process takes ownership back from a child that
 * owns the mappings, with no tracker of its own any more, as after exec: the
 * call makes one. The child stays the owner across failed steps.
 */
static int change_back_setup(struct ctx *c)
{
	unsigned long addr;
	struct call r;

	if (two_maps_setup(c) || agent_start(c))
		return -1;
	r = agent_change(c, 0);
	CHECK(!r.ret, "the child taking ownership: %s", strerror(-r.ret));
	while (own_trackers(0, &addr) > 0)
		CHECK(!munmap((void *)addr, PAGE), "munmap: %s",
		      strerror(errno));
	return 0;
}

static struct call change_self(struct ctx *c, unsigned int n)
{
	struct call r;

	INJECT(n, &r, ioctl(c->container, VFIO_CHANGE_DMA_OWNER));
	return r;
}

static int change_back_failed(struct ctx *c, struct call *r)
{
	(void)r;
	return unchanged(c, "failed change") ||
	       dma_ok(c, &c->a, "failed change") ||
	       dma_ok(c, &c->b, "failed change");
}

static int change_back_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;
	long kb = vmlck_of(&c->before, c->ag.pid);

	(void)r;
	set_owner(&want, c->self, "fail_nth");
	set_vmlck(&want, c->self, kb);
	set_vmlck(&want, c->ag.pid, 0);
	if (expect(c, "change back", &want, true, 0))
		return -1;
	CHECK(own_trackers(0, NULL) == 1, "change back: %d trackers, want 1",
	      own_trackers(0, NULL));
	return dma_ok(c, &c->a, "change back") ||
	       dma_ok(c, &c->b, "change back");
}

/* After a step that succeeded: the child takes ownership again. */
static int change_back_restore(struct ctx *c, struct call *r)
{
	struct call rc;
	unsigned long addr;

	if (r->ret)
		return 0;
	if (r->left != 0) {
		/* The clean run ends the sweep: the child may go. */
		agent_exit(c, 0);
		return 0;
	}
	rc = agent_change(c, 0);
	CHECK(!rc.ret, "the child taking ownership: %s", strerror(-rc.ret));
	while (own_trackers(0, &addr) > 0)
		CHECK(!munmap((void *)addr, PAGE), "munmap: %s",
		      strerror(errno));
	return expect(c, "the child owner again", &c->before, true, 0);
}

/*
 * unmap_one, unmap_all: VFIO_IOMMU_UNMAP_DMA of one mapping, and of all
 * with VFIO_DMA_UNMAP_FLAG_ALL, the code the owner's close work runs (in a
 * kworker, where fail-nth does not reach). Unmapping must never fail and
 * always unpin everything, whatever allocation fails on the way.
 */
static int remap_prepare(struct ctx *c)
{
	if (!c->a.mapped && buf_map(c->container, &c->a))
		return -1;
	if (!c->b.mapped && buf_map(c->container, &c->b))
		return -1;
	return snap(c, &c->before);
}

static struct call unmap_call(struct ctx *c, unsigned int n, uint64_t iova,
			      uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	struct call r;

	INJECT(n, &r, ioctl(c->container, VFIO_IOMMU_UNMAP_DMA, &u));
	c->unmapped = u.size;
	return r;
}

static struct call unmap_b(struct ctx *c, unsigned int n)
{
	return unmap_call(c, n, c->b.iova, BUF_SIZE, 0);
}

static int unmap_failed(struct ctx *c, struct call *r)
{
	(void)r;
	return unchanged(c, "failed unmap");
}

static int unmap_one_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;

	(void)r;
	CHECK(c->unmapped == BUF_SIZE, "unmap: %llu bytes unmapped, want %lu",
	      (unsigned long long)c->unmapped, BUF_SIZE);
	c->b.mapped = false;
	want.fi.mappings--;
	want.fi.bytes -= BUF_SIZE;
	want.fi.locked -= BUF_PAGES;
	set_vmlck(&want, c->self, vmlck_of(&want, c->self) - BUF_KB);
	want.pinned -= BUF_PAGES;
	return expect(c, "unmap", &want, true, 0) ||
	       dma_blocked(c, &c->b, "unmap") || dma_ok(c, &c->a, "unmap");
}

static struct call unmap_everything(struct ctx *c, unsigned int n)
{
	return unmap_call(c, n, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
}

/* Everything unmapped and unpinned; the tracker stays armed. */
static int all_gone(struct ctx *c, const char *what, const char *tracker,
		    int ms)
{
	struct cstate want;

	empty_state(c, &want);
	strcpy(want.fi.tracker, tracker);
	c->a.mapped = c->b.mapped = false;
	return expect(c, what, &want, true, ms) ||
	       dma_blocked(c, &c->a, what) || dma_blocked(c, &c->b, what);
}

static int unmap_all_done(struct ctx *c, struct call *r)
{
	(void)r;
	CHECK(c->unmapped == 2 * BUF_SIZE,
	      "unmap all: %llu bytes unmapped, want %lu",
	      (unsigned long long)c->unmapped, 2 * BUF_SIZE);
	return all_gone(c, "unmap all", "armed", 0);
}

/*
 * owner_munmap: the owner unmaps its "[vfio-dma-owner]" vma: the close
 * callback queues the work that unmaps everything. munmap(2) itself may
 * fail to allocate: then nothing may change.
 */
static int munmap_prepare(struct ctx *c)
{
	if (remap_prepare(c))
		return -1;
	CHECK(own_trackers(0, &c->tracker) == 1, "%d trackers, want 1",
	      own_trackers(0, NULL));
	return 0;
}

static struct call munmap_tracker(struct ctx *c, unsigned int n)
{
	struct call r;

	INJECT(n, &r, munmap((void *)c->tracker, PAGE));
	return r;
}

static int munmap_failed(struct ctx *c, struct call *r)
{
	(void)r;
	if (unchanged(c, "failed munmap"))
		return -1;
	CHECK(own_trackers(0, NULL) == 1, "failed munmap: the tracker is gone");
	return dma_ok(c, &c->a, "failed munmap") ||
	       dma_ok(c, &c->b, "failed munmap");
}

static int munmap_done(struct ctx *c, struct call *r)
{
	(void)r;
	return all_gone(c, "tracker unmapped", "none", WAIT_MS);
}

/*
 * owner_exit: a child that owns the mappings exits with fail-nth set; the
 * count covers its whole exit, where the tracker's close callback only
 * queues the work. Everything must be unmapped and unpinned afterwards.
 */
static int exit_prepare(struct ctx *c)
{
	struct call r;

	if (remap_prepare(c) || agent_start(c))
		return -1;
	r = agent_change(c, 0);
	CHECK(!r.ret, "the child taking ownership: %s", strerror(-r.ret));
	return snap(c, &c->before);
}

static struct call exit_call(struct ctx *c, unsigned int n)
{
	struct call r = { .ret = 0 };

	r.left = agent_exit(c, n);
	return r;
}

static int exit_done(struct ctx *c, struct call *r)
{
	(void)r;
	return all_gone(c, "owner exit", "none", WAIT_MS);
}

/*
 * mdev_pin: vfio_test_mdev pins pages of a mapping whose owner is a child
 * that took ownership; the pages are fresh each time. The PIN ioctl runs
 * the pin in the device's kernel thread: mdev_pin_caller injects in the
 * caller (which reaches only the ioctl itself), mdev_pin_kthread in that
 * thread around vfio_pin_pages() (PIN_FAIL_NTH).
 */
static int mdev_op(struct ctx *c, uint32_t op, uint64_t iova, uint32_t n,
		   uint32_t len, void *data, struct vfio_test_mdev_op *out)
{
	struct vfio_test_mdev_op req = {
		.argsz = sizeof(req),
		.op = op,
		.iova = iova,
		.npage = n,
		.len = len,
		.data = (uintptr_t)data,
	};

	if (ioctl(c->m_device, VFIO_TEST_MDEV_OP, &req))
		return -errno;
	if (out)
		*out = req;
	return req.result;
}

static int mdev_open(struct ctx *c)
{
	if (c->mdev)
		return 0;
	if (own_mdev_open(&c->md))
		return -1;
	c->m_container = c->md.container;
	c->m_group = c->md.group;
	c->m_device = c->md.device;
	c->mdev = true;
	return 0;
}

static void mdev_close(struct ctx *c)
{
	if (!c->mdev)
		return;
	own_mdev_close(&c->md);
	c->mdev = false;
}

static int mdev_setup(struct ctx *c)
{
	CHECK(!mdev_open(c), "cannot create a vfio_test_mdev device");
	c->container = c->m_container;
	return reset_container(c);
}

/* A fresh buffer X, mapped by this process, then a child takes it over. */
static int mdev_prepare(struct ctx *c)
{
	struct call r;

	if (buf_new(&c->x, IOVA_X) || buf_map(c->container, &c->x) ||
	    agent_start(c))
		return -1;
	r = agent_change(c, 0);
	CHECK(!r.ret, "the child taking ownership: %s", strerror(-r.ret));
	c->pin_count0 = mdev_op(c, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, 0, NULL,
				NULL);
	return snap(c, &c->before);
}

static struct call mdev_pin_caller(struct ctx *c, unsigned int n)
{
	struct vfio_test_mdev_op req = {
		.argsz = sizeof(req),
		.op = VFIO_TEST_MDEV_PIN,
		.iova = IOVA_X,
		.npage = MDEV_NPAGE,
	};
	struct call r;

	INJECT(n, &r, ioctl(c->m_device, VFIO_TEST_MDEV_OP, &req));
	if (!r.ret)
		r.ret = req.result < 0 ? req.result : 0;
	return r;
}

static struct call mdev_pin_kthread(struct ctx *c, unsigned int n)
{
	struct vfio_test_mdev_op req = {
		.argsz = sizeof(req),
		.op = VFIO_TEST_MDEV_PIN_FAIL_NTH,
		.iova = IOVA_X,
		.npage = MDEV_NPAGE,
		.len = n,
	};
	struct call r = { .left = -1 };

	if (ioctl(c->m_device, VFIO_TEST_MDEV_OP, &req)) {
		tap_diag("PIN_FAIL_NTH: %s", strerror(errno));
		return r;
	}
	r.ret = req.result < 0 ? req.result : 0;
	r.left = req.len;
	return r;
}

static int mdev_failed(struct ctx *c, struct call *r)
{
	int pins;

	(void)r;
	if (unchanged(c, "failed pin"))
		return -1;
	pins = mdev_op(c, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, 0, NULL, NULL);
	CHECK(pins == c->pin_count0, "failed pin: the device holds %d pins, "
	      "want %d", pins, c->pin_count0);
	return 0;
}

/* The pages pinned are those of the memfd at X: write through one, read
 * through the other. */
static int mdev_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;
	long kb = vmlck_of(&c->before, c->ag.pid);
	char msg[32];
	int i, pins;

	(void)r;
	want.fi.locked += MDEV_NPAGE;
	set_vmlck(&want, c->ag.pid, kb + MDEV_NPAGE * PAGE / KiB);
	want.pinned += MDEV_NPAGE;
	if (expect(c, "pin", &want, true, 0))
		return -1;
	pins = mdev_op(c, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, 0, NULL, NULL);
	CHECK(pins == c->pin_count0 + MDEV_NPAGE,
	      "pin: the device holds %d pins, want %d", pins,
	      c->pin_count0 + MDEV_NPAGE);
	for (i = 0; i < MDEV_NPAGE; i++) {
		snprintf(msg, sizeof(msg), "page %d of %d", i, (int)c->self);
		CHECK(!mdev_op(c, VFIO_TEST_MDEV_WRITE_PINNED, IOVA_X + i * PAGE,
			       0, sizeof(msg), msg, NULL),
		      "WRITE_PINNED failed");
		CHECK(!memcmp(c->x.va + i * PAGE, msg, sizeof(msg)),
		      "pin: page %d pinned is not the page mapped at %#lx", i,
		      (unsigned long)(IOVA_X + i * PAGE));
	}
	return 0;
}

/* The owner exits: its mappings go, with the device's pins. */
static int mdev_restore(struct ctx *c, struct call *r)
{
	struct cstate want;
	int pins;

	(void)r;
	agent_exit(c, 0);
	empty_state(c, &want);
	if (expect(c, "the owner exited", &want, true, WAIT_MS))
		return -1;
	buf_free(&c->x);
	pins = mdev_op(c, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, 0, NULL, NULL);
	CHECK(pins == 0, "the device still holds %d pins", pins);
	return 0;
}

static void mdev_teardown(struct ctx *c)
{
	if (c->ag.pid)
		agent_exit(c, 0);
	reset_container(c);
	buf_free(&c->x);
}

/*
 * attach_replay: the owner of a container that has mappings but only a
 * mediated device (nothing pinned yet) adds the edu device's group: type1
 * makes an IOMMU domain and replays the mappings into it, pinning every
 * page. Fresh pages each time. On failure the group must not be attached
 * and nothing pinned or charged.
 */
static int edu_group;

static int attach_setup(struct ctx *c)
{
	char path[64];

	CHECK(!mdev_open(c), "cannot create a vfio_test_mdev device");
	/* The edu group must be free: close its own container first. */
	if (c->edu_open) {
		c->container = c->edu.container;
		reset_container(c);
		vfio_edu_close(&c->edu);
		c->edu_open = false;
	}
	c->container = c->m_container;
	if (reset_container(c))
		return -1;
	snprintf(path, sizeof(path), "/dev/vfio/%d", c->edu.group_id);
	edu_group = open(path, O_RDWR | O_CLOEXEC);
	CHECK(edu_group >= 0, "open %s: %s", path, strerror(errno));
	return 0;
}

static int attach_prepare(struct ctx *c)
{
	if (buf_new(&c->x, IOVA_X) || buf_map(c->container, &c->x))
		return -1;
	return snap(c, &c->before);
}

static struct call attach_call(struct ctx *c, unsigned int n)
{
	struct call r;

	INJECT(n, &r, ioctl(edu_group, VFIO_GROUP_SET_CONTAINER,
			    &c->m_container));
	return r;
}

static int group_attached(void)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };

	if (ioctl(edu_group, VFIO_GROUP_GET_STATUS, &st))
		return -1;
	return !!(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
}

static int attach_failed(struct ctx *c, struct call *r)
{
	(void)r;
	CHECK(group_attached() == 0, "failed attach: the group is attached");
	return unchanged(c, "failed attach");
}

static int attach_done(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;
	struct vfio_edu edu;
	int device, ret;

	(void)r;
	CHECK(group_attached() == 1, "attach: the group is not attached");
	want.fi.locked = BUF_PAGES;
	set_vmlck(&want, c->self, BUF_KB);
	want.pinned += BUF_PAGES;
	if (expect(c, "attach", &want, true, 0))
		return -1;
	/* DMA through the new domain reaches X. */
	device = ioctl(edu_group, VFIO_GROUP_GET_DEVICE_FD, c->edu.bdf);
	CHECK(device >= 0, "edu device: %s", strerror(errno));
	ret = vfio_edu_adopt(&edu, c->m_container, edu_group, device);
	if (!ret) {
		c->edu.bar0 = edu.bar0;
		c->edu.config_offset = edu.config_offset;
		ret = dma_ok(c, &c->x, "attach");
		munmap(edu.bar0, EDU_BAR0_SIZE);
		c->edu.bar0 = NULL;
	}
	close(device);
	return ret;
}

static int attach_restore(struct ctx *c, struct call *r)
{
	struct cstate want = c->before;

	if (!r->ret)
		CHECK(!ioctl(edu_group, VFIO_GROUP_UNSET_CONTAINER),
		      "UNSET_CONTAINER: %s", strerror(errno));
	if (expect(c, "detached", &want, true, WAIT_MS))
		return -1;
	if (vfio_dma_unmap(c->container, IOVA_X, BUF_SIZE) != BUF_SIZE)
		return -1;
	buf_free(&c->x);
	return 0;
}

static void attach_teardown(struct ctx *c)
{
	if (group_attached() == 1)
		ioctl(edu_group, VFIO_GROUP_UNSET_CONTAINER);
	close(edu_group);
	reset_container(c);
	buf_free(&c->x);
}

static const struct op ops[] = {
	{
		.name = "map_first",
		.what = "first MAP_DMA: becomes the owner, maps the tracker",
		.errnos = err_map,
		.setup = map_first_setup,
		.prepare = map_first_prepare,
		.call = map_a,
		.check_failed = map_first_failed,
		.check_done = map_first_done,
		.restore = map_first_restore,
		.teardown = free_bufs,
	}, {
		.name = "map_next",
		.what = "a second MAP_DMA by the owner",
		.errnos = err_map,
		.setup = map_next_setup,
		.prepare = map_next_prepare,
		.call = map_b,
		.check_failed = map_next_failed,
		.check_done = map_next_done,
		.restore = map_next_restore,
		.teardown = free_bufs,
	}, {
		.name = "stage",
		.what = "MAP_DMA with VFIO_DMA_MAP_FLAG_VADDR",
		.errnos = err_none,
		.setup = two_maps_setup,
		.prepare = snap_before,
		.call = stage_a,
		.check_failed = stage_failed,
		.check_done = stage_done,
		.restore = nothing,
		.teardown = free_bufs,
		.note = "staging records a vaddr under the lock: no fault site",
	}, {
		.name = "change_child",
		.what = "VFIO_CHANGE_DMA_OWNER by a forked child, A staged",
		.errnos = err_change,
		.setup = change_child_setup,
		.prepare = change_child_prepare,
		.call = change_child_call,
		.check_failed = change_child_failed,
		.check_done = change_child_done,
		.restore = change_child_restore,
		.teardown = free_bufs,
	}, {
		.name = "change_back",
		.what = "VFIO_CHANGE_DMA_OWNER back from the child, no tracker",
		.errnos = err_change,
		.setup = change_back_setup,
		.prepare = snap_before,
		.call = change_self,
		.check_failed = change_back_failed,
		.check_done = change_back_done,
		.restore = change_back_restore,
		.teardown = free_bufs,
	}, {
		.name = "unmap_one",
		.what = "UNMAP_DMA of one mapping",
		.errnos = err_none,
		.setup = two_maps_setup,
		.prepare = remap_prepare,
		.call = unmap_b,
		.check_failed = unmap_failed,
		.check_done = unmap_one_done,
		.restore = nothing,
		.teardown = free_bufs,
	}, {
		.name = "unmap_all",
		.what = "UNMAP_DMA with FLAG_ALL, as the owner's close work",
		.errnos = err_none,
		.setup = two_maps_setup,
		.prepare = remap_prepare,
		.call = unmap_everything,
		.check_failed = unmap_failed,
		.check_done = unmap_all_done,
		.restore = nothing,
		.teardown = free_bufs,
	}, {
		.name = "owner_munmap",
		.what = "the owner unmaps its tracker: close queues the unmap",
		.errnos = err_munmap,
		.setup = two_maps_setup,
		.prepare = munmap_prepare,
		.call = munmap_tracker,
		.check_failed = munmap_failed,
		.check_done = munmap_done,
		.restore = nothing,
		.teardown = free_bufs,
		.note = "the unmapping runs in a kworker: see unmap_all",
	}, {
		.name = "owner_exit",
		.what = "the owner, a child, exits with mappings",
		.errnos = err_none,
		.setup = two_maps_setup,
		.prepare = exit_prepare,
		.call = exit_call,
		.check_failed = nothing,
		.check_done = exit_done,
		.restore = nothing,
		.teardown = free_bufs,
		.note = "sites of the whole exit; the tracker's close callback "
			"allocates nothing, the unmapping runs in a kworker",
	}, {
		.name = "mdev_pin_caller",
		.what = "mdev PIN after a change of owner, fail-nth in the caller",
		.mdev = true,
		.errnos = err_map,
		.setup = mdev_setup,
		.prepare = mdev_prepare,
		.call = mdev_pin_caller,
		.check_failed = mdev_failed,
		.check_done = mdev_done,
		.restore = mdev_restore,
		.teardown = mdev_teardown,
		.note = "the pin runs in the device's kernel thread: only the "
			"ioctl itself is reached, see mdev_pin_kthread",
	}, {
		.name = "mdev_pin_kthread",
		.what = "mdev PIN after a change of owner, fail-nth in the pinning thread",
		.mdev = true,
		.errnos = err_map,
		.setup = mdev_setup,
		.prepare = mdev_prepare,
		.call = mdev_pin_kthread,
		.check_failed = mdev_failed,
		.check_done = mdev_done,
		.restore = mdev_restore,
		.teardown = mdev_teardown,
	}, {
		.name = "attach_replay",
		.what = "SET_CONTAINER of the edu group by the owner: replay pins",
		.mdev = true,
		.errnos = err_attach,
		.setup = attach_setup,
		.prepare = attach_prepare,
		.call = attach_call,
		.check_failed = attach_failed,
		.check_done = attach_done,
		.restore = attach_restore,
		.teardown = attach_teardown,
	},
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static bool selected(const char *name)
{
	const char *p = opt.only;
	size_t n = strlen(name);

	if (!p)
		return true;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, name, n))
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
}

/* Run one sweep. Returns 0 if every step checked out. */
static int sweep(struct ctx *c, const struct op *op, struct tally *t)
{
	unsigned int n;
	struct call r;
	int bad = 0;

	memset(t, 0, sizeof(*t));
	c->tracker_left = 0;
	if (op->setup(c)) {
		tap_diag("%s: setting up failed", op->name);
		return -1;
	}
	for (n = 1; n <= opt.max_n && !bad; n++) {
		if (op->prepare(c)) {
			tap_diag("%s: N=%u: preparing failed", op->name, n);
			bad = 1;
			break;
		}
		r = op->call(c, n);
		if (r.left < 0) {
			tap_diag("%s: N=%u: cannot read fail-nth back", op->name, n);
			bad = 1;
			break;
		}
		if (opt.verbose)
			tap_diag("%s: N=%u: %s, %s", op->name, n,
			    r.left ? "no fault injected" : "fault injected",
			    r.ret ? errno_name(-r.ret) : "success");
		if (r.ret) {
			if (r.left) {
				tap_diag("%s: N=%u: fails with %s with no fault "
				    "injected", op->name, n,
				    errno_name(-r.ret));
				bad = 1;
			} else if (!errno_allowed(op->errnos, -r.ret)) {
				tap_diag("%s: N=%u: an injected fault gives %s, "
				    "not documented for this call", op->name,
				    n, errno_name(-r.ret));
				bad = 1;
			}
			if (-r.ret < (int)(sizeof(t->errs) / sizeof(t->errs[0])))
				t->errs[-r.ret]++;
			t->failed++;
			if (op->check_failed(c, &r)) {
				tap_diag("%s: N=%u: the failed call (%s) changed "
				    "the state", op->name, n,
				    errno_name(-r.ret));
				bad = 1;
			}
		} else {
			if (!r.left)
				t->absorbed++;
			if (op->check_done(c, &r)) {
				tap_diag("%s: N=%u: wrong state after success%s",
				    op->name, n, r.left ? "" :
				    " (with an injected fault absorbed)");
				bad = 1;
			}
		}
		if (!bad && op->restore(c, &r)) {
			tap_diag("%s: N=%u: restoring the state failed", op->name,
			    n);
			bad = 1;
		}
		if (r.left) {
			t->sites = n - 1;
			t->visited = n - r.left;
			t->complete = true;
			break;
		}
	}
	if (!bad && !t->complete)
		tap_diag("%s: still injecting faults at N=%u", op->name, opt.max_n);
	op->teardown(c);
	return bad || !t->complete ? -1 : 0;
}

static void print_errs(const struct tally *t, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 1; i < sizeof(t->errs) / sizeof(t->errs[0]); i++)
		if (t->errs[i] && off < len)
			off += snprintf(buf + off, len - off, "%s%s %u",
					off ? ", " : "", errno_name(i),
					t->errs[i]);
	if (!off)
		snprintf(buf, len, "none");
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: fail_nth [options]\n"
		"\n"
		"Fault injection sweep (per-task fail-nth) over the DMA owner\n"
		"operations of vfio type1, in the test VM, as root.\n"
		"\n"
		"  --only NAME[,NAME]  run these sweeps only\n"
		"  --max-n N           give up a sweep at N (default %u)\n"
		"  --quick             no edu DMA checks (fdinfo and counters only)\n"
		"  -v, --verbose       one line per step\n"
		"  -l, --list          list the sweeps\n"
		"  -h, --help          this help\n"
		"\nSweeps:\n", opt.max_n);
	for (i = 0; i < NOPS; i++)
		fprintf(f, "  %-18s %s\n", ops[i].name, ops[i].what);
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "only", required_argument, NULL, 'o' },
		{ "max-n", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	size_t i;
	long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "vlh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			opt.only = optarg;
			break;
		case 'n':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 1000000) {
				fprintf(stderr, "fail_nth: bad --max-n '%s'\n",
					optarg);
				return 2;
			}
			opt.max_n = v;
			break;
		case 'q':
			opt.quick = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'l':
			for (i = 0; i < NOPS; i++)
				printf("%s\n", ops[i].name);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fail_nth: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (opt.only) {
		const char *p = opt.only;

		while (*p) {
			size_t len = strcspn(p, ",");
			bool found = false;

			for (i = 0; i < NOPS; i++)
				if (strlen(ops[i].name) == len &&
				    !strncmp(ops[i].name, p, len))
					found = true;
			if (!found) {
				fprintf(stderr, "fail_nth: no sweep '%.*s' "
					"(--list shows them)\n", (int)len, p);
				return 2;
			}
			p += len;
			p += *p == ',';
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tally tallies[NOPS];
	char summary[1024], errs[256];
	size_t i, off = 0;
	unsigned int total = 0, planned = 0, num = 0;
	int ret, failed = 0, mdev_ok;
	struct ctx c = { 0 };
	time_t t0 = time(NULL);

	ret = parse_args(argc, argv);
	if (ret)
		return ret;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < NOPS; i++)
		planned += selected(ops[i].name);
	printf("TAP version 13\n1..%u\n", planned);

	c.self = getpid();
	ret = fault_config_setup();
	if (!ret)
		ret = fail_nth_open();
	if (ret) {
		printf("# fault injection is not available: %s\n",
		       strerror(-ret));
		for (i = 0; i < NOPS; i++)
			if (selected(ops[i].name))
				printf("ok %u %s # SKIP no fault injection\n",
				       ++num, ops[i].name);
		return 4;
	}
	fault_config_print();
	/*
	 * Setting and reading the count must reach no fault site of their
	 * own, or every count below would be off: around a system call that
	 * allocates nothing, N = 1 must be left untouched.
	 */
	{
		struct call r;

		INJECT(1, &r, (int)getppid());
		if (r.left != 1) {
			printf("# fail-nth around getppid() read back %d, "
			       "want 1: the counts cannot be trusted\n",
			       r.left);
			return 1;
		}
	}
	c.pinned0 = pinned_pages();
	ret = vfio_edu_open(&c.edu, 0);
	if (ret) {
		printf("# no edu device: %s\n", strerror(-ret));
		for (i = 0; i < NOPS; i++)
			if (selected(ops[i].name))
				printf("ok %u %s # SKIP no edu device\n",
				       ++num, ops[i].name);
		return 4;
	}
	c.edu_open = true;
	mdev_ok = access(TYPE_DIR "/create", W_OK) == 0;

	for (i = 0; i < NOPS; i++) {
		const struct op *op = &ops[i];
		struct tally *t = &tallies[i];

		if (!selected(op->name))
			continue;
		num++;
		if (op->mdev && !mdev_ok) {
			printf("ok %u %s # SKIP vfio_test_mdev.ko not loaded\n",
			       num, op->name);
			continue;
		}
		if (!op->mdev && !c.edu_open) {
			printf("ok %u %s # SKIP the edu device was handed "
			       "over\n", num, op->name);
			continue;
		}
		tap_diag("%s: %s", op->name, op->what);
		ret = sweep(&c, op, t);
		print_errs(t, errs, sizeof(errs));
		if (t->complete)
			tap_diag("%s: %u fault sites (clean run visited %u), %u "
			    "injected failures (%s), %u absorbed%s%s",
			    op->name, t->sites, t->visited, t->failed, errs,
			    t->absorbed, op->note ? "; " : "",
			    op->note ? op->note : "");
		if (c.tracker_left)
			tap_diag("%s: %d failed calls left the caller's tracker "
			    "armed, with no mappings", op->name,
			    c.tracker_left);
		if (ret) {
			failed++;
			printf("not ok %u %s\n", num, op->name);
		} else {
			printf("ok %u %s: %u fault sites\n", num, op->name,
			       t->sites);
			total += t->sites;
			off += snprintf(summary + off, sizeof(summary) - off,
					"%s%s %u", off ? ", " : "", op->name,
					t->sites);
		}
	}
	if (c.edu_open) {
		c.container = c.edu.container;
		reset_container(&c);
		vfio_edu_close(&c.edu);
	}
	mdev_close(&c);
	fail_nth_close();
	fault_config_restore();
	ret = (int)(pinned_pages() - c.pinned0);
	if (ret) {
		printf("# %d pages still pinned at the end\n", ret);
		failed++;
	}
	printf("# fault sites: %s (total %u) in %ld s\n",
	       off ? summary : "none", total, (long)(time(NULL) - t0));
	return failed ? 1 : 0;
}
