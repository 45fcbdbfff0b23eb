// SPDX-License-Identifier: GPL-2.0
/*
 * rel.c - helpers shared by the reliability tests: fdinfo, container state
 * snapshots, fail-nth fault injection, TAP; see rel.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rel.h"

static void copy_word(char *dst, size_t len, const char *src)
{
	size_t n = strcspn(src, "\n");

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int rel_fdinfo(pid_t pid, int fd, struct rel_fdinfo *fi)
{
	char path[64], line[256], *val;
	int seen = 0;
	FILE *f;

	memset(fi, 0, sizeof(*fi));
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		val = strchr(line, ':');
		if (!val)
			continue;
		*val++ = 0;
		val += strspn(val, " \t");
		seen++;
		if (!strcmp(line, "vfio-iommu")) {
			copy_word(fi->iommu, sizeof(fi->iommu), val);
			seen--;
		} else if (!strcmp(line, "owner_tgid")) {
			fi->owner_tgid = strtol(val, NULL, 10);
		} else if (!strcmp(line, "owner_comm")) {
			copy_word(fi->owner_comm, sizeof(fi->owner_comm), val);
			seen -= !fi->owner_comm[0];
		} else if (!strcmp(line, "mappings")) {
			fi->mappings = strtoul(val, NULL, 10);
		} else if (!strcmp(line, "bytes_mapped")) {
			fi->bytes = strtoull(val, NULL, 10);
		} else if (!strcmp(line, "locked_pages")) {
			fi->locked = strtoull(val, NULL, 10);
		} else if (!strcmp(line, "staged_vaddrs")) {
			fi->staged = strtoul(val, NULL, 10);
		} else if (!strcmp(line, "owner_tracker")) {
			copy_word(fi->tracker, sizeof(fi->tracker), val);
		} else {
			seen--;
		}
	}
	fclose(f);
	if (!fi->iommu[0])
		return -ENOENT;
	/* owner_comm is empty without an owner: six keys at least. */
	if (strcmp(fi->iommu, "none") && seen < 6)
		return -ENOENT;
	return 0;
}

