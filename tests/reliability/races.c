// SPDX-License-Identifier: GPL-2.0
/*
 * races - targeted races around the owner of DMA mappings
 *
 * Each race puts two or more processes or threads on the two sides of a
 * window in vfio type1 (drivers/vfio/vfio_iommu_type1.c), starts them
 * together from a shared flag with a random delay on each side so that
 * successive iterations sweep the window, and after every iteration checks
 * that the outcome is one the semantics allow and that nothing leaked:
 * the container's fdinfo, VmLck of every process (the owner has exactly
 * the locked pages, everyone else 0), the FOLL_PIN counters, the mdev's
 * pins, the tracker vmas.  The test kernel adds lockdep and hung-task
 * detection (20 s); tests/vm/run fails on their reports.
 *
 *  change_vs_exit        VFIO_CHANGE_DMA_OWNER against the exit of the old
 *                        owner (from its main thread, another thread, or
 *                        SIGKILL): the taker gets the mappings, or ESRCH and
 *                        the owner-close work unmaps them.
 *  change_vs_exec        the same against the owner's exec (main thread or
 *                        another thread).
 *  two_changers          two (or three) processes change the owner at once:
 *                        the last to succeed owns everything, a limited one
 *                        fails with ENOMEM and changes nothing.
 *  change_vs_map_thread  changes of owner back and forth against map/unmap
 *                        from another thread of the owner.
 *  change_vs_mdev        changes of owner back and forth (one side short of
 *                        RLIMIT_MEMLOCK) against mdev pins, unpins and
 *                        vfio_dma_rw whose data is checked.
 *  exit_vs_mdev_pin      the owner is killed while mdev pins and reads wait
 *                        for the container: they fail cleanly, nothing
 *                        stays pinned, the container works again after.
 *  munmap_tracker_vs_change  the owner unmaps its "[vfio-dma-owner]" vma
 *                        while another process takes over.
 *  close_work_vs_map     the owner is killed while another process unmaps
 *                        and maps again: the old owner's close work must
 *                        not take the new owner's mappings.
 *  kill_nonowner_unmap   a process unmapping the owner's mappings is killed
 *                        while the owner's mmap_lock is busy: no locked_vm
 *                        may stay charged for unmapped pages (it did, when
 *                        the uncharge gave up on a killable mmap_lock).
 *
 * Usage (in the test VM, with vfio_test_mdev.ko loaded):
 *	races [--iterations N | --scale F] [--race NAME] [--seed S] [--strict]
 * Prints TAP, one result per race.  A race can be marked with a known kernel
 * bug (struct race .todo): it is then reported "not ok ... # TODO" until the
 * fix lands (a failure with --strict); none is marked now.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "rel.h"
#include "vfio_test_mdev.h"

#define NMAP		16		/* mappings of the owner */
#define MAP_PAGES	8		/* pages each */
#define MAP_SIZE	(MAP_PAGES * REL_PAGE)
#define P_ALL		(NMAP * MAP_PAGES)
#define IOVA0		(1UL << 20)
#define SPARE_IOVA	(64UL << 20)	/* one more mapping, for the map loops */
#define MANY		512		/* single-page mdev mappings */
#define MANY_IOVA	(128UL << 20)
#define SETTLE_MS	5000
#define MAXPROC		8

/* ---------------------------------------------------------------------- */

static struct {
	struct vfio_edu edu;
	struct own_mdev mdev;
	bool have_mdev;
	uint8_t *mem;		/* NMAP * MAP_SIZE, then a spare map */
	uint8_t *many;		/* MANY pages, for the mdev */
	long long pins0;
} env;

/* What the processes of one iteration share. */
struct shm {
	volatile int go;		/* set by the test to start the race */
	volatile int stop;		/* set by the test to end loops */
	volatile int ready[MAXPROC];
	volatile int done[MAXPROC];
	volatile int ret[MAXPROC];
	volatile uint64_t delay_ns[MAXPROC];
	volatile long count[MAXPROC][4];
	volatile int bad[MAXPROC];	/* unexpected results seen */
	volatile int bad_val[MAXPROC];
	volatile uint64_t max_wait_ns;
};

static struct shm *shm;

static struct {
	int iterations;		/* 0: each race's own */
	double scale;
	const char *race;
	uint64_t seed;
	bool strict;
	bool verbose;
} opt = { .scale = 1.0 };

static char why[1024];		/* the first failure of the current race */
static char todo_why[1024];	/* the first sign of a known kernel bug */
static pid_t procs[MAXPROC];
static int nprocs;

static void racefail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void racefail(const char *fmt, ...)
{
	va_list ap;

	if (why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		racefail(__VA_ARGS__);					\
		goto out;						\
	}								\
} while (0)

/* ---- processes ---- */

static pid_t spawn(int (*fn)(int, void *), int id, void *arg)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(fn(id, arg));
	if (pid > 0 && nprocs < MAXPROC)
		procs[nprocs++] = pid;
	return pid;
}

static void wait_gone(pid_t pid)
{
	int fd = rel_pidfd(pid);

	if (fd >= 0) {
		rel_pidfd_wait(fd, 30000);
		close(fd);
	}
	waitpid(pid, NULL, 0);
}

static void kill_all(void)
{
	for (int i = 0; i < nprocs; i++)
		kill(procs[i], SIGKILL);
	for (int i = 0; i < nprocs; i++)
		waitpid(procs[i], NULL, 0);
	nprocs = 0;
}

/* Wait for the start, then for this side's delay. */
static void start_line(int id)
{
	shm->ready[id] = 1;
	while (!shm->go)
		sched_yield();
	rel_spin_ns(shm->delay_ns[id]);
}

static bool wait_ready(int id, int ms)
{
	while (!shm->ready[id] && ms-- > 0)
		rel_sleep_ms(1);
	return shm->ready[id];
}

static bool wait_done(int id, int ms)
{
	while (!shm->done[id] && ms-- > 0)
		rel_sleep_ms(1);
	return shm->done[id];
}

static void shm_reset(uint64_t *rs, uint64_t max_delay_ns)
{
	memset((void *)shm, 0, sizeof(*shm));
	for (int i = 0; i < MAXPROC; i++)
		shm->delay_ns[i] = max_delay_ns ?
			rel_rand(rs) % max_delay_ns : 0;
}

