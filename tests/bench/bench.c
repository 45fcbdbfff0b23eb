// SPDX-License-Identifier: GPL-2.0
/*
 * bench - what a change of DMA owner costs, against the alternatives.
 *
 * Runs as root in the test VM (tests/vm/run --edu 2 --mem 3G), on the
 * patched kernel or on the unpatched base kernel: the same binary finds out
 * which with VFIO_CHECK_EXTENSION (VFIO_DMA_OWNER = 11 on the patched
 * kernel, VFIO_UPDATE_VADDR = 10 on the base) and defines the constants of
 * both interfaces itself.  "make bench" boots both kernels, runs this and
 * turns its output into tables, ratios and a plot (tests/bench/report).
 *
 * Sections (all by default; those the kernel cannot run are skipped):
 *
 *   count     N 4 KiB mappings of one memfd, N from 1 to 65535:
 *             handoff   what a VMM does to hand its DMA over to another
 *                       process (here a forked peer, which sees the memfd
 *                       at the same addresses) and back: patched, stage
 *                       every vaddr (VFIO_IOMMU_MAP_DMA with
 *                       VFIO_DMA_MAP_FLAG_VADDR) then VFIO_CHANGE_DMA_OWNER;
 *                       base, the old VFIO_UPDATE_VADDR flow,
 *                       VFIO_IOMMU_UNMAP_DMA with VFIO_DMA_UNMAP_FLAG_VADDR
 *                       and _ALL, then VFIO_DMA_MAP_FLAG_VADDR for each
 *                       mapping.  The time of one direction, averaged over
 *                       the way there and back.
 *             change    VFIO_CHANGE_DMA_OWNER alone (patched)
 *             remap     the way without either: unmap everything and map
 *                       it again, pinning every page again
 *   bytes     8 mappings of 4 MiB to 1 GiB in all (second edu device),
 *             the same three, and change_ref: the change of owner of 8
 *             mappings of 4 MiB in all on the first edu device, measured
 *             in the same rounds, to compare bytes side by side
 *   anatomy   where the time of a hand-off of 1 and 4096 mappings goes,
 *             from differences of variants: see section_anatomy()
 *   mdev      a mediated device's kernel thread pins pages in a loop while
 *             the owner of its container's mappings changes back and
 *             forth (patched; vfio_test_mdev.ko must be loaded): for each
 *             change, the longest wait of a pin that overlapped it
 *   trace     4 KiB map+unmap pairs and a handoff of 1024 mappings, with
 *             the vfio_type1 tracepoints off and on (patched; base: off)
 *   ownertop  the same with vfio-ownertop -b running or not (patched)
 *
 * Every section also times "calib", a fixed loop of getppid() calls, in
 * each round: it lets results of two boots be compared (see report).
 * Variants are interleaved in each round, in an order that rotates from
 * round to round; times come from clock_gettime(CLOCK_MONOTONIC).
 *
 * Output: "# " progress and summary lines, and one line per sample,
 *   RAW,<kernel>,<section>,<x>,<variant>,<round>,<unit>,<ns>
 * where x is the number of mappings (count, mdev, trace, ownertop) or of
 * bytes (bytes).  Times under emulation (TCG) only compare with each other.
 *
 * Usage: bench [-q] [-r ROUNDS] [-o OWNERTOP] [SECTION...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/vfio.h>

#include "owner.h"
#include "vfio_test_mdev.h"

/*
 * The two interfaces, defined here: the uapi header this is built with has
 * only one of them.  Values from include/uapi/linux/vfio.h of each kernel.
 */
#define EXT_UPDATE_VADDR	10	/* base: VFIO_UPDATE_VADDR */
#define EXT_DMA_OWNER		11	/* patched: VFIO_DMA_OWNER */
#define CHANGE_DMA_OWNER	_IO(VFIO_TYPE, VFIO_BASE + 22)
/* Both: a new vaddr (base), a staged one (patched) */
#define MAP_FLAG_VADDR		(1 << 2)
#define UNMAP_FLAG_ALL		(1 << 1)	/* both */
#define UNMAP_FLAG_VADDR	(1 << 2)	/* base: invalidate vaddrs */

#ifdef VFIO_CHANGE_DMA_OWNER
_Static_assert(CHANGE_DMA_OWNER == VFIO_CHANGE_DMA_OWNER, "uapi");
_Static_assert(EXT_DMA_OWNER == VFIO_DMA_OWNER, "uapi");
#endif
_Static_assert(MAP_FLAG_VADDR == VFIO_DMA_MAP_FLAG_VADDR, "uapi");
_Static_assert(UNMAP_FLAG_ALL == VFIO_DMA_UNMAP_FLAG_ALL, "uapi");

#define PAGE		4096UL
#define KiB		1024UL
#define MiB		(1024 * KiB)
#define GiB		(1024 * MiB)
#define MAX_ROUNDS	32
#define MAX_COUNT	65535		/* default dma_entry_limit */
#define BYTES_MAPS	8		/* mappings of the bytes section */
#define TRACE_MAPS	1024		/* mappings handed off in trace */
#define CALIB_CALLS	5000
#define IOVA_LOW	(16 * MiB)	/* the map+unmap page of trace */
#define IOVA_SET	(1 * GiB)	/* the mappings of a set start here */
#define IOVA_BIG	(4 * GiB)	/* the bytes section's big set */
#define TRACE_ENABLE	"/sys/kernel/tracing/events/vfio_type1/enable"

