// SPDX-License-Identifier: GPL-2.0
/*
 * check.c - "vfio-ownertop check": when to judge the model, and what to
 * say about it.  The rules themselves are in judge.c.
 *
 * Events are judged as they arrive: each carries everything its rule
 * needs.  The state rules compare the model with /proc/PID/status, which
 * is read a moment later than fdinfo and not under the container's lock:
 * a process that maps or hands off in between looks wrong for a moment.
 * So a state finding counts only when it is still there after the sources
 * are read again, several times over, CONFIRM_ROUNDS times CONFIRM_GAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ownertop.h"
#include "source.h"

#define MAX_FINDINGS	32
#define CONFIRM_ROUNDS	4
#define CONFIRM_GAP_MS	30
#define POLL_MS		250	/* judge the state this often, events or not */
#define SETTLE_STEP_MS	50

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR && !ot_exiting)
		;
}

static bool same(const struct jd_finding *a, const struct jd_finding *b)
{
	return a->rule == b->rule && a->iommu_id == b->iommu_id &&
	       a->tgid == b->tgid;
}

void check_report(struct app *a, const struct jd_finding *f)
{
	int i;

	for (i = 0; i < a->nreported; i++)
		if (same(&a->reported[i], f))
			return;	/* said already */
	if (a->nreported < (int)(sizeof(a->reported) /
				 sizeof(a->reported[0])))
		a->reported[a->nreported++] = *f;
	a->violations++;
	printf("vfio-ownertop: check: violation (%s): %s\n",
	       jd_rule_name(f->rule), f->msg);
	fflush(stdout);
}

/* Keep in @f only what is also in @g, with @g's (newer) numbers. */
static int intersect(struct jd_finding *f, int nf,
		     const struct jd_finding *g, int ng)
{
	int i, j, n = 0;

	for (i = 0; i < nf; i++)
		for (j = 0; j < ng; j++)
			if (same(&f[i], &g[j])) {
				f[n++] = g[j];
				break;
			}
	return n;
}

static int min_int(int a, int b)
{
	return a < b ? a : b;
}

/*
 * Judge the state rules until the findings are stable or gone; report the
 * stable ones.  Returns how many were reported, or -errno.
 */
static int judge_state(struct app *a)
{
	struct jd_finding f[MAX_FINDINGS], g[MAX_FINDINGS];
	int nf, ng, round, err, i;

	err = app_refresh(a, true);
	if (err)
		return err;
	a->rounds++;
	nf = min_int(jd_state(&a->m, a->o.check_pid, f, MAX_FINDINGS),
		     MAX_FINDINGS);
	for (round = 0; nf && round < CONFIRM_ROUNDS && !ot_exiting;
	     round++) {
		sleep_ms(CONFIRM_GAP_MS);
		err = app_refresh(a, true);
		if (err)
			return err;
		ng = min_int(jd_state(&a->m, a->o.check_pid, g, MAX_FINDINGS),
			     MAX_FINDINGS);
		nf = intersect(f, nf, g, ng);
	}
	for (i = 0; i < nf; i++)
		check_report(a, &f[i]);
	return nf;
}

/*
 * After the command: its containers close and their pins are released by
 * a kernel worker, a little later.  Wait up to --settle for the end rules
 * to hold, then judge them (and the state rules) once more.
 */
static int judge_end(struct app *a, int64_t pins0)
{
	struct jd_finding f[MAX_FINDINGS];
	uint64_t deadline = om_now_ns() + (uint64_t)(a->o.settle_s * 1e9);
	int64_t pins = pins0;
	int n, i, err;

	for (;;) {
		err = app_refresh(a, true);
		if (err)
			return err;
		err = om_pinned_pages(a->procdir, true, &pins);
		if (err)
			return err;
		n = jd_end(&a->m, a->o.check_pid, pins0, pins, f,
			   MAX_FINDINGS);
		if (!n || om_now_ns() >= deadline || ot_exiting)
			break;
		sleep_ms(SETTLE_STEP_MS);
	}
	for (i = 0; i < min_int(n, MAX_FINDINGS); i++)
		check_report(a, &f[i]);
	judge_state(a);
	printf("vfio-ownertop: check: pinned pages %" PRId64 " before the"
	       " command, %" PRId64 " after\n", pins0, pins);
	return 0;
}