/* ---- checks ---- */

static int edu_fd(void)
{
	return env.edu.container;
}

/* Wait until the container has @mappings mappings; returns its fdinfo. */
static bool wait_mappings(int fd, unsigned int mappings, struct rel_fdinfo *fi)
{
	for (int ms = 0; ms <= SETTLE_MS; ms += 2) {
		if (rel_fdinfo(0, fd, fi))
			return false;
		if (fi->mappings == mappings)
			return true;
		rel_sleep_ms(2);
	}
	return false;
}

/*
 * The container is owned by @owner with @pages locked pages, and each of
 * @others (0-terminated) has VmLck 0; FOLL_PIN pages are base + @pins.
 */
static bool check_owned(int fd, pid_t owner, long pages, long pins,
			const pid_t *others)
{
	struct rel_fdinfo fi;
	long v;

	if (rel_fdinfo(0, fd, &fi)) {
		racefail("cannot read fdinfo");
		return false;
	}
	if (fi.owner_tgid != owner || (long)fi.locked != pages) {
		racefail("fdinfo: owner %d with %llu locked pages, want %d with %ld",
			 fi.owner_tgid, fi.locked, owner, pages);
		return false;
	}
	if (owner && strcmp(fi.tracker, "armed")) {
		racefail("fdinfo: tracker %s with owner %d", fi.tracker, owner);
		return false;
	}
	if (owner && (v = rel_vmlck_pages(owner)) != pages) {
		racefail("VmLck of the owner %d is %ld pages, want %ld", owner,
			 v, pages);
		return false;
	}
	for (; others && *others; others++) {
		if (*others == owner)
			continue;
		v = rel_vmlck_pages(*others);
		if (v > 0) {
			racefail("VmLck of %d, not the owner, is %ld pages",
				 *others, v);
			return false;
		}
	}
	v = rel_pins_wait(env.pins0 + pins, 500) - env.pins0;
	if (v != pins) {
		racefail("%ld pages pinned, want %ld", v, pins);
		return false;
	}
	return true;
}

/* Nothing mapped, nothing pinned: the state between iterations. */
static bool check_clean(int fd)
{
	struct rel_fdinfo fi;
	long long p;

	if (!wait_mappings(fd, 0, &fi)) {
		racefail("%u mappings stay after every process of the iteration is gone",
			 fi.mappings);
		return false;
	}
	p = rel_pins_wait(env.pins0, 2000);
	if (p != env.pins0) {
		racefail("%lld pages stay pinned", p - env.pins0);
		return false;
	}
	if (env.have_mdev &&
	    own_mdev_op(env.mdev.device, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, NULL,
			NULL) != 0) {
		racefail("the mdev still holds pins");
		return false;
	}
	if (proc_vmlck_kb(0) != 0) {
		racefail("the test process has VmLck %ld kB", proc_vmlck_kb(0));
		return false;
	}
	return true;
}

/* ---- what the processes do ---- */

static int map_all(int fd)
{
	for (int i = 0; i < NMAP; i++) {
		int ret = vfio_dma_map(fd, env.mem + i * MAP_SIZE,
				       IOVA0 + i * MAP_SIZE, MAP_SIZE);

		if (ret)
			return ret;
	}
	return 0;
}

/* Sleep until killed. */
static void idle(void) __attribute__((noreturn));
static void idle(void)
{
	for (;;)
		pause();
}

/* The owner: map everything, then leave as @how says at the start. */
enum { LEAVE_EXIT, LEAVE_THREAD_EXIT, LEAVE_KILLED, LEAVE_EXEC,
       LEAVE_THREAD_EXEC, LEAVE_MUNMAP, LEAVE_NONE, LEAVE_CHANGE };

struct owner_arg {
	int fd;
	int how;
};

static void leave(int how) __attribute__((noreturn));
static void leave(int how)
{
	char *argv[] = { "races", "--idle", NULL };

	switch (how) {
	case LEAVE_EXIT:
	case LEAVE_THREAD_EXIT:
		_exit(0);
	case LEAVE_EXEC:
	case LEAVE_THREAD_EXEC:
		execv("/proc/self/exe", argv);
		_exit(3);
	}
	idle();
}

static void *leave_thread(void *arg)
{
	int how = (long)arg;

	start_line(0);
	leave(how);
	return NULL;
}

/* The tracker vma's address in this process, or 0. */
static uintptr_t tracker_addr(void)
{
	char line[512];
	uintptr_t a = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vfio-dma-owner]"))
			sscanf(line, "%lx", &a);
	if (f)
		fclose(f);
	return a;
}

static int owner_main(int id, void *p)
{
	struct owner_arg *a = p;
	pthread_t t;
	uintptr_t trk;
	int ret;

	ret = map_all(a->fd);
	if (ret)
		return 10;
	trk = tracker_addr();
	if (a->how == LEAVE_THREAD_EXIT || a->how == LEAVE_THREAD_EXEC) {
		if (pthread_create(&t, NULL, leave_thread, (void *)(long)a->how))
			return 11;
		idle();
	}
	start_line(id);
	if (a->how == LEAVE_MUNMAP) {
		shm->ret[id] = munmap((void *)trk, REL_PAGE) ? -errno : 0;
		shm->done[id] = 1;
		idle();
	}
	if (a->how == LEAVE_CHANGE) {
		/* Already the owner: it takes back what was taken, if any. */
		shm->ret[id] = own_change_owner(a->fd);
		shm->done[id] = 1;
		idle();
	}
	leave(a->how);
}

/* A process that takes over at the start, reports, and waits. */
static int taker_main(int id, void *p)
{
	int fd = *(int *)p;

	start_line(id);
	shm->ret[id] = own_change_owner(fd);
	shm->done[id] = 1;
	idle();
}

/* A taker with RLIMIT_MEMLOCK @limit pages and no CAP_IPC_LOCK. */
struct limited_arg {
	int fd;
	long limit;
};

static int limited_taker_main(int id, void *p)
{
	struct limited_arg *a = p;

	if (memlock_set(a->limit * REL_PAGE, a->limit * REL_PAGE) ||
	    own_drop_ipc_lock())
		return 12;
	return taker_main(id, &a->fd);
}

