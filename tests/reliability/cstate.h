/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cstate.h - shared by fail_nth and fuzz_args: the state of a type1
 * container as user space can see it, from the container's fdinfo and from
 * counters vfio does not own (VmLck of each process involved, the
 * system-wide FOLL_PIN count), read in one snapshot and compared with what
 * a test expects; and per-task fault injection through
 * /proc/self/task/TID/fail-nth.
 */
#ifndef CSTATE_H
#define CSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CSTATE_MAX_PIDS	4

/* The container's /proc/PID/fdinfo/FD lines (see the series' fdinfo doc). */
struct cstate_fdinfo {
	char iommu[32];			/* vfio-iommu: "none" or the driver */
	long owner_tgid;		/* 0: no owner */
	char owner_comm[32];
	unsigned long mappings;
	unsigned long long bytes_mapped;
	unsigned long long locked_pages;
	unsigned long staged_vaddrs;
	char owner_tracker[16];		/* none, armed, closing */
};

/* What a test compares after each call. */
struct cstate {
	struct cstate_fdinfo fi;
	int npids;
	pid_t pid[CSTATE_MAX_PIDS];	/* processes involved */
	long vmlck_kb[CSTATE_MAX_PIDS];	/* their VmLck */
	long long pinned;		/* FOLL_PIN pages, system-wide */
};

/*
 * Read the fdinfo of file descriptor FD of process PID (0: this one).
 * Fields a container without a type1 IOMMU lacks read as 0 or "".
 * Returns 0 or -errno.
 */
int cstate_fdinfo_read(pid_t pid, int fd, struct cstate_fdinfo *fi);

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

/* The number of "[vfio-dma-owner]" vmas of PID, and the start of the last. */
int cstate_trackers(pid_t pid, unsigned long *start);

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

#endif