int rel_pidfd(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

int rel_pidfd_wait(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -ETIMEDOUT;
}

long long rel_pins_wait(long long want, int ms)
{
	long long now = pinned_pages();

	while (now != want && ms > 0) {
		rel_sleep_ms(2);
		ms -= 2;
		now = pinned_pages();
	}
	return now;
}

long rel_vmlck_pages(pid_t pid)
{
	long kb = proc_vmlck_kb(pid);

	return kb < 0 ? -1 : kb / 4;
}

uint64_t rel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void rel_spin_ns(uint64_t ns)
{
	uint64_t end = rel_now_ns() + ns;

	while (rel_now_ns() < end)
		;
}

void rel_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

uint64_t rel_fresh_seed(void)
{
	uint64_t s = rel_now_ns() ^ ((uint64_t)getpid() << 32);

	/* Short enough to type back on a command line. */
	return rel_rand(&s) % 1000000000ULL;
}

static int tap_n;

void tap_header(void)
{
	printf("TAP version 13\n");
	fflush(stdout);
}

void tap_result(bool ok, const char *directive, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (directive)
		printf(" # %s", directive);
	printf("\n");
	fflush(stdout);
}

void tap_plan(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Container state snapshots */

int cstate_read(struct cstate *s, int container, const pid_t *pids,
		int npids)
{
	int i, ret;

	if (npids > CSTATE_MAX_PIDS)
		return -E2BIG;
	memset(s, 0, sizeof(*s));
	ret = rel_fdinfo(0, container, &s->fi);
	if (ret)
		return ret;
	s->npids = npids;
	for (i = 0; i < npids; i++) {
		s->pid[i] = pids[i];
		s->vmlck_kb[i] = proc_vmlck_kb(pids[i]);
		if (s->vmlck_kb[i] < 0)
			return (int)s->vmlck_kb[i];
	}
	s->pinned = pinned_pages();
	return s->pinned < 0 ? (int)s->pinned : 0;
}

static int diff_num(const char *what, const char *field, long long want,
		    long long got)
{
	if (want == got)
		return 0;
	printf("# %s: %s want %lld got %lld\n", what, field, want, got);
	return 1;
}

static int diff_str(const char *what, const char *field, const char *want,
		    const char *got)
{
	if (!strcmp(want, got))
		return 0;
	printf("# %s: %s want '%s' got '%s'\n", what, field, want, got);
	return 1;
}

int cstate_diff(const char *what, const struct cstate *want,
		const struct cstate *got, bool check_tracker)
{
	const struct rel_fdinfo *w = &want->fi, *g = &got->fi;
	char field[64];
	int n = 0, i;

	n += diff_str(what, "vfio-iommu", w->iommu, g->iommu);
	n += diff_num(what, "owner_tgid", w->owner_tgid, g->owner_tgid);
	n += diff_str(what, "owner_comm", w->owner_comm, g->owner_comm);
	n += diff_num(what, "mappings", w->mappings, g->mappings);
	n += diff_num(what, "bytes_mapped", w->bytes, g->bytes);
	n += diff_num(what, "locked_pages", w->locked, g->locked);
	n += diff_num(what, "staged_vaddrs", w->staged,
		      g->staged);
	if (check_tracker)
		n += diff_str(what, "owner_tracker", w->tracker,
			      g->tracker);
	for (i = 0; i < want->npids && i < got->npids; i++) {
		snprintf(field, sizeof(field), "VmLck of %d (kB)", want->pid[i]);
		n += diff_num(what, field, want->vmlck_kb[i], got->vmlck_kb[i]);
	}
	n += diff_num(what, "pinned pages", want->pinned, got->pinned);
	fflush(stdout);
	return n;
}

static int state_equal(const struct cstate *a, const struct cstate *b,
		       bool check_tracker)
{
	const struct rel_fdinfo *x = &a->fi, *y = &b->fi;
	int i;

	if (strcmp(x->iommu, y->iommu) || x->owner_tgid != y->owner_tgid ||
	    strcmp(x->owner_comm, y->owner_comm) ||
	    x->mappings != y->mappings || x->bytes != y->bytes ||
	    x->locked != y->locked ||
	    x->staged != y->staged || a->pinned != b->pinned)
		return 0;
	if (check_tracker && strcmp(x->tracker, y->tracker))
		return 0;
	for (i = 0; i < a->npids && i < b->npids; i++)
		if (a->vmlck_kb[i] != b->vmlck_kb[i])
			return 0;
	return 1;
}

int cstate_wait(const char *what, const struct cstate *want,
		struct cstate *got, int container, bool check_tracker,
		int ms)
{
	struct timespec tick = { .tv_nsec = 2000000 };
	int ret;

	for (;;) {
		ret = cstate_read(got, container, want->pid, want->npids);
		if (ret)
			return ret;
		if (state_equal(want, got, check_tracker))
			return 0;
		if (ms <= 0)
			break;
		nanosleep(&tick, NULL);
		ms -= 2;
	}
	return cstate_diff(what, want, got, check_tracker);
}

void cstate_print(const char *what, const struct cstate *s)
{
	int i;

	printf("# %s: owner %d (%s) mappings %u bytes %llu locked %llu "
	       "staged %u tracker %s pinned %lld", what, (int)s->fi.owner_tgid,
	       s->fi.owner_comm, s->fi.mappings, s->fi.bytes, s->fi.locked,
	       s->fi.staged, s->fi.tracker, s->pinned);
	for (i = 0; i < s->npids; i++)
		printf(" VmLck[%d] %ld", s->pid[i], s->vmlck_kb[i]);
	printf("\n");
	fflush(stdout);
}

/* Fault injection */

static __thread int nth_fd = -1;

int fail_nth_open(void)
{
	char path[64];

	fail_nth_close();
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	nth_fd = open(path, O_RDWR | O_CLOEXEC);
	return nth_fd < 0 ? -errno : 0;
}

void fail_nth_close(void)
{
	if (nth_fd >= 0)
		close(nth_fd);
	nth_fd = -1;
}

/* Nothing here may allocate in the kernel: it runs with the count armed. */
int fail_nth_set(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -errno;
}

int fail_nth_get(void)
{
	char buf[16];
	ssize_t n = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	return atoi(buf);
}

#define DBG "/sys/kernel/debug/"

static const struct {
	const char *file;
	const char *value;
} fault_settings[] = {
	{ DBG "failslab/ignore-gfp-wait", "N" },
	{ DBG "failslab/verbose", "0" },
	{ DBG "fail_page_alloc/ignore-gfp-wait", "N" },
	{ DBG "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DBG "fail_page_alloc/min-order", "0" },
	{ DBG "fail_page_alloc/verbose", "0" },
};
#define NSETTINGS (sizeof(fault_settings) / sizeof(fault_settings[0]))

static char saved[NSETTINGS][16];
static pid_t saved_by;

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Async-signal-safe: also runs from the signal handler. */
void fault_config_restore(void)
{
	size_t i;

	if (saved_by != getpid())
		return;
	for (i = 0; i < NSETTINGS; i++)
		if (saved[i][0])
			own_write_str(fault_settings[i].file, saved[i]);
	saved_by = 0;
}

static void restore_on_signal(int sig)
{
	fault_config_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int fault_config_setup(void)
{
	static const char *const probability[] = {
		DBG "failslab/probability", DBG "fail_page_alloc/probability",
	};
	char buf[32];
	size_t i;
	int ret;

	for (i = 0; i < 2; i++) {
		ret = read_file(probability[i], buf, sizeof(buf));
		if (ret) {
			printf("# cannot read %s: %s\n", probability[i],
			       strerror(-ret));
			return ret;
		}
		if (strcmp(buf, "0")) {
			printf("# %s is %s: faults would be injected "
			       "anywhere, not only where a test asks\n",
			       probability[i], buf);
			return -EBUSY;
		}
	}
	for (i = 0; i < NSETTINGS; i++) {
		ret = read_file(fault_settings[i].file, saved[i],
				sizeof(saved[i]));
		if (ret) {
			printf("# cannot read %s: %s\n", fault_settings[i].file,
			       strerror(-ret));
			return ret;
		}
	}
	saved_by = getpid();
	atexit(fault_config_restore);
	signal(SIGTERM, restore_on_signal);
	signal(SIGINT, restore_on_signal);
	signal(SIGHUP, restore_on_signal);
	for (i = 0; i < NSETTINGS; i++) {
		ret = own_write_str(fault_settings[i].file,
				 fault_settings[i].value);
		if (ret) {
			printf("# cannot write %s: %s\n",
			       fault_settings[i].file, strerror(-ret));
			fault_config_restore();
			return ret;
		}
	}
	return 0;
}

void fault_config_print(void)
{
	char val[32];
	size_t i;

	printf("# fault injection:");
	for (i = 0; i < NSETTINGS; i++) {
		if (read_file(fault_settings[i].file, val, sizeof(val)))
			strcpy(val, "?");
		printf(" %s=%s", fault_settings[i].file + strlen(DBG), val);
	}
	printf("\n");
}

const char *errno_name(int err)
{
	static __thread char buf[16];
	const char *name = strerrorname_np(err);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}