/* ---- the races ---- */

struct race {
	const char *name;
	int iterations;		/* in make check */
	int (*run)(int iter, uint64_t *rs, long *stats);
	const char *stats_fmt;	/* how to print stats[0..3] */
	const char *todo;	/* a known kernel bug it shows */
	bool mdev;		/* needs the mdev */
};

/*
 * change_vs_exit / change_vs_exec / munmap_tracker_vs_change: the owner
 * leaves (@how) while a sibling takes over.
 */
static int race_leave(int iter, uint64_t *rs, long *stats, int how,
		      uint64_t max_delay)
{
	/*
	 * Where the window is depends on how long the owner takes to leave:
	 * the taker's delay follows the outcomes, growing after a take-over
	 * and shrinking after a late change, so that it stays around the
	 * moment the owner's mm goes.
	 */
	static uint64_t window[LEAVE_CHANGE + 1];
	struct owner_arg oa = { .fd = edu_fd(), .how = how };
	int fd = edu_fd(), ret;
	pid_t owner, taker, others[3] = {};
	struct rel_fdinfo fi;

	(void)iter;
	shm_reset(rs, max_delay);
	if (!window[how])
		window[how] = max_delay;
	shm->delay_ns[1] = rel_rand(rs) % (2 * window[how] + 1);
	owner = spawn(owner_main, 0, &oa);
	taker = spawn(taker_main, 1, &fd);
	others[0] = owner;
	others[1] = taker;
	CHECK(wait_ready(0, 10000) && wait_ready(1, 10000),
	      "the processes did not start");
	CHECK(check_owned(fd, owner, P_ALL, P_ALL, others),
	      "before the race: %s", why);
	shm->go = 1;
	if (how == LEAVE_KILLED) {
		rel_spin_ns(shm->delay_ns[0]);
		kill(owner, SIGKILL);
	}
	CHECK(wait_done(1, 30000), "the taker did not return");
	ret = shm->ret[1];
	if (how == LEAVE_MUNMAP) {
		CHECK(wait_done(0, 30000), "the owner did not unmap its tracker");
		CHECK(shm->ret[0] == 0, "munmap of the tracker: %d", shm->ret[0]);
	} else if (how != LEAVE_EXEC && how != LEAVE_THREAD_EXEC) {
		wait_gone(owner);
	}
	if (how == LEAVE_EXEC || how == LEAVE_THREAD_EXEC) {
		/* The new image runs when its old mm is gone. */
		for (int ms = 0; ms < 30000; ms++) {
			char comm[64] = "", path[64];
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%d/cmdline", owner);
			f = fopen(path, "r");
			if (f) {
				size_t n = fread(comm, 1, sizeof(comm) - 1, f);

				comm[n] = 0;
				fclose(f);
				if (n > 6 && memmem(comm, n, "--idle", 6))
					break;
			}
			rel_sleep_ms(1);
		}
	}
	CHECK(ret == 0 || ret == -ESRCH,
	      "the change of owner returned %d (%s)", ret, strerror(-ret));
	/*
	 * 0 with no tracker in the taker: the close work had already
	 * unmapped everything, and there was nothing to take.
	 */
	if (ret == 0 && own_has_tracker(taker) != 0)
		window[how] += window[how] / 2 + 1000;
	else
		window[how] -= window[how] / 4;
	if (ret == 0 && own_has_tracker(taker) == 0) {
		stats[2]++;
		CHECK(wait_mappings(fd, 0, &fi),
		      "nothing taken, yet %u mappings are left", fi.mappings);
		CHECK(check_owned(fd, 0, 0, 0, others), "nothing taken: %s", why);
	} else if (ret == 0) {
		stats[0]++;
		/* Give a wrongly queued close work the time to do harm. */
		rel_sleep_ms(20);
		CHECK(rel_fdinfo(0, fd, &fi) == 0 && fi.mappings == NMAP,
		      "the taker took over (it has a tracker), yet %u mappings are left",
		      fi.mappings);
		CHECK(check_owned(fd, taker, P_ALL, P_ALL, others),
		      "after a successful change: %s", why);
		if (how != LEAVE_KILLED && how != LEAVE_EXIT &&
		    how != LEAVE_THREAD_EXIT)
			CHECK(own_has_tracker(owner) == 0,
			      "the old owner still has a tracker");
	} else {
		stats[1]++;
		CHECK(wait_mappings(fd, 0, &fi),
		      "ESRCH, yet %u mappings are left", fi.mappings);
		CHECK(check_owned(fd, 0, 0, 0, others), "after ESRCH: %s", why);
	}
	CHECK(own_has_tracker(taker) <= 1, "the taker has %d trackers",
	      own_has_tracker(taker));
	kill_all();
	CHECK(check_clean(fd), "after the iteration: %s", why);
	return 0;
out:
	kill_all();
	return 1;
}

static int race_change_vs_exit(int iter, uint64_t *rs, long *stats)
{
	static const int how[] = { LEAVE_EXIT, LEAVE_THREAD_EXIT, LEAVE_KILLED };

	return race_leave(iter, rs, stats, how[iter % 3], 200000);
}

static int race_change_vs_exec(int iter, uint64_t *rs, long *stats)
{
	return race_leave(iter, rs, stats,
			  iter % 2 ? LEAVE_THREAD_EXEC : LEAVE_EXEC, 5000000);
}

static int race_munmap_tracker(int iter, uint64_t *rs, long *stats)
{
	return race_leave(iter, rs, stats, LEAVE_MUNMAP, 100000);
}

