/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rel.h - helpers shared by the reliability tests (stress.c, races.c):
 * a container's fdinfo, a vfio-test-mdev device in its own container, the
 * device's operations, processes and their pidfds, a small TAP writer and a
 * seeded random number generator.
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

/* What /proc/PID/fdinfo/FD says of a type1 container with the series. */
struct rel_fdinfo {
	pid_t owner_tgid;		/* 0: no owner */
	char owner_comm[32];
	unsigned int mappings;
	unsigned long long bytes;	/* bytes_mapped */
	unsigned long long locked;	/* locked_pages */
	unsigned int staged;		/* staged_vaddrs */
	char tracker[16];		/* none, armed or closing */
};

/* Read the fdinfo of container FD of process PID (0: this process). */
int rel_fdinfo(pid_t pid, int fd, struct rel_fdinfo *fi);

/* A mediated device of vfio_test_mdev.ko, alone in its own container. */
struct rel_mdev {
	char uuid[64];
	int container, group, device;
};

/*
 * Create a device and open it in a new type1v2 container. Returns 0,
 * -ENODEV if the module is not loaded, or another -errno.
 */
int rel_mdev_open(struct rel_mdev *m);
/* Close the fds and remove the device. Safe on a failed open. */
void rel_mdev_close(struct rel_mdev *m);

/*
 * Run VFIO_TEST_MDEV_OP OP on DEVICE: IOVA, N (pages or bytes as the
 * operation takes), DATA. Returns the operation's result (npage or 0 on
 * success, -errno from vfio), or -1000 - errno if the ioctl itself failed.
 * Stores wait_ns in *WAIT_NS if not NULL.
 */
int rel_mdev_op(int device, uint32_t op, uint64_t iova, uint32_t n,
		void *data, uint64_t *wait_ns);

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