static const char *kernel = "?";	/* "patched" or "base" */
static bool patched;
static bool quick;
static int rounds;			/* 0: each section's default */
static const char *ownertop = "build/ownertop/vfio-ownertop";
static long peer_vmas;			/* more vmas in the peer */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* One sample: unit UNIT of round ROUND of VARIANT. */
static void raw(const char *section, unsigned long long x,
		const char *variant, int round, int unit, uint64_t ns)
{
	printf("RAW,%s,%s,%llu,%s,%d,%d,%llu\n", kernel, section, x, variant,
	       round, unit, (unsigned long long)ns);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_of(double *v, int n);

/* The median of N values, left as they are. */
static double median(const double *v, int n)
{
	double s[2 * MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	return median_of(s, n);
}

/* The median over rounds of a[r] / b[r]. */
static double ratio(const double *a, const double *b, int n)
{
	double q[2 * MAX_ROUNDS];
	int i;

	for (i = 0; i < n; i++)
		q[i] = b[i] > 0 ? a[i] / b[i] : 0;
	return median(q, n);
}

static int nrounds(int full, int fast)
{
	return rounds ? rounds : quick ? fast : full;
}

/* The calibration loop: system calls that do the same on both kernels. */
static uint64_t calib(void)
{
	uint64_t t = now_ns();
	int i;

	for (i = 0; i < CALIB_CALLS; i++)
		syscall(SYS_getppid);
	return now_ns() - t;
}

/* ------------------------------------------------------------ mappings */

/* N mappings of SIZE bytes each, contiguous in vaddr and in iova. */
struct mapset {
	int container;
	char *vaddr;
	uint64_t iova;
	unsigned long n;
	size_t size;
	bool pins;		/* an IOMMU-backed container: map pins */
};

/* How long one hand-off took, and when its change of owner ran. */
struct take {
	uint64_t total;		/* from the first ioctl to the end */
	uint64_t change;	/* VFIO_CHANGE_DMA_OWNER alone (patched) */
	uint64_t c0, c1;	/* its start and end, CLOCK_MONOTONIC */
};

static int map_range(const struct mapset *s, unsigned long from,
		     unsigned long to)
{
	unsigned long i;
	int ret;

	for (i = from; i < to; i++) {
		ret = vfio_dma_map(s->container, s->vaddr + i * s->size,
				   s->iova + i * s->size, s->size);
		if (ret)
			return ret;
	}
	return 0;
}

static int unmap_all(const struct mapset *s)
{
	int64_t ret = vfio_dma_unmap_flags(s->container, 0, 0, UNMAP_FLAG_ALL);

	return ret < 0 ? (int)ret : 0;
}

/* Become the owner of every mapping of S the way the kernel offers. */
static int take_over(const struct mapset *s, struct take *t)
{
	uint64_t start = now_ns();
	unsigned long i;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	if (patched) {
		/* Stage every vaddr, then change the owner at once. */
		for (i = 0; i < s->n && !ret; i++)
			ret = vfio_dma_map_flags(s->container,
						 s->vaddr + i * s->size,
						 s->iova + i * s->size,
						 s->size, MAP_FLAG_VADDR);
		t->c0 = now_ns();
		if (!ret && ioctl(s->container, CHANGE_DMA_OWNER))
			ret = -errno;
		t->c1 = now_ns();
		t->change = t->c1 - t->c0;
	} else {
		/* Invalidate every vaddr, then give each a new one. */
		int64_t r = vfio_dma_unmap_flags(s->container, 0, 0,
						 UNMAP_FLAG_ALL |
						 UNMAP_FLAG_VADDR);

		ret = r < 0 ? (int)r : 0;
		for (i = 0; i < s->n && !ret; i++)
			ret = vfio_dma_map_flags(s->container,
						 s->vaddr + i * s->size,
						 s->iova + i * s->size,
						 s->size, MAP_FLAG_VADDR);
	}
	t->total = now_ns() - start;
	return ret;
}

/* Unmap everything and map it again, pinning every page again. */
static uint64_t remap(const struct mapset *s)
{
	uint64_t t = now_ns();
	int ret = unmap_all(s);

	if (!ret)
		ret = map_range(s, 0, s->n);
	if (ret)
		die("remap of %lu mappings: %s", s->n, strerror(-ret));
	return now_ns() - t;
}

/* ---------------------------------------------------------------- peer */

/*
 * A forked process that takes the mappings over on request.  Forked after
 * the sets are mapped, it sees the same memfd pages at the same vaddrs, as
 * a child of a VMM does; it keeps a copy of the sets.
 */
#define MAX_SETS	4
static struct mapset sets[MAX_SETS];

struct peer {
	pid_t pid;
	int cmd, res;		/* pipes: to and from the peer */
};

struct peer_res {
	int ret;
	long vmlck_kb;		/* the peer's VmLck after the take-over */
	struct take t;
};

/*
 * Give the peer N more vmas: single pages whose protections alternate, so
 * that they do not merge (a VMM has hundreds of vmas, a test program few).
 */
static void add_vmas(long n)
{
	char *p;
	long i;

	if (!n)
		return;
	p = mmap(NULL, n * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap of %ld pages: %s", n, strerror(errno));
	for (i = 0; i < n; i += 2)
		if (mprotect(p + i * PAGE, PAGE, PROT_READ | PROT_WRITE))
			die("mprotect: %s", strerror(errno));
}

static void peer_loop(int cmd, int res)
{
	struct peer_res r;
	int set;

	add_vmas(peer_vmas);
	while (read(cmd, &set, sizeof(set)) == sizeof(set)) {
		memset(&r, 0, sizeof(r));
		r.ret = take_over(&sets[set], &r.t);
		r.vmlck_kb = proc_vmlck_kb(0);
		if (write(res, &r, sizeof(r)) != sizeof(r))
			break;
	}
	_exit(0);
}

static void peer_start(struct peer *p)
{
	int cmd[2], res[2];

	if (pipe(cmd) || pipe(res))
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	p->pid = fork();
	if (p->pid < 0)
		die("fork: %s", strerror(errno));
	if (!p->pid) {
		close(cmd[1]);
		close(res[0]);
		peer_loop(cmd[0], res[1]);
	}
	close(cmd[0]);
	close(res[1]);
	p->cmd = cmd[1];
	p->res = res[0];
}

/* Stop the peer; it must own nothing by now, or its exit unmaps it all. */
static void peer_stop(struct peer *p)
{
	int status;

	close(p->cmd);
	close(p->res);
	waitpid(p->pid, &status, 0);
}

static long set_kb(const struct mapset *s)
{
	return s->pins ? (long)(s->n * s->size / KiB) : -1;
}

/*
 * Hand set SET to the peer and take it back: TO and BACK are the two
 * take-overs, timed by whoever made them.  Checks that the locked memory
 * moved along, from VmLck (not for sets that pin nothing up front).
 */
static void handoff(struct peer *p, int set, struct take *to,
		    struct take *back)
{
	const struct mapset *s = &sets[set];
	struct peer_res r;
	long kb;
	int ret;

	if (write(p->cmd, &set, sizeof(set)) != sizeof(set) ||
	    read(p->res, &r, sizeof(r)) != sizeof(r))
		die("the peer is gone");
	if (r.ret)
		die("the peer's take-over of %lu mappings: %s", s->n,
		    strerror(-r.ret));
	if (s->pins && r.vmlck_kb != set_kb(s))
		die("the peer's VmLck is %ld kB after taking over %ld kB",
		    r.vmlck_kb, set_kb(s));
	*to = r.t;
	ret = take_over(s, back);
	if (ret)
		die("taking back %lu mappings: %s", s->n, strerror(-ret));
	kb = proc_vmlck_kb(p->pid);
	if (s->pins && kb != 0)
		die("the peer's VmLck is %ld kB after handing back", kb);
}

/* A memfd buffer of SIZE bytes, shared, every page allocated. */
static char *buffer(size_t size)
{
	char *p = memfd_buffer(size, NULL);

	if (!p)
		die("memfd of %zu bytes: %s", size, strerror(errno));
	return p;
}

static struct vfio_edu *edu_open(int index)
{
	struct vfio_edu *edu = calloc(1, sizeof(*edu));

	if (!edu || vfio_edu_open(edu, index))
		die("cannot open edu device #%d", index);
	return edu;
}

static void edu_close(struct vfio_edu *edu)
{
	vfio_edu_close(edu);
	free(edu);
}

static void us_row(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void us_row(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---------------------------------------------------------- measuring */

/*
 * A variant is one way of doing something, timed by units: unit() does it
 * once and stores the time of each of its outputs (up to MAX_OUT, named
 * out[]) in ns[].  measure() runs the variants of a comparison in rounds;
 * each round is BLOCKS blocks, each block runs every variant REPS units in
 * a row, in an order that rotates from block to block (A B C, B C A, ...),
 * so that every variant sees the same moments of a loaded host.  enter()
 * and leave() run around each block of a variant, untimed.  A round's
 * result is the median of its units (a unit the host preempted does not
 * count more than any other).  Every unit is printed as a RAW line at the
 * end of its round, out of the timed part.
 */
#define MAX_OUT		3
#define MAX_VARIANTS	5
#define MAX_UNITS	1024		/* per variant and round */

struct variant {
	const char *out[MAX_OUT];	/* RAW names, NULL: not printed */
	void (*unit)(void *arg, double *ns);
	void (*enter)(void *arg);
	void (*leave)(void *arg);
	void *arg;
	int reps;			/* units per block, 0: 1 */
	double res[MAX_OUT][MAX_ROUNDS];	/* per round */
};

static double median_of(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void measure(const char *section, unsigned long long x,
		    struct variant *v, int nv, int nr, int blocks)
{
	static double units[MAX_VARIANTS][MAX_OUT][MAX_UNITS];
	int r, b, k, i, j, reps, n[MAX_VARIANTS];
	double ns[MAX_OUT];

	if (nv > MAX_VARIANTS)
		die("%d variants: at most %d", nv, MAX_VARIANTS);
	for (r = 0; r < nr; r++) {
		memset(n, 0, sizeof(n));
		for (b = 0; b < blocks; b++) {
			for (k = 0; k < nv; k++) {
				struct variant *w = &v[(r + b + k) % nv];
				int vi = w - v;

				reps = w->reps ? w->reps : 1;
				if (blocks * reps > MAX_UNITS)
					die("%d units per round: at most %d",
					    blocks * reps, MAX_UNITS);
				if (w->enter)
					w->enter(w->arg);
				for (j = 0; j < reps; j++) {
					memset(ns, 0, sizeof(ns));
					w->unit(w->arg, ns);
					for (i = 0; i < MAX_OUT; i++)
						units[vi][i][n[vi]] = ns[i];
					n[vi]++;
				}
				if (w->leave)
					w->leave(w->arg);
			}
		}
		for (k = 0; k < nv; k++) {
			for (i = 0; i < MAX_OUT; i++) {
				if (!v[k].out[i])
					continue;
				for (j = 0; j < n[k]; j++)
					raw(section, x, v[k].out[i], r, j,
					    units[k][i][j]);
				v[k].res[i][r] = median_of(units[k][i], n[k]);
			}
		}
	}
}

static void unit_calib(void *arg, double *ns)
{
	(void)arg;
	ns[0] = calib();
}

/* A hand-off of one set to the peer and back. */
struct handoff_arg {
	struct peer *peer;
	int set;
};

static void unit_handoff(void *arg, double *ns)
{
	struct handoff_arg *h = arg;
	struct take to, back;

	handoff(h->peer, h->set, &to, &back);
	ns[0] = (to.total + back.total) / 2.0;
	ns[1] = (to.change + back.change) / 2.0;
}

static void unit_remap(void *arg, double *ns)
{
	ns[0] = remap(arg);
}

#define CALIB_VARIANT(name)	{ .out = { name }, .unit = unit_calib }

/* ------------------------------------------------------- section count */

static void section_count(void)
{
	static const unsigned long full[] = { 1, 16, 256, 1024, 4096, 16384,
					      MAX_COUNT };
	static const unsigned long fast[] = { 1, 256, 4096 };
	const unsigned long *counts = quick ? fast : full;
	int ncounts = quick ? 3 : 7, nr = nrounds(9, 3), i;
	unsigned long max = counts[ncounts - 1], done = 0;
	struct vfio_edu *edu = edu_open(0);
	struct mapset *s = &sets[0];
	struct handoff_arg h;
	struct take to, back;
	struct peer p;
	struct variant v[3] = {
		CALIB_VARIANT("calib"),
		{ .out = { "handoff", patched ? "change" : NULL },
		  .unit = unit_handoff, .arg = &h },
		{ .out = { "remap" }, .unit = unit_remap, .arg = s },
	};

	*s = (struct mapset){
		.container = edu->container,
		.vaddr = buffer(max * PAGE),
		.iova = IOVA_SET,
		.size = PAGE,
		.pins = true,
	};
	us_row("count: N mappings of 4 KiB, %d rounds", nr);
	us_row("%8s %12s %12s %12s %10s", "N", "handoff(us)", "change(us)",
	       "remap(us)", "remap/hoff");
	for (i = 0; i < ncounts; i++) {
		s->n = counts[i];
		if (map_range(s, done, s->n))
			die("mapping %lu pages", s->n);
		done = s->n;
		peer_start(&p);
		h = (struct handoff_arg){ .peer = &p, .set = 0 };
		/* The peer's first take-over arms its tracker: untimed. */
		handoff(&p, 0, &to, &back);
		/* Blocks of about the same length at every N. */
		measure("count", s->n, v, 3, nr,
			s->n >= 4096 ? 1 : 4096 / s->n < 32 ? 4096 / s->n : 32);
		peer_stop(&p);
		us_row("%8lu %12.1f %12.1f %12.1f %10.1f", s->n,
		       median(v[1].res[0], nr) / 1e3,
		       median(v[1].res[1], nr) / 1e3,
		       median(v[2].res[0], nr) / 1e3,
		       ratio(v[2].res[0], v[1].res[0], nr));
	}
	unmap_all(s);
	munmap(s->vaddr, max * PAGE);
	edu_close(edu);
}

/* ------------------------------------------------------- section bytes */

static int edu_count(void)
{
	char bdf[32];
	int n = 0, group;

	while (!vfio_edu_find(n, bdf, sizeof(bdf), &group))
		n++;
	return n;
}

static void section_bytes(void)
{
	static const unsigned long long full[] = { 4 * MiB, 16 * MiB,
						   64 * MiB, 256 * MiB, GiB };
	static const unsigned long long fast[] = { 4 * MiB, 64 * MiB };
	const unsigned long long *sizes = quick ? fast : full;
	int nsizes = quick ? 2 : 5, nr = nrounds(9, 3), i;
	struct vfio_edu *edu_ref, *edu_big;
	struct mapset *ref = &sets[0], *big = &sets[1];
	struct handoff_arg hb, hr;
	struct take to, back;
	struct peer p;
	struct variant v[4] = {
		CALIB_VARIANT("calib"),
		{ .out = { "handoff", patched ? "change" : NULL },
		  .unit = unit_handoff, .arg = &hb, .reps = 8 },
		{ .out = { "handoff_ref", patched ? "change_ref" : NULL },
		  .unit = unit_handoff, .arg = &hr, .reps = 8 },
		{ .out = { "remap" }, .unit = unit_remap, .arg = big },
	};

	if (edu_count() < 2) {
		us_row("bytes: skipped, needs two edu devices (--edu 2)");
		return;
	}
	edu_ref = edu_open(0);
	edu_big = edu_open(1);
	*ref = (struct mapset){
		.container = edu_ref->container,
		.vaddr = buffer(4 * MiB),
		.iova = IOVA_SET,
		.n = BYTES_MAPS,
		.size = 4 * MiB / BYTES_MAPS,
		.pins = true,
	};
	if (map_range(ref, 0, ref->n))
		die("mapping the reference set");
	us_row("bytes: %d mappings, %d rounds; *_ref: %d mappings of 4 MiB in all, on another device",
	       BYTES_MAPS, nr, BYTES_MAPS);
	us_row("%10s %12s %12s %12s %12s %10s %10s", "BYTES", "handoff(us)",
	       "change(us)", "change_ref", "remap(us)", "chg/ref",
	       "remap/hoff");
	for (i = 0; i < nsizes; i++) {
		*big = (struct mapset){
			.container = edu_big->container,
			.vaddr = buffer(sizes[i]),
			.iova = IOVA_BIG,
			.n = BYTES_MAPS,
			.size = sizes[i] / BYTES_MAPS,
			.pins = true,
		};
		if (map_range(big, 0, big->n))
			die("mapping %llu bytes", sizes[i]);
		peer_start(&p);
		hb = (struct handoff_arg){ .peer = &p, .set = 1 };
		hr = (struct handoff_arg){ .peer = &p, .set = 0 };
		/* The peer's first take-over arms its tracker: untimed. */
		handoff(&p, 0, &to, &back);
		handoff(&p, 1, &to, &back);
		measure("bytes", sizes[i], v, 4, nr,
			sizes[i] >= 256 * MiB ? 1 :
			sizes[i] >= 64 * MiB ? 2 : 4);
		peer_stop(&p);
		us_row("%10llu %12.1f %12.1f %12.1f %12.1f %10.3f %10.1f",
		       sizes[i], median(v[1].res[0], nr) / 1e3,
		       median(v[1].res[1], nr) / 1e3,
		       median(v[2].res[1], nr) / 1e3,
		       median(v[3].res[0], nr) / 1e3,
		       patched ? ratio(v[1].res[1], v[2].res[1], nr) :
				 ratio(v[1].res[0], v[2].res[0], nr),
		       ratio(v[3].res[0], v[1].res[0], nr));
		unmap_all(big);
		munmap(big->vaddr, sizes[i]);
	}
	unmap_all(ref);
	munmap(ref->vaddr, 4 * MiB);
	edu_close(edu_big);
	edu_close(edu_ref);
}

/* ----------------------------------------------------- section anatomy */

/* Stage every vaddr of S as it is: 0 or -errno. */
static int stage_all(const struct mapset *s)
{
	unsigned long i;
	int ret = 0;

	for (i = 0; i < s->n && !ret; i++)
		ret = vfio_dma_map_flags(s->container, s->vaddr + i * s->size,
					 s->iova + i * s->size, s->size,
					 MAP_FLAG_VADDR);
	return ret;
}

static void change_self(const struct mapset *s)
{
	if (ioctl(s->container, CHANGE_DMA_OWNER))
		die("VFIO_CHANGE_DMA_OWNER by the owner: %s", strerror(errno));
}

/* The owner stages every vaddr as it is (then applies them, untimed). */
static void unit_stage(void *arg, double *ns)
{
	const struct mapset *s = arg;
	uint64_t t = now_ns();

	if (stage_all(s))
		die("staging: %s", strerror(errno));
	ns[0] = now_ns() - t;
	change_self(s);
}

/* The owner changes the owner to itself, nothing staged. */
static void unit_change_self(void *arg, double *ns)
{
	const struct mapset *s = arg;
	uint64_t t = now_ns();

	change_self(s);
	ns[0] = now_ns() - t;
}

/* The same with every vaddr staged (untimed): they are all checked. */
static void unit_change_self_staged(void *arg, double *ns)
{
	const struct mapset *s = arg;
	uint64_t t;

	if (stage_all(s))
		die("staging: %s", strerror(errno));
	t = now_ns();
	change_self(s);
	ns[0] = now_ns() - t;
}

/* Base: the old flow by the process that already owns the mappings. */
static void unit_old_self(void *arg, double *ns)
{
	struct take t;

	if (take_over(arg, &t))
		die("the old flow by the owner: %s", strerror(errno));
	ns[0] = t.total;
}

/*
 * Where the time of a hand-off goes, per mapping, from differences of
 * variants timed side by side (no probe in the kernel, whose cost under
 * emulation would swamp what it measures):
 *   patched: stage (the staging ioctls), change_self (the owner changes
 *   to itself, nothing staged: the fixed part and the walks over the
 *   mappings), change_self_staged (the same with every vaddr staged: plus
 *   checking that each maps the same memory), change (to another process:
 *   plus moving locked_vm and the references)
 *   base: old_self (the old flow by the owner: no locked_vm moves) and
 *   handoff (to another process: locked_vm moves, mapping by mapping)
 */
static void section_anatomy(void)
{
	unsigned long sizes[2] = { 1, quick ? 1024 : 4096 }, n;
	int nr = nrounds(9, 3), i;
	struct vfio_edu *edu = edu_open(0);
	struct mapset *s = &sets[0];
	struct handoff_arg h;
	struct take to, back;
	struct peer p;
	struct variant vp[5] = {
		CALIB_VARIANT("calib"),
		{ .out = { "stage" }, .unit = unit_stage, .arg = s },
		{ .out = { "change_self" }, .unit = unit_change_self, .arg = s },
		{ .out = { "change_self_staged" },
		  .unit = unit_change_self_staged, .arg = s },
		{ .out = { "handoff", "change" }, .unit = unit_handoff,
		  .arg = &h },
	};
	struct variant vb[3] = {
		CALIB_VARIANT("calib"),
		{ .out = { "old_self" }, .unit = unit_old_self, .arg = s },
		{ .out = { "handoff" }, .unit = unit_handoff, .arg = &h },
	};

	*s = (struct mapset){
		.container = edu->container,
		.vaddr = buffer(sizes[1] * PAGE),
		.iova = IOVA_SET,
		.size = PAGE,
		.pins = true,
	};
	us_row("anatomy: 1 and %lu mappings of 4 KiB, %d rounds", sizes[1], nr);
	for (i = 0; i < 2; i++) {
		n = sizes[i];
		if (map_range(s, s->n, n))
			die("mapping %lu pages", n);
		s->n = n;
		peer_start(&p);
		h = (struct handoff_arg){ .peer = &p, .set = 0 };
		/* The peer's first take-over arms its tracker: untimed. */
		handoff(&p, 0, &to, &back);
		if (patched) {
			measure("anatomy", n, vp, 5, nr, n == 1 ? 32 : 1);
			us_row("anatomy: %lu: stage %.1f us, change to itself %.1f us, with all staged %.1f us, to another process %.1f us",
			       n, median(vp[1].res[0], nr) / 1e3,
			       median(vp[2].res[0], nr) / 1e3,
			       median(vp[3].res[0], nr) / 1e3,
			       median(vp[4].res[1], nr) / 1e3);
		} else {
			measure("anatomy", n, vb, 3, nr, n == 1 ? 32 : 1);
			us_row("anatomy: %lu: old flow by the owner %.1f us, to another process %.1f us",
			       n, median(vb[1].res[0], nr) / 1e3,
			       median(vb[2].res[0], nr) / 1e3);
		}
		peer_stop(&p);
	}
	unmap_all(s);
	munmap(s->vaddr, sizes[1] * PAGE);
	edu_close(edu);
}

/* -------------------------------------------------------- section mdev */

/* One pin of the mdev's kernel thread: when it ran, how long it waited. */
struct pin_rec {
	uint64_t start, end;	/* around the ioctl, CLOCK_MONOTONIC */
	uint64_t wait_ns;	/* vfio_pin_pages() alone, from the driver */
};

#define PIN_RECS	(1 << 18)

/*
 * The pinning thread pins distinct pages one at a time, as a device doing
 * DMA makes its driver do, and unpins them all with one call once it holds
 * VFIO_TEST_MDEV_MAX_PIN (or every mapped page): the thread is almost
 * always issuing a pin, so that every change of owner meets some.
 */
struct pinner {
	int device;
	uint64_t iova;		/* of the first page of NPAGES */
	unsigned long npages;
	volatile int stop;
	unsigned long count;	/* published records; the ring wraps */
	unsigned long failures;
	struct pin_rec *recs;
};

static void *pin_loop(void *arg)
{
	struct pinner *p = arg;
	unsigned long held = 0;
	struct pin_rec rec;

	while (!p->stop) {
		rec.start = now_ns();
		if (own_mdev_op(p->device, VFIO_TEST_MDEV_PIN,
				p->iova + held * PAGE, 1, NULL,
				&rec.wait_ns) != 1) {
			p->failures++;
			continue;
		}
		rec.end = now_ns();
		held++;
		p->recs[p->count % PIN_RECS] = rec;
		__atomic_store_n(&p->count, p->count + 1, __ATOMIC_RELEASE);
		if (held == p->npages) {
			if (own_mdev_op(p->device, VFIO_TEST_MDEV_UNPIN,
					p->iova, held, NULL, NULL))
				p->failures++;
			held = 0;
		}
	}
	if (held && own_mdev_op(p->device, VFIO_TEST_MDEV_UNPIN, p->iova,
				held, NULL, NULL))
		p->failures++;
	return NULL;
}

/*
 * The longest wait of the pins recorded since record FROM that overlapped
 * the change T (a pin that waited for it overlaps it); their number in *N.
 */
static uint64_t longest_pin(struct pinner *p, unsigned long from,
			    const struct take *t, int *n)
{
	unsigned long to = __atomic_load_n(&p->count, __ATOMIC_ACQUIRE), i;
	uint64_t max = 0;

	*n = 0;
	if (to - from > PIN_RECS)
		die("%lu pins during one hand-off: the record ring is too small",
		    to - from);
	for (i = from; i < to; i++) {
		const struct pin_rec *rec = &p->recs[i % PIN_RECS];

		if (rec->end < t->c0 || rec->start > t->c1)
			continue;
		(*n)++;
		if (rec->wait_ns > max)
			max = rec->wait_ns;
	}
	return max;
}

static void section_mdev(void)
{
	unsigned long n = quick ? 2048 : 16384;
	int nr = nrounds(9, 3), r, k, overlapping, nc = 0;
	double chg[2 * MAX_ROUNDS], wait[2 * MAX_ROUNDS];
	struct pinner pin = { 0 };
	struct mapset *s = &sets[0];
	struct take t[2];
	struct own_mdev md;
	unsigned long from;
	pthread_t thread;
	struct peer p;

	if (!patched) {
		us_row("mdev: skipped, the base kernel has no change of owner");
		return;
	}
	if (access("/sys/class/mdev_bus/" VFIO_TEST_MDEV_PARENT, F_OK)) {
		us_row("mdev: skipped, vfio_test_mdev.ko is not loaded");
		return;
	}
	if (own_mdev_open(&md))
		die("cannot create a vfio-test-mdev device");
	*s = (struct mapset){
		.container = md.container,
		.vaddr = buffer(n * PAGE),
		.iova = IOVA_SET,
		.n = n,
		.size = PAGE,
		.pins = false,
	};
	/* Nothing is pinned up front: the device pins on request. */
	if (map_range(s, 0, n))
		die("mapping %lu pages for the mdev", n);
	pin.device = md.device;
	pin.iova = IOVA_SET;
	pin.npages = n < VFIO_TEST_MDEV_MAX_PIN ? n : VFIO_TEST_MDEV_MAX_PIN;
	pin.recs = calloc(PIN_RECS, sizeof(*pin.recs));
	if (!pin.recs)
		die("out of memory");
	peer_start(&p);
	handoff(&p, 0, &t[0], &t[1]);	/* the peer's first: untimed */
	if (pthread_create(&thread, NULL, pin_loop, &pin))
		die("pthread_create");

	us_row("mdev: %lu mappings, %d rounds of two changes of owner, pins of one page in a loop",
	       n, nr);
	for (r = 0; r < nr; r++) {
		from = __atomic_load_n(&pin.count, __ATOMIC_ACQUIRE);
		handoff(&p, 0, &t[0], &t[1]);
		for (k = 0; k < 2; k++) {
			uint64_t w = longest_pin(&pin, from, &t[k],
						 &overlapping);

			raw("mdev", n, "change", r, k, t[k].change);
			raw("mdev", n, "pins", r, k, overlapping);
			if (!overlapping)
				continue;	/* no pin to judge by */
			raw("mdev", n, "pin_wait", r, k, w);
			chg[nc] = t[k].change;
			wait[nc++] = w;
		}
	}
	pin.stop = 1;
	pthread_join(thread, NULL);
	peer_stop(&p);
	if (pin.failures)
		die("%lu pins or unpins of the mdev failed", pin.failures);
	us_row("mdev: %lu pins, %d of %d changes met some; change %.1f us, longest pin during it %.1f us (medians), ratio %.3f",
	       pin.count, nc, 2 * nr, median(chg, nc) / 1e3,
	       median(wait, nc) / 1e3, ratio(wait, chg, nc));
	free(pin.recs);
	unmap_all(s);
	munmap(s->vaddr, n * PAGE);
	own_mdev_close(&md);
}

/* ---------------------------------------- sections trace and ownertop */

static void set_events(bool on)
{
	int fd = open(TRACE_ENABLE, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1)
		die("%s: %s", TRACE_ENABLE, strerror(errno));
	close(fd);
}

/* The map+unmap page and the container it goes in. */
struct mu {
	int container;
	char *page;
	int pairs;		/* per unit */
};

/* The time of one 4 KiB map+unmap pair, over PAIRS of them. */
static double map_unmap(struct mu *m, int pairs)
{
	uint64_t t = now_ns();
	int i;

	for (i = 0; i < pairs; i++)
		if (vfio_dma_map(m->container, m->page, IOVA_LOW, PAGE) ||
		    vfio_dma_unmap(m->container, IOVA_LOW, PAGE) != PAGE)
			die("map+unmap: %s", strerror(errno));
	return (double)(now_ns() - t) / pairs;
}

static void unit_map_unmap(void *arg, double *ns)
{
	struct mu *m = arg;

	ns[0] = map_unmap(m, m->pairs);
}

/* Toggling events patches kernel code: warm it up again, untimed. */
static void events_on(void *arg)
{
	set_events(true);
	map_unmap(arg, 10);
}

static void events_off(void *arg)
{
	set_events(false);
	map_unmap(arg, 10);
}

/* A hand-off's variant that turns the events on or off first. */
static void events_on_h(void *arg)
{
	(void)arg;
	set_events(true);
}

static void events_off_h(void *arg)
{
	(void)arg;
	set_events(false);
}

/* What the ownertop variants run: map+unmap pairs and hand-offs. */
struct ot_arg {
	struct mu *mu;
	struct handoff_arg *h;
	pid_t pid;		/* vfio-ownertop, when running */
	bool stopped;		/* ... and kept stopped (SIGSTOP) */
};

static void unit_mixed(void *arg, double *ns)
{
	struct ot_arg *o = arg;

	ns[0] = map_unmap(o->mu, o->mu->pairs);
	unit_handoff(o->h, ns + 1);
}

/* vfio-ownertop -b in the background, once it reports. */
static void ownertop_start(void *arg)
{
	const char *out = "/tmp/bench-ownertop.out";
	uint64_t deadline = now_ns() + 120 * 1000000000ULL;
	struct ot_arg *o = arg;
	char line[256];
	FILE *f;
	int fd;

	fflush(stdout);
	o->pid = fork();
	if (o->pid < 0)
		die("fork: %s", strerror(errno));
	if (!o->pid) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execl(ownertop, ownertop, "-b", (char *)NULL);
		_exit(127);
	}
	while (now_ns() < deadline) {
		usleep(100000);
		if (waitpid(o->pid, NULL, WNOHANG) == o->pid)
			die("%s -b exited: see %s", ownertop, out);
		f = fopen(out, "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "vfio-ownertop - ", 16)) {
				fclose(f);
				if (o->stopped)
					kill(o->pid, SIGSTOP);
				/* Its start-up is over: let the CPU settle. */
				usleep(200000);
				map_unmap(o->mu, 10);
				return;
			}
		if (f)
			fclose(f);
	}
	die("%s -b did not report within 120 s", ownertop);
}

static void ownertop_stop(void *arg)
{
	struct ot_arg *o = arg;
	int status, i;

	if (o->stopped)
		kill(o->pid, SIGCONT);
	kill(o->pid, SIGINT);
	for (i = 0; i < 100; i++) {
		if (waitpid(o->pid, &status, WNOHANG) == o->pid)
			return;
		usleep(100000);
	}
	kill(o->pid, SIGKILL);
	waitpid(o->pid, &status, 0);
}

/*
 * The run time of the BPF programs named btf_map and btf_unmap (the
 * programs vfio-ownertop attaches to the map and unmap events), summed,
 * while BPF_ENABLE_STATS keeps run-time statistics on.  In *RUNS, how many
 * times they ran.
 */
static uint64_t bpf_map_unmap_ns(uint64_t *runs)
{
	union bpf_attr attr;
	struct bpf_prog_info info;
	uint64_t ns = 0;
	uint32_t id = 0;
	int fd;

	*runs = 0;
	for (;;) {
		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof(attr)))
			break;
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = id;
		fd = syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &attr,
			     sizeof(attr));
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = fd;
		attr.info.info_len = sizeof(info);
		attr.info.info = (uintptr_t)&info;
		if (!syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr,
			     sizeof(attr)) &&
		    (!strcmp(info.name, "btf_map") ||
		     !strcmp(info.name, "btf_unmap"))) {
			ns += info.run_time_ns;
			*runs += info.run_cnt;
		}
		close(fd);
	}
	return ns;
}

/*
 * Where the time vfio-ownertop adds to map+unmap goes: with BPF run-time
 * statistics on (they cost a clock read per run themselves), the time its
 * programs for the map and unmap events run per map+unmap pair.
 */
static void ownertop_bpf_time(struct ot_arg *o, int pairs)
{
	union bpf_attr attr = { .enable_stats.type = BPF_STATS_RUN_TIME };
	uint64_t ns0, ns1, runs0, runs1;
	int stats;
	double t;

	stats = syscall(SYS_bpf, BPF_ENABLE_STATS, &attr, sizeof(attr));
	if (stats < 0)
		die("BPF_ENABLE_STATS: %s", strerror(errno));
	ownertop_start(o);
	ns0 = bpf_map_unmap_ns(&runs0);
	t = map_unmap(o->mu, pairs);
	ns1 = bpf_map_unmap_ns(&runs1);
	ownertop_stop(o);
	close(stats);
	if (runs1 - runs0 != 2 * (uint64_t)pairs)
		die("ownertop's map and unmap programs ran %llu times for %d pairs",
		    (unsigned long long)(runs1 - runs0), pairs);
	raw("ownertop", TRACE_MAPS, "map_unmap_stats", 0, 0, t);
	raw("ownertop", TRACE_MAPS, "bpf_per_pair", 0, 0,
	    (double)(ns1 - ns0) / pairs);
	us_row("ownertop: with BPF statistics on, map+unmap %.1f us, of which its BPF programs %.1f us",
	       t / 1e3, (double)(ns1 - ns0) / pairs / 1e3);
}

static void ownertop_none(void *arg)
{
	struct ot_arg *o = arg;

	usleep(200000);
	map_unmap(o->mu, 10);
}

/*
 * trace: 4 KiB map+unmap pairs, then hand-offs of TRACE_MAPS mappings,
 * with the vfio_type1 events off and on; ownertop: both, mixed in each
 * unit, with vfio-ownertop -b not running, running, and running but
 * stopped (its BPF programs run, nothing reads their events).
 */
static void section_switch(const char *section)
{
	bool ot = !strcmp(section, "ownertop");
	int pairs = quick ? 100 : 200, nr, nv;
	struct mapset *s = &sets[0];
	struct ot_arg oa[3];
	struct handoff_arg h;
	struct take to, back;
	struct vfio_edu *edu;
	struct mu mu;
	struct peer p;

	if (!patched && ot) {
		us_row("ownertop: skipped, the base kernel has no vfio_type1 events");
		return;
	}
	if (ot && access(ownertop, X_OK)) {
		us_row("ownertop: skipped, no %s (make tests)", ownertop);
		return;
	}
	if (patched && access(TRACE_ENABLE, W_OK))
		die("no %s", TRACE_ENABLE);
	edu = edu_open(0);
	*s = (struct mapset){
		.container = edu->container,
		.vaddr = buffer(TRACE_MAPS * PAGE),
		.iova = IOVA_SET,
		.n = TRACE_MAPS,
		.size = PAGE,
		.pins = true,
	};
	mu = (struct mu){ .container = edu->container, .page = buffer(PAGE),
			  .pairs = pairs };
	if (map_range(s, 0, s->n))
		die("mapping %d pages", TRACE_MAPS);
	peer_start(&p);
	h = (struct handoff_arg){ .peer = &p, .set = 0 };
	handoff(&p, 0, &to, &back);	/* the peer's first: untimed */
	if (patched)
		set_events(false);

	if (!ot) {
		struct variant vm[3] = {
			CALIB_VARIANT("calib"),
			{ .out = { "map_unmap_off" }, .unit = unit_map_unmap,
			  .enter = patched ? events_off : NULL, .arg = &mu },
			{ .out = { "map_unmap_on" }, .unit = unit_map_unmap,
			  .enter = events_on, .leave = events_off_h,
			  .arg = &mu },
		};
		struct variant vh[3] = {
			CALIB_VARIANT("calib_handoff"),
			{ .out = { "handoff_off", patched ? "change_off" : NULL },
			  .unit = unit_handoff,
			  .enter = patched ? events_off_h : NULL, .arg = &h },
			{ .out = { "handoff_on", "change_on" },
			  .unit = unit_handoff, .enter = events_on_h,
			  .leave = events_off_h, .arg = &h },
		};

		nv = patched ? 3 : 2;
		nr = nrounds(15, 3);
		us_row("trace: %d rounds of blocks of %d map+unmap pairs, then of hand-offs of %d mappings, %s",
		       nr, pairs, TRACE_MAPS,
		       patched ? "vfio_type1 events off and on" :
		       "no events on the base kernel");
		measure(section, TRACE_MAPS, vm, nv, nr, quick ? 5 : 20);
		measure(section, TRACE_MAPS, vh, nv, nr, quick ? 2 : 4);
		if (patched)
			us_row("trace: map+unmap %.1f -> %.1f us (x%.4f), handoff %.1f -> %.1f us (x%.4f), change %.1f -> %.1f us (x%.4f)",
			       median(vm[1].res[0], nr) / 1e3,
			       median(vm[2].res[0], nr) / 1e3,
			       ratio(vm[2].res[0], vm[1].res[0], nr),
			       median(vh[1].res[0], nr) / 1e3,
			       median(vh[2].res[0], nr) / 1e3,
			       ratio(vh[2].res[0], vh[1].res[0], nr),
			       median(vh[1].res[1], nr) / 1e3,
			       median(vh[2].res[1], nr) / 1e3,
			       ratio(vh[2].res[1], vh[1].res[1], nr));
		else
			us_row("trace: map+unmap %.1f us, handoff %.1f us",
			       median(vm[1].res[0], nr) / 1e3,
			       median(vh[1].res[0], nr) / 1e3);
	} else {
		struct variant v[3] = {
			{ .out = { "map_unmap_off", "handoff_off", "change_off" },
			  .unit = unit_mixed, .enter = ownertop_none,
			  .arg = &oa[0], .reps = 5 },
			{ .out = { "map_unmap_on", "handoff_on", "change_on" },
			  .unit = unit_mixed, .enter = ownertop_start,
			  .leave = ownertop_stop, .arg = &oa[1], .reps = 5 },
			{ .out = { "map_unmap_stopped", "handoff_stopped",
				   "change_stopped" },
			  .unit = unit_mixed, .enter = ownertop_start,
			  .leave = ownertop_stop, .arg = &oa[2], .reps = 5 },
		};

		oa[0] = (struct ot_arg){ .mu = &mu, .h = &h };
		oa[1] = oa[0];
		oa[2] = oa[0];
		oa[2].stopped = true;
		nr = nrounds(9, 2);
		us_row("ownertop: %d rounds of %d map+unmap pairs and a hand-off of %d mappings, with vfio-ownertop -b not running (off), running (on), attached but stopped (stopped)",
		       nr, pairs, TRACE_MAPS);
		measure(section, TRACE_MAPS, v, 3, nr, 1);
		us_row("ownertop: map+unmap %.1f -> %.1f us (x%.4f; stopped x%.4f), handoff %.1f -> %.1f us (x%.4f), change %.1f -> %.1f us (x%.4f)",
		       median(v[0].res[0], nr) / 1e3,
		       median(v[1].res[0], nr) / 1e3,
		       ratio(v[1].res[0], v[0].res[0], nr),
		       ratio(v[2].res[0], v[0].res[0], nr),
		       median(v[0].res[1], nr) / 1e3,
		       median(v[1].res[1], nr) / 1e3,
		       ratio(v[1].res[1], v[0].res[1], nr),
		       median(v[0].res[2], nr) / 1e3,
		       median(v[1].res[2], nr) / 1e3,
		       ratio(v[1].res[2], v[0].res[2], nr));
		ownertop_bpf_time(&oa[1], 10 * pairs);
	}
	peer_stop(&p);
	unmap_all(s);
	munmap(s->vaddr, TRACE_MAPS * PAGE);
	munmap(mu.page, PAGE);
	edu_close(edu);
}

/* ---------------------------------------------------------------- main */

static const char *const sections[] = {
	"count", "bytes", "anatomy", "mdev", "trace", "ownertop",
};
#define NSECTIONS	((int)(sizeof(sections) / sizeof(sections[0])))

static void run(const char *name)
{
	uint64_t t = now_ns();

	if (!strcmp(name, "count"))
		section_count();
	else if (!strcmp(name, "bytes"))
		section_bytes();
	else if (!strcmp(name, "anatomy"))
		section_anatomy();
	else if (!strcmp(name, "mdev"))
		section_mdev();
	else
		section_switch(name);
	us_row("%s: %.0f s", name, (now_ns() - t) / 1e9);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bench [-q] [-r ROUNDS] [-o OWNERTOP] [SECTION...]\n"
		"Time a change of DMA owner against the alternatives, in the test VM.\n"
		"\n"
		"  -q, --quick          fewer sizes, rounds and iterations\n"
		"  -r, --rounds N       rounds of every section (1 to %d)\n"
		"  -o, --ownertop PATH  vfio-ownertop (default %s)\n"
		"  -V, --peer-vmas N    give the peer process N more vmas\n"
		"  -h, --help           this help\n"
		"\n"
		"Sections: count bytes anatomy mdev trace ownertop (default: all).\n"
		"Prints RAW,<kernel>,<section>,<x>,<variant>,<round>,<unit>,<ns>\n"
		"lines, one per sample; tests/bench/report makes tables of them.\n"
		"Run by make bench (tests/bench/run).\n",
		MAX_ROUNDS, ownertop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "ownertop", required_argument, NULL, 'o' },
		{ "peer-vmas", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vfio_edu *edu;
	long pinned0, pinned1;
	int opt, i, j, ext;
	char *end;

	while ((opt = getopt_long(argc, argv, "qr:o:V:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			quick = true;
			break;
		case 'r':
			errno = 0;
			rounds = strtol(optarg, &end, 10);
			if (errno || *end || rounds < 1 ||
			    rounds > MAX_ROUNDS) {
				fprintf(stderr, "bench: -r wants 1 to %d, not '%s'\n",
					MAX_ROUNDS, optarg);
				return 2;
			}
			break;
		case 'o':
			ownertop = optarg;
			break;
		case 'V':
			errno = 0;
			peer_vmas = strtol(optarg, &end, 10);
			if (errno || *end || peer_vmas < 0 ||
			    peer_vmas > 60000) {
				fprintf(stderr, "bench: --peer-vmas wants 0 to 60000, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (i = optind; i < argc; i++) {
		for (j = 0; j < NSECTIONS; j++)
			if (!strcmp(argv[i], sections[j]))
				break;
		if (j == NSECTIONS) {
			fprintf(stderr, "bench: no section '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (geteuid())
		die("must run as root, in the test VM");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (memlock_set(RLIM_INFINITY, RLIM_INFINITY))
		die("cannot lift RLIMIT_MEMLOCK");

	edu = edu_open(0);
	ext = own_check_extension(edu->container, EXT_DMA_OWNER);
	if (ext == 1) {
		kernel = "patched";
		patched = true;
	} else if (own_check_extension(edu->container, EXT_UPDATE_VADDR) == 1) {
		kernel = "base";
	} else {
		die("the kernel has neither VFIO_DMA_OWNER nor VFIO_UPDATE_VADDR");
	}
	edu_close(edu);

	pinned0 = pinned_pages();
	us_row("bench: %s kernel, %s mode", kernel, quick ? "quick" : "full");
	if (optind == argc)
		for (j = 0; j < NSECTIONS; j++)
			run(sections[j]);
	for (i = optind; i < argc; i++)
		run(argv[i]);
	pinned1 = own_wait_pinned(pinned0, 5000);
	us_row("bench: pinned pages %ld before, %ld after", pinned0, pinned1);
	if (pinned1 != pinned0)
		die("pages stayed pinned");
	return 0;
}