/* two_changers: B and C (and A) change at once. */
static int race_two_changers(int iter, uint64_t *rs, long *stats)
{
	struct owner_arg oa = { .fd = edu_fd(),
				.how = iter % 3 == 2 ? LEAVE_CHANGE : LEAVE_NONE };
	struct limited_arg la = { .fd = edu_fd(), .limit = P_ALL - 1 };
	int fd = edu_fd(), variant = iter % 3, i;
	pid_t a, b, c, others[4] = {};
	struct rel_fdinfo fi;
	pid_t owner;

	shm_reset(rs, 2000000);
	a = spawn(owner_main, 0, &oa);
	b = spawn(taker_main, 1, &fd);
	c = variant == 1 ? spawn(limited_taker_main, 2, &la) :
			   spawn(taker_main, 2, &fd);
	others[0] = a;
	others[1] = b;
	others[2] = c;
	for (i = 0; i < 3; i++)
		CHECK(wait_ready(i, 10000), "process %d did not start", i);
	CHECK(check_owned(fd, a, P_ALL, P_ALL, others), "before: %s", why);
	shm->go = 1;
	CHECK(wait_done(1, 30000) && wait_done(2, 30000) &&
	      (variant != 2 || wait_done(0, 30000)),
	      "the changes did not return");
	if (variant == 2)
		CHECK(shm->ret[0] == 0, "A's change returned %d", shm->ret[0]);
	CHECK(shm->ret[1] == 0, "B's change returned %d", shm->ret[1]);
	if (variant == 1)
		CHECK(shm->ret[2] == -ENOMEM,
		      "the change of a process short of RLIMIT_MEMLOCK returned %d",
		      shm->ret[2]);
	else
		CHECK(shm->ret[2] == 0, "C's change returned %d", shm->ret[2]);
	CHECK(rel_fdinfo(0, fd, &fi) == 0, "fdinfo");
	owner = fi.owner_tgid;
	CHECK(owner == b || (owner == c && variant != 1) ||
	      (owner == a && variant == 2),
	      "the owner is %d, not one of the takers %d %d", owner, b, c);
	stats[owner == b ? 0 : owner == c ? 1 : 2]++;
	CHECK(check_owned(fd, owner, P_ALL, P_ALL, others), "after: %s", why);
	for (i = 0; i < 3; i++)
		CHECK(own_has_tracker(others[i]) <= 1,
		      "process %d has %d trackers", others[i],
		      own_has_tracker(others[i]));
	kill_all();
	CHECK(check_clean(fd), "after the iteration: %s", why);
	return 0;
out:
	kill_all();
	return 1;
}

/*
 * The owner's main thread and another process trade ownership back and
 * forth while a second thread of the owner maps and unmaps one more slot.
 */
#define TRADES 12

static void *map_loop(void *arg)
{
	int fd = *(int *)arg, ret;
	int64_t r;

	while (!shm->stop) {
		ret = vfio_dma_map(fd, env.mem + NMAP * MAP_SIZE, SPARE_IOVA,
				   MAP_SIZE);
		if (ret == 0)
			shm->count[0][0]++;
		else if (ret != -EPERM && ret != -EEXIST) {
			shm->bad[0]++;
			shm->bad_val[0] = ret;
		}
		r = vfio_dma_unmap(fd, SPARE_IOVA, MAP_SIZE);
		if (r == MAP_SIZE)
			shm->count[0][1]++;
		else if (r != 0) {
			shm->bad[0]++;
			shm->bad_val[0] = r;
		}
	}
	shm->done[2] = 1;
	return NULL;
}

static int trader_main(int id, void *p)
{
	int fd = *(int *)p, ret, i;
	pthread_t t;

	if (id == 0) {
		if (map_all(fd))
			return 10;
		if (pthread_create(&t, NULL, map_loop, p))
			return 11;
	}
	start_line(id);
	for (i = 0; i < TRADES; i++) {
		rel_spin_ns(rel_now_ns() % 400000);
		ret = own_change_owner(fd);
		if (ret == 0)
			shm->count[id][2]++;
		else {
			shm->bad[id]++;
			shm->bad_val[id] = ret;
		}
	}
	shm->done[id] = 1;
	idle();
}

static int race_change_vs_map_thread(int iter, uint64_t *rs, long *stats)
{
	int fd = edu_fd();
	pid_t a, b, others[3] = {};
	struct rel_fdinfo fi;

	(void)iter;
	shm_reset(rs, 500000);
	a = spawn(trader_main, 0, &fd);
	b = spawn(trader_main, 1, &fd);
	others[0] = a;
	others[1] = b;
	CHECK(wait_ready(0, 10000) && wait_ready(1, 10000), "no start");
	shm->go = 1;
	CHECK(wait_done(0, 60000) && wait_done(1, 60000), "the trades did not end");
	shm->stop = 1;
	CHECK(wait_done(2, 30000), "the map loop did not end");
	CHECK(!shm->bad[0] && !shm->bad[1],
	      "unexpected results: %d (last %d), %d (last %d)", shm->bad[0],
	      shm->bad_val[0], shm->bad[1], shm->bad_val[1]);
	stats[0] += shm->count[0][0];
	stats[1] += shm->count[0][1];
	stats[2] += shm->count[0][2] + shm->count[1][2];
	CHECK(rel_fdinfo(0, fd, &fi) == 0, "fdinfo");
	CHECK(fi.owner_tgid == a || fi.owner_tgid == b, "owner %d", fi.owner_tgid);
	CHECK(fi.mappings == NMAP && fi.bytes == (unsigned long long)NMAP * MAP_SIZE,
	      "%u mappings of %llu bytes, want %d", fi.mappings, fi.bytes, NMAP);
	CHECK(check_owned(fd, fi.owner_tgid, P_ALL, P_ALL, others), "after: %s",
	      why);
	kill_all();
	CHECK(check_clean(fd), "after the iteration: %s", why);
	return 0;
out:
	shm->stop = 1;
	kill_all();
	return 1;
}

/*
 * change_vs_mdev: the owner and another process (short of RLIMIT_MEMLOCK
 * on odd iterations) trade ownership of an mdev container while a thread
 * of the test pins, writes, reads and unpins through the device.
 */
#define MDEV_MAPS	4
#define MDEV_PAGES	16

struct pinner {
	int device;
	bool limited;		/* ENOMEM is allowed */
	int held[MDEV_MAPS * MDEV_PAGES];
	long pins, enomem, rw;
	char err[256];
};