/* Start @cmd; the child's pid, or -errno (exec failures included). */
static pid_t spawn(struct app *a, char **cmd)
{
	int pipefd[2], child_err = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (!pid) {
		/* The limit libbpf may have raised is not the command's. */
		setrlimit(RLIMIT_MEMLOCK, &a->memlock);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(pipefd[0]);
		execvp(cmd[0], cmd);
		child_err = errno;
		if (write(pipefd[1], &child_err, sizeof(child_err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pipefd[1]);
	/* EOF: exec succeeded and closed the pipe; data: its errno. */
	do
		n = read(pipefd[0], &child_err, sizeof(child_err));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == sizeof(child_err)) {
		waitpid(pid, NULL, 0);
		return -child_err;
	}
	return pid;
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_RING, TAG_CHILD, TAG_TIMER };

/*
 * Follow @pid until it exits: judge every batch of events as it comes, and
 * the state at least every POLL_MS.  Returns the command's wait status, or
 * -errno.
 */
static int follow(struct app *a, pid_t pid)
{
	struct itimerspec its = {
		.it_value = { 0, POLL_MS * 1000000L },
		.it_interval = { 0, POLL_MS * 1000000L },
	};
	struct epoll_event evs[4];
	int epfd, tfd, pidfd, status = -1, n, i, err = 0;
	bool running = true;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (epfd < 0 || tfd < 0 || pidfd < 0 ||
	    timerfd_settime(tfd, 0, &its, NULL) ||
	    epoll_add(epfd, ot_fd(&a->t), TAG_RING) ||
	    epoll_add(epfd, pidfd, TAG_CHILD) ||
	    epoll_add(epfd, tfd, TAG_TIMER)) {
		err = -errno;
		goto out;
	}
	while (running) {
		bool judge = false;

		if (ot_exiting) {
			/* Interrupted: stop the command, report nothing. */
			kill(pid, SIGTERM);
			waitpid(pid, NULL, 0);
			err = -EINTR;
			goto out;
		}
		n = epoll_wait(epfd, evs, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t ticks;

			switch (evs[i].data.u32) {
			case TAG_RING:
				judge = true;
				break;
			case TAG_TIMER:
				if (read(tfd, &ticks, sizeof(ticks)) > 0)
					judge = true;
				break;
			case TAG_CHILD:
				running = false;
				break;
			}
		}
		if (judge) {
			err = judge_state(a);
			if (err < 0)
				break;
			err = 0;
		}
	}
	if (!running && waitpid(pid, &status, 0) < 0)
		err = -errno;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (tfd >= 0)
		close(tfd);
	if (epfd >= 0)
		close(epfd);
	return err ? err : status;
}

int check_run(struct app *a)
{
	int64_t pins0 = 0;
	int status = 0, err;
	bool cmd_failed = false;
	pid_t pid;

	if (a->o.check_pid) {
		char path[64];

		snprintf(path, sizeof(path), "%s/%d", a->procdir,
			 a->o.check_pid);
		if (access(path, F_OK)) {
			fprintf(stderr, "vfio-ownertop: check: no process %d\n",
				a->o.check_pid);
			return OT_EXIT_ERROR;
		}
	}
	if (a->o.follow) {
		err = om_pinned_pages(a->procdir, true, &pins0);
		if (err) {
			fprintf(stderr, "vfio-ownertop: check: cannot read the"
				" pin counters of %s/vmstat: %s\n",
				a->procdir, strerror(-err));
			return OT_EXIT_ERROR;
		}
	}
	err = judge_state(a);
	if (err < 0)
		goto error;

	if (a->o.follow) {
		pid = spawn(a, a->o.cmd);
		if (pid < 0) {
			fprintf(stderr, "vfio-ownertop: check: cannot run %s:"
				" %s\n", a->o.cmd[0], strerror(-pid));
			return OT_EXIT_ERROR;
		}
		status = follow(a, pid);
		if (status == -EINTR) {
			fprintf(stderr, "vfio-ownertop: check: interrupted\n");
			return OT_EXIT_ERROR;
		}
		if (status < 0) {
			err = status;
			goto error;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			cmd_failed = true;
			printf("vfio-ownertop: check: %s %s %d\n",
			       a->o.cmd[0], WIFEXITED(status) ?
			       "exited with status" : "was killed by signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) :
			       WTERMSIG(status));
		}
		err = judge_end(a, pins0);
		if (err < 0)
			goto error;
	}

	if (a->m.lost)
		printf("vfio-ownertop: check: %" PRIu64 " events were lost"
		       " (ring buffer full): the event rules did not see"
		       " them\n", a->m.lost);
	printf("vfio-ownertop: check: %s: %zu containers, %" PRIu64
	       " events, %" PRIu64 " judgements, %d violations\n",
	       a->violations ? "FAIL" : cmd_failed ? "FAIL (command)" :
	       "pass", a->m.cur.n, a->m.nevents, a->rounds, a->violations);
	return a->violations || cmd_failed ? OT_EXIT_VIOLATION : OT_EXIT_OK;

error:
	fprintf(stderr, "vfio-ownertop: check: %s\n", strerror(-err));
	return OT_EXIT_ERROR;
}
