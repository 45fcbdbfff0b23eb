/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rel.h - helpers shared by the reliability tests (fail_nth.c, fuzz_args.c,
 * stress.c, races.c): a container's fdinfo, the state of a container as user
 * space can see it (fdinfo, VmLck of each process involved, the system-wide
 * FOLL_PIN count) read in one snapshot and compared with what a test
 * expects, per-task fault injection through /proc/self/task/TID/fail-nth,
 * processes and their pidfds, a small TAP writer and a seeded random number
 * generator.
 *
 * Everything here works on top of tests/lib/vfio_test.h and
 * tests/owner/owner.h; functions that can fail return a negative errno.
 */
#ifndef REL_H
#define REL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "owner.h"

#define REL_PAGE	4096UL

/* What /proc/PID/fdinfo/FD says of a container (see the series' fdinfo doc). */
struct rel_fdinfo {
	char iommu[32];			/* vfio-iommu: "none" or the driver */
	pid_t owner_tgid;		/* 0: no owner */
	char owner_comm[32];
	unsigned int mappings;
	unsigned long long bytes;	/* bytes_mapped */
	unsigned long long locked;	/* locked_pages */
	unsigned int staged;		/* staged_vaddrs */
	char tracker[16];		/* none, armed or closing */
};

/*
 * Read the fdinfo of container FD of process PID (0: this process). Fields
 * a container without a type1 IOMMU lacks read as 0 or "". Returns 0, or
 * -ENOENT if the fdinfo is not that of a container (or, for a type1
 * container, lacks the DMA owner keys), or another -errno.
 */
int rel_fdinfo(pid_t pid, int fd, struct rel_fdinfo *fi);

/* Container state snapshots */

#define CSTATE_MAX_PIDS	4

/* What a test compares after each call. */
struct cstate {
	struct rel_fdinfo fi;
	int npids;
	pid_t pid[CSTATE_MAX_PIDS];	/* processes involved */
	long vmlck_kb[CSTATE_MAX_PIDS];	/* their VmLck */
	long long pinned;		/* FOLL_PIN pages, system-wide */
};

/*
 * Snapshot the state: the fdinfo of CONTAINER in this process, the VmLck of
 * the NPIDS processes in PIDS, the pinned page count. Returns 0 or -errno.
 */
int cstate_read(struct cstate *s, int container, const pid_t *pids,
		int npids);

/*
 * Compare GOT with WANT field by field; print each difference as a
 * "# WHAT: field want X got Y" line. CHECK_TRACKER false leaves
 * owner_tracker out. Returns the number of differences.
 */
int cstate_diff(const char *what, const struct cstate *want,
		const struct cstate *got, bool check_tracker);

/*
 * Read the state until it matches WANT (mappings are unmapped by a work
 * item when an owner goes away, so some changes come late), for up to MS
 * milliseconds. Leaves the last snapshot in GOT. Returns the number of
 * differences left, printed as cstate_diff() does, or -errno.
 */
int cstate_wait(const char *what, const struct cstate *want,
		struct cstate *got, int container, bool check_tracker,
		int ms);

/* Print the state as one "# WHAT: ..." line. */
void cstate_print(const char *what, const struct cstate *s);

/*
 * Fault injection for the calling thread: its fail-nth file, opened once.
 * fail_nth_set(N) makes the N-th fault site the thread reaches fail;
 * fail_nth_get() is what is left of the count: 0 once the fault was injected.
 * Set it right before a system call and reset it (set 0) right after: every
 * fault site the thread reaches in between counts.
 */
int fail_nth_open(void);		/* 0 or -errno; once per thread */
void fail_nth_close(void);
int fail_nth_set(unsigned int n);	/* 0 or -errno */
int fail_nth_get(void);			/* >= 0, or -errno */

/*
 * Make allocations that may sleep, user pages and order-0 pages fault sites
 * of failslab and fail_page_alloc, and keep injected faults quiet on the
 * console; the previous settings come back with fault_config_restore(),
 * which also runs at exit. Global probability stays 0: only the tasks with
 * a fail-nth count see faults. Returns 0, or -errno (no debugfs, no
 * CONFIG_FAULT_INJECTION_DEBUG_FS).
 */
int fault_config_setup(void);
void fault_config_restore(void);
/* One "# " line: the settings in effect, as read back. */
void fault_config_print(void);

/* The name of an errno value ("ENOMEM"), or its number. */
const char *errno_name(int err);

/* pidfd_open(2) */
int rel_pidfd(pid_t pid);
/* Wait up to MS for the process of PIDFD to be gone: 0, or -ETIMEDOUT. */
int rel_pidfd_wait(int pidfd, int ms);

/* Pages pinned system-wide (pinned_pages()), waiting up to MS for WANT. */
long long rel_pins_wait(long long want, int ms);

/* VmLck of PID in pages, or -1 if it has none (gone, or a zombie). */
long rel_vmlck_pages(pid_t pid);

/* Monotonic time in ns. */
uint64_t rel_now_ns(void);
/* Busy-wait for NS nanoseconds: opens race windows finer than sleeping. */
void rel_spin_ns(uint64_t ns);
void rel_sleep_ms(int ms);

/* splitmix64: one state word, full period, good enough to drive tests. */
static inline uint64_t rel_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static inline uint32_t rel_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((rel_rand(s) >> 32) * n) >> 32);
}

/* A seed from the clock and the pid, for runs not given one. */
uint64_t rel_fresh_seed(void);

/* TAP: results numbered in order, the plan printed at the end. */
void tap_header(void);
void tap_result(bool ok, const char *directive, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "1..N" for the results printed so far. */
void tap_plan(void);
/* A "# " line. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* REL_H */