static void *pin_loop(void *arg)
{
	struct pinner *p = arg;
	uint64_t s = rel_now_ns(), wait;
	uint8_t out[16], in[16];
	int n = MDEV_MAPS * MDEV_PAGES, ret, page, i, nheld = 0;

	while (!shm->stop && !p->err[0]) {
		page = rel_below(&s, n);
		uint64_t iova = IOVA0 + (uint64_t)page * REL_PAGE;

		if (!p->held[page] && nheld < 3) {
			ret = own_mdev_op(p->device, VFIO_TEST_MDEV_PIN, iova, 1,
					  NULL, &wait);
			if (wait > shm->max_wait_ns)
				shm->max_wait_ns = wait;
			if (ret == 1) {
				p->held[page] = 1;
				nheld++;
				p->pins++;
			} else if (ret == -ENOMEM && p->limited) {
				p->enomem++;
			} else {
				snprintf(p->err, sizeof(p->err),
					 "pin of page %d: %d", page, ret);
			}
		} else if (p->held[page]) {
			ret = own_mdev_op(p->device, VFIO_TEST_MDEV_UNPIN, iova,
					  1, NULL, NULL);
			if (ret)
				snprintf(p->err, sizeof(p->err),
					 "unpin of page %d: %d", page, ret);
			p->held[page] = 0;
			nheld--;
		}
		for (i = 0; i < 16; i++)
			out[i] = rel_rand(&s);
		ret = own_mdev_op(p->device, VFIO_TEST_MDEV_WRITE, iova + 100,
				  sizeof(out), out, NULL);
		if (ret || memcmp(env.mem + page * REL_PAGE + 100, out, 16))
			snprintf(p->err, sizeof(p->err),
				 "vfio_dma_rw write to page %d: %d%s", page, ret,
				 ret ? "" : ", not in memory");
		memcpy(env.mem + page * REL_PAGE + 200, out, 16);
		ret = own_mdev_op(p->device, VFIO_TEST_MDEV_READ, iova + 200,
				  sizeof(in), in, NULL);
		if (ret || memcmp(in, out, 16))
			snprintf(p->err, sizeof(p->err),
				 "vfio_dma_rw read of page %d: %d%s", page, ret,
				 ret ? "" : ", not what memory holds");
		p->rw++;
	}
	return NULL;
}

struct mtrader_arg {
	int fd;
	long limit;		/* -1: none */
};

static int mdev_trader_main(int id, void *p)
{
	struct mtrader_arg *a = p;
	int ret, i;

	if (a->limit >= 0 &&
	    (memlock_set(a->limit * REL_PAGE, a->limit * REL_PAGE) ||
	     own_drop_ipc_lock()))
		return 12;
	if (id == 0) {
		for (i = 0; i < MDEV_MAPS; i++)
			if (vfio_dma_map(a->fd, env.mem + i * MDEV_PAGES * REL_PAGE,
					 IOVA0 + i * MDEV_PAGES * REL_PAGE,
					 MDEV_PAGES * REL_PAGE))
				return 10;
	}
	start_line(id);
	for (i = 0; i < TRADES; i++) {
		rel_spin_ns(rel_now_ns() % 1000000);
		ret = own_change_owner(a->fd);
		if (ret == 0)
			shm->count[id][0]++;
		else if (ret == -ENOMEM && a->limit >= 0)
			shm->count[id][1]++;
		else {
			shm->bad[id]++;
			shm->bad_val[id] = ret;
		}
	}
	shm->done[id] = 1;
	idle();
}

static int race_change_vs_mdev(int iter, uint64_t *rs, long *stats)
{
	struct mtrader_arg aa = { .fd = env.mdev.container, .limit = -1 };
	struct mtrader_arg ba = { .fd = env.mdev.container,
				  .limit = iter % 2 ? 1 : -1 };
	struct pinner p = { .device = env.mdev.device, .limited = iter % 2 };
	int fd = env.mdev.container, held = 0, i;
	pid_t a, b, others[3] = {};
	struct rel_fdinfo fi;
	pthread_t t;
	bool thread = false;

	shm_reset(rs, 500000);
	a = spawn(mdev_trader_main, 0, &aa);
	b = spawn(mdev_trader_main, 1, &ba);
	others[0] = a;
	others[1] = b;
	CHECK(wait_ready(0, 10000) && wait_ready(1, 10000), "no start");
	CHECK(pthread_create(&t, NULL, pin_loop, &p) == 0, "pthread_create");
	thread = true;
	rel_sleep_ms(2);
	shm->go = 1;
	CHECK(wait_done(0, 60000) && wait_done(1, 60000), "the trades did not end");
	shm->stop = 1;
	pthread_join(t, NULL);
	thread = false;
	CHECK(!p.err[0], "the device: %s", p.err);
	CHECK(!shm->bad[0] && !shm->bad[1],
	      "unexpected results of the change of owner: %d (last %d), %d (last %d)",
	      shm->bad[0], shm->bad_val[0], shm->bad[1], shm->bad_val[1]);
	CHECK(shm->max_wait_ns < 5000000000ULL,
	      "a pin waited %llu ms", (unsigned long long)shm->max_wait_ns / 1000000);
	for (i = 0; i < MDEV_MAPS * MDEV_PAGES; i++)
		held += p.held[i];
	stats[0] += p.pins;
	stats[1] += p.rw;
	stats[2] += shm->count[0][0] + shm->count[1][0];
	stats[3] += shm->count[1][1] + p.enomem;
	CHECK(rel_fdinfo(0, fd, &fi) == 0, "fdinfo");
	CHECK(fi.owner_tgid == a || fi.owner_tgid == b, "owner %d", fi.owner_tgid);
	CHECK(own_mdev_op(env.mdev.device, VFIO_TEST_MDEV_PIN_COUNT, 0, 0, NULL,
			  NULL) == held, "the device's pin count is not %d", held);
	CHECK(check_owned(fd, fi.owner_tgid, held, held, others), "after: %s", why);
	kill_all();
	CHECK(check_clean(fd), "after the iteration: %s", why);
	return 0;
out:
	shm->stop = 1;
	if (thread)
		pthread_join(t, NULL);
	kill_all();
	return 1;
}

/*
 * exit_vs_mdev_pin: the owner of MANY single-page mappings is killed while
 * two threads pin, read and unpin through the device: the close work's
 * unmap calls the device back while pins wait for the container.
 */
struct pin_racer {
	int device;
	long ok, gone;
	char err[256];
};

static void *pin_race(void *arg)
{
	struct pin_racer *p = arg;
	uint64_t s = rel_now_ns() ^ (uintptr_t)arg;
	uint8_t buf[8];
	int ret;

	while (!shm->stop && !p->err[0]) {
		uint64_t iova = MANY_IOVA + rel_below(&s, MANY) * REL_PAGE;

		ret = own_mdev_op(p->device, VFIO_TEST_MDEV_PIN, iova, 1, NULL,
				  NULL);
		if (ret == 1) {
			p->ok++;
			ret = own_mdev_op(p->device, VFIO_TEST_MDEV_UNPIN, iova,
					  1, NULL, NULL);
			/* ENOENT: the unmap took the pin first */
			if (ret && ret != -ENOENT)
				snprintf(p->err, sizeof(p->err), "unpin: %d", ret);
		} else if (ret == -ENODEV || ret == -EINVAL) {
			p->gone++;	/* the owner's mm, or the mapping, is gone */
		} else {
			snprintf(p->err, sizeof(p->err), "pin: %d", ret);
		}
		ret = own_mdev_op(p->device, VFIO_TEST_MDEV_READ, iova, sizeof(buf),
				  buf, NULL);
		if (ret && ret != -EINVAL && ret != -EPERM && ret != -EFAULT)
			snprintf(p->err, sizeof(p->err), "read: %d", ret);
	}
	return NULL;
}

static int many_owner_main(int id, void *p)
{
	int fd = *(int *)p;

	for (int i = 0; i < MANY; i++)
		if (vfio_dma_map(fd, env.many + i * REL_PAGE,
				 MANY_IOVA + i * REL_PAGE, REL_PAGE))
			return 10;
	shm->ready[id] = 1;
	idle();
}

static int late_owner_main(int id, void *p)
{
	int fd = *(int *)p;

	if (vfio_dma_map(fd, env.many, MANY_IOVA, REL_PAGE))
		return 10;
	shm->ready[id] = 1;
	idle();
}

static int race_exit_vs_mdev_pin(int iter, uint64_t *rs, long *stats)
{
	struct pin_racer pr[2] = {
		{ .device = env.mdev.device }, { .device = env.mdev.device },
	};
	int fd = env.mdev.container, i, nthreads = 0;
	struct rel_fdinfo fi;
	pthread_t t[2];
	pid_t a, c;

	(void)iter;
	shm_reset(rs, 0);
	a = spawn(many_owner_main, 0, &fd);
	CHECK(wait_ready(0, 60000), "the owner did not map");
	for (i = 0; i < 2; i++) {
		CHECK(pthread_create(&t[i], NULL, pin_race, &pr[i]) == 0,
		      "pthread_create");
		nthreads++;
	}
	rel_sleep_ms(rel_below(rs, 20));
	kill(a, SIGKILL);
	wait_gone(a);
	CHECK(wait_mappings(fd, 0, &fi), "%u mappings stay after the owner's death",
	      fi.mappings);
	rel_sleep_ms(5);
	shm->stop = 1;
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	nthreads = 0;
	for (i = 0; i < 2; i++) {
		CHECK(!pr[i].err[0], "the device: %s", pr[i].err);
		stats[0] += pr[i].ok;
		stats[1] += pr[i].gone;
	}
	kill_all();
	CHECK(check_clean(fd), "after the owner's death: %s", why);

	/* The container works again for a new owner. */
	shm_reset(rs, 0);
	c = spawn(late_owner_main, 0, &fd);
	CHECK(wait_ready(0, 10000), "the new owner did not map");
	CHECK(own_mdev_op(env.mdev.device, VFIO_TEST_MDEV_PIN, MANY_IOVA, 1, NULL,
			  NULL) == 1, "a pin for the new owner failed");
	CHECK(check_owned(fd, c, 1, 1, NULL), "the new owner: %s", why);
	CHECK(own_mdev_op(env.mdev.device, VFIO_TEST_MDEV_UNPIN, MANY_IOVA, 1,
			  NULL, NULL) == 0, "unpin");
	kill_all();
	CHECK(check_clean(fd), "after the new owner: %s", why);
	return 0;
out:
	shm->stop = 1;
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	kill_all();
	return 1;
}

/*
 * close_work_vs_map: the owner is killed while B unmaps everything and maps
 * one mapping of its own as soon as it may; the old owner's close work,
 * queued when its mm went, must find B the owner and leave B's mapping.
 */
static int remapper_main(int id, void *p)
{
	int fd = *(int *)p, ret = -1;
	uint64_t end;

	start_line(id);
	end = rel_now_ns() + 10000000000ULL;
	while (rel_now_ns() < end) {
		vfio_dma_unmap_flags(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
		ret = vfio_dma_map(fd, env.mem + NMAP * MAP_SIZE, SPARE_IOVA,
				   MAP_SIZE);
		if (ret != -EPERM)
			break;
	}
	shm->ret[id] = ret;
	shm->done[id] = 1;
	idle();
}

static int race_close_work_vs_map(int iter, uint64_t *rs, long *stats)
{
	struct owner_arg oa = { .fd = edu_fd(), .how = LEAVE_KILLED };
	int fd = edu_fd();
	pid_t a, b, others[3] = {};
	struct rel_fdinfo fi;

	(void)iter;
	shm_reset(rs, 2000000);
	a = spawn(owner_main, 0, &oa);
	b = spawn(remapper_main, 1, &fd);
	others[0] = b;
	CHECK(wait_ready(0, 10000) && wait_ready(1, 10000), "no start");
	shm->go = 1;
	rel_spin_ns(shm->delay_ns[0]);
	kill(a, SIGKILL);
	CHECK(wait_done(1, 30000), "the remapper did not finish");
	wait_gone(a);
	CHECK(shm->ret[1] == 0, "B's map returned %d", shm->ret[1]);
	rel_sleep_ms(20);	/* for the old owner's close work */
	CHECK(rel_fdinfo(0, fd, &fi) == 0 && fi.mappings == 1 &&
	      fi.bytes == MAP_SIZE,
	      "B's mapping is gone: %u mappings, %llu bytes", fi.mappings,
	      fi.bytes);
	CHECK(check_owned(fd, b, MAP_PAGES, MAP_PAGES, others), "after: %s", why);
	stats[0]++;
	kill_all();
	CHECK(check_clean(fd), "after the iteration: %s", why);
	return 0;
out:
	kill_all();
	return 1;
}

/*
 * kill_nonowner_unmap: B unmaps the owner's mappings one by one and is
 * killed on the way, while a thread of the owner keeps the owner's
 * mmap_lock busy (on even iterations).  Every unmapped page must be
 * uncharged from the owner: VmLck == the locked pages left.
 */
#define SMALL_MAPS	64

static void *mmap_lock_hammer(void *arg)
{
	uint8_t *p = mmap(NULL, 16 * REL_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i = 0;

	(void)arg;
	if (p == MAP_FAILED)
		return NULL;
	for (;;) {
		mprotect(p, REL_PAGE * (1 + i % 8),
			 i & 1 ? PROT_READ : PROT_READ | PROT_WRITE);
		i++;
	}
	return NULL;
}

struct small_arg {
	int fd;
	bool hammer;
};

static int small_owner_main(int id, void *p)
{
	struct small_arg *a = p;
	pthread_t t;

	for (int i = 0; i < SMALL_MAPS; i++)
		if (vfio_dma_map(a->fd, env.mem + i * 2 * REL_PAGE,
				 IOVA0 + i * 2 * REL_PAGE, 2 * REL_PAGE))
			return 10;
	if (a->hammer && pthread_create(&t, NULL, mmap_lock_hammer, NULL))
		return 11;
	shm->ready[id] = 1;
	idle();
}

static int unmapper_main(int id, void *p)
{
	int fd = *(int *)p;

	shm->ready[id] = 1;
	for (int i = 0; i < SMALL_MAPS; i++)
		vfio_dma_unmap(fd, IOVA0 + i * 2 * REL_PAGE, 2 * REL_PAGE);
	shm->done[id] = 1;
	idle();
}

/*
 * Iterations go round four variants: the edu container (pages pinned at
 * map, uncharged by the unmap) or the mdev one (a page of each mapping
 * pinned by the device, uncharged when the unmap calls the device back,
 * in the unmapper's context), with or without the owner's mmap_lock busy.
 */
static int race_kill_nonowner_unmap(int iter, uint64_t *rs, long *stats)
{
	bool mdev = env.have_mdev && iter % 4 >= 2;
	struct small_arg sa = {
		.fd = mdev ? env.mdev.container : edu_fd(),
		.hammer = iter % 2 == 0,
	};
	int fd = sa.fd;
	pid_t a, b;
	struct rel_fdinfo fi;
	long v;

	shm_reset(rs, 0);
	a = spawn(small_owner_main, 0, &sa);
	CHECK(wait_ready(0, 20000), "the owner did not map");
	for (int i = 0; mdev && i < SMALL_MAPS; i++)
		CHECK(own_mdev_op(env.mdev.device, VFIO_TEST_MDEV_PIN,
				  IOVA0 + i * 2 * REL_PAGE, 1, NULL, NULL) == 1,
		      "the device could not pin");
	b = spawn(unmapper_main, 1, &fd);
	CHECK(wait_ready(1, 10000), "no start");
	rel_sleep_ms(rel_below(rs, 8));
	kill(b, SIGKILL);
	wait_gone(b);
	CHECK(rel_fdinfo(0, fd, &fi) == 0, "fdinfo");
	v = rel_vmlck_pages(a);
	stats[0] += SMALL_MAPS - fi.mappings;
	if (v != (long)fi.locked) {
		stats[1]++;
		stats[2] += v - fi.locked;
		stats[3] += mdev;
		if (!todo_why[0])
			snprintf(todo_why, sizeof(todo_why),
				 "iteration %d (%s%s): the owner's VmLck is %ld pages for %llu locked pages (%u of %d mappings left)",
				 iter, mdev ? "mdev" : "edu",
				 sa.hammer ? ", mmap_lock busy" : "", v,
				 fi.locked, fi.mappings, SMALL_MAPS);
		CHECK(v > (long)fi.locked,
		      "the owner's VmLck is %ld pages, less than its %llu locked pages",
		      v, fi.locked);
		CHECK(rel_pins_wait(env.pins0 + fi.locked, 500) ==
		      env.pins0 + (long long)fi.locked, "pins: %lld, want %llu",
		      pinned_pages() - env.pins0, fi.locked);
	} else {
		CHECK(check_owned(fd, fi.mappings ? a : 0, fi.locked, fi.locked,
				  NULL), "%s", why);
	}
	if (mdev)
		CHECK(own_mdev_op(env.mdev.device, VFIO_TEST_MDEV_PIN_COUNT, 0, 0,
				  NULL, NULL) == (int)fi.mappings,
		      "the device holds pins of unmapped pages");
	kill_all();
	CHECK(check_clean(fd), "after the iteration: %s", why);
	return 0;
out:
	kill_all();
	return 1;
}

static const struct race races[] = {
	{ .name = "change_vs_exit", .iterations = 40, .run = race_change_vs_exit,
	  .stats_fmt = "%ld taken over, %ld too late (ESRCH), %ld after the close work" },
	{ .name = "change_vs_exec", .iterations = 24, .run = race_change_vs_exec,
	  .stats_fmt = "%ld taken over, %ld too late (ESRCH), %ld after the close work" },
	{ .name = "two_changers", .iterations = 50, .run = race_two_changers,
	  .stats_fmt = "final owner: %ld times B, %ld times C, %ld times A taking back" },
	{ .name = "change_vs_map_thread", .iterations = 30,
	  .run = race_change_vs_map_thread,
	  .stats_fmt = "%ld maps and %ld unmaps by the owner's thread, %ld changes" },
	{ .name = "change_vs_mdev", .iterations = 30, .run = race_change_vs_mdev,
	  .stats_fmt = "%ld pins and %ld reads/writes checked, %ld changes, %ld ENOMEM",
	  .mdev = true },
	{ .name = "exit_vs_mdev_pin", .iterations = 20, .run = race_exit_vs_mdev_pin,
	  .stats_fmt = "%ld pins before the owner's death, %ld refused after",
	  .mdev = true },
	{ .name = "munmap_tracker_vs_change", .iterations = 24,
	  .run = race_munmap_tracker,
	  .stats_fmt = "%ld taken over, %ld too late (ESRCH), %ld after the close work" },
	{ .name = "close_work_vs_map", .iterations = 30,
	  .run = race_close_work_vs_map,
	  .stats_fmt = "%ld new owners kept their mapping" },
	{ .name = "kill_nonowner_unmap", .iterations = 24,
	  .run = race_kill_nonowner_unmap,
	  .stats_fmt = "%ld mappings unmapped, %ld kills leaked locked_vm (%ld pages; %ld kills with the mdev)" },
};

#define NRACES	(int)(sizeof(races) / sizeof(races[0]))

static void run_race(const struct race *r)
{
	int n = opt.iterations ? opt.iterations :
		(int)(r->iterations * opt.scale + 0.5), i, ret = 0;
	uint64_t rs = opt.seed ^ (uintptr_t)r->name[0] << 32, t0 = rel_now_ns();
	long stats[4] = {};
	char line[256];

	if (n < 1)
		n = 1;
	if (r->mdev && !env.have_mdev) {
		tap_result(true, "SKIP no vfio_test_mdev device", "%s", r->name);
		return;
	}
	why[0] = todo_why[0] = 0;
	for (i = 0; i < n && !ret; i++) {
		ret = r->run(i, &rs, stats);
		if (opt.verbose)
			tap_diag("%s: iteration %d: %s", r->name, i,
				 ret ? why : "ok");
	}
	snprintf(line, sizeof(line), r->stats_fmt, stats[0], stats[1],
		 stats[2], stats[3]);
	tap_diag("%s: %d iterations in %.1f s: %s", r->name, i,
		 (rel_now_ns() - t0) / 1e9, line);
	if (ret) {
		tap_diag("%s: iteration %d failed: %s", r->name, i - 1, why);
		tap_result(false, NULL, "%s", r->name);
	} else if (todo_why[0] && !r->todo) {
		snprintf(why, sizeof(why), "%s", todo_why);
		tap_diag("%s: %s", r->name, todo_why);
		tap_result(false, NULL, "%s", r->name);
	} else if (todo_why[0]) {
		tap_diag("%s: %s", r->name, todo_why);
		tap_result(false, opt.strict ? NULL : r->todo, "%s", r->name);
	} else {
		tap_result(true, NULL, "%s", r->name);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: races [options]\n"
"Targeted races around the owner of vfio type1 DMA mappings, in the test VM.\n"
"\n"
"  --iterations N   iterations of every race (default: each race's own)\n"
"  --scale F        multiply each race's iterations by F (e.g. 10)\n"
"  --race NAME      only this race (repeatable as a comma list)\n"
"  --list           list the races and their iterations\n"
"  --seed S         seed of the delays (default: a fresh one, printed)\n"
"  --strict         a race marked with a known kernel bug fails, not TODO\n"
"  -v, --verbose    one line per iteration\n"
"  -h, --help       this help\n"
"\n"
"Load tests/mdev/vfio_test_mdev.ko first for the mediated device races.\n");
}

static bool selected(const char *name)
{
	const char *s = opt.race;
	size_t n = strlen(name);

	if (!s)
		return true;
	while (*s) {
		if (!strncmp(s, name, n) && (s[n] == ',' || !s[n]))
			return true;
		s = strchr(s, ',');
		if (!s)
			break;
		s++;
	}
	return false;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iterations", required_argument, NULL, 'i' },
		{ "scale", required_argument, NULL, 'S' },
		{ "race", required_argument, NULL, 'r' },
		{ "list", no_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "strict", no_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "idle", no_argument, NULL, 'I' },
		{}
	};
	bool seeded = false;
	char *end;
	int o, i, ret;

	while ((o = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (o) {
		case 'i':
			opt.iterations = strtol(optarg, &end, 10);
			if (*end || opt.iterations < 1) {
				fprintf(stderr, "races: bad iteration count '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'S':
			opt.scale = strtod(optarg, &end);
			if (*end || opt.scale <= 0) {
				fprintf(stderr, "races: bad scale '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			opt.race = optarg;
			break;
		case 'l':
			for (i = 0; i < NRACES; i++)
				printf("%-26s %d iterations%s\n", races[i].name,
				       races[i].iterations,
				       races[i].mdev ? " (mdev)" : "");
			return 0;
		case 's':
			opt.seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "races: bad seed '%s'\n", optarg);
				return 2;
			}
			seeded = true;
			break;
		case 'T':
			opt.strict = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'I':
			/* The new image of an owner that execs. */
			idle();
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "races: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (opt.race) {
		for (const char *s = opt.race; *s; ) {
			size_t n = strcspn(s, ",");
			bool known = false;

			for (i = 0; i < NRACES; i++)
				known |= strlen(races[i].name) == n &&
					 !strncmp(races[i].name, s, n);
			if (!known) {
				fprintf(stderr, "races: no race '%.*s' (--list)\n",
					(int)n, s);
				return 2;
			}
			s += n + (s[n] == ',');
		}
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	tap_header();
	if (!seeded)
		opt.seed = rel_fresh_seed();
	tap_diag("seed %llu", (unsigned long long)opt.seed);

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	env.mem = memfd_buffer((NMAP + 1) * MAP_SIZE, NULL);
	env.many = memfd_buffer(MANY * REL_PAGE, NULL);
	if (shm == MAP_FAILED || !env.mem || !env.many) {
		perror("races: memory");
		return 1;
	}
	ret = vfio_edu_open(&env.edu, 0);
	if (ret) {
		tap_result(true, "SKIP no edu device bound to vfio-pci", "races");
		tap_plan();
		return 4;
	}
	ret = own_mdev_open(&env.mdev);
	env.have_mdev = !ret;
	if (ret)
		tap_diag("no mediated device (%s): is vfio_test_mdev.ko loaded?",
			 strerror(-ret));
	env.pins0 = pinned_pages();

	ret = 0;
	for (i = 0; i < NRACES; i++) {
		if (!selected(races[i].name))
			continue;
		run_race(&races[i]);
		if (why[0] || (todo_why[0] && opt.strict))
			ret = 1;
	}
	tap_plan();
	if (env.have_mdev)
		own_mdev_close(&env.mdev);
	vfio_edu_close(&env.edu);
	return ret;
}
