// SPDX-License-Identifier: GPL-2.0
/*
 * stress - model-checked random stress of DMA ownership
 *
 * A coordinator drives worker processes through a random sequence of
 * operations on two type1 containers that share eight memfd "slots": one
 * with the edu device (an IOMMU domain: pages are pinned and charged at map
 * time) and one with a vfio-test-mdev device (pages are pinned and charged
 * only when the device pins them).  The operations are those of a live
 * update and what can go wrong around it: map, unmap, unmap-all, stage a
 * vaddr (good or bad), change owner, mediated device pin/unpin/read/write,
 * fork, exec (the new image maps the slots again at new addresses), exit,
 * SIGKILL while idle, during an exec or in the middle of a loop of ioctls,
 * and scripted live updates.  Workers run each operation in their main
 * thread or in a second thread, as told.
 *
 * The coordinator keeps a model of what the kernel must hold: each
 * container's owner, mappings, current and staged vaddrs, the pages the
 * device pinned, which process's "[vfio-dma-owner]" vma the container
 * tracks, and each process's locked pages, RLIMIT_MEMLOCK and trackers.
 * It predicts every return value and, after every step, compares the model
 * with the kernel: the containers' fdinfo, VmLck of every live worker and of
 * itself (/proc/PID/status), the FOLL_PIN counters (/proc/vmstat), the
 * device's pin count, the tracker vmas in /proc/PID/maps, RLIMIT_MEMLOCK;
 * every K steps "vfio-ownertop check"; and now and then edu DMA through the
 * IOMMU and mdev reads and writes through the owner's vaddrs, which must
 * land in (and only in) the slots' pages.
 *
 * A process killed in a loop of ioctls may have done one more of them or
 * not: the model then lists the states that either outcome allows and keeps
 * the one the kernel shows, and every invariant is checked as usual (an
 * owner's death must unmap everything it owned).
 *
 * The operations are drawn from a generator seeded per step: --seed S
 * --steps N replays a run step for step as long as the outcomes of kills
 * land the same way (--no-kill makes a run fully deterministic).  The seed
 * is printed at the start and with any failure.
 *
 * Usage (in the test VM, with vfio_test_mdev.ko loaded for the mdev part):
 *	stress [--seed S] [--steps N] [--duration SEC] [options]
 * Prints TAP; exit status 0 when every step matched the model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "rel.h"
#include "vfio_test_mdev.h"

#define NSLOTS		8
#define NCONT		2	/* C_EDU, C_MDEV */
#define C_EDU		0
#define C_MDEV		1
#define MAXW		6	/* live workers at most */
#define MAX_PAGES	(4u << (NSLOTS - 1))
#define ANON_SIZE	(2UL << 20)
#define REPLY_MS	60000	/* a worker that does not answer is stuck */
#define SETTLE_MS	5000	/* for an owner's close work to run */
#define RW_LEN		64

/* Slot k: 4 << k pages, so that bytes_mapped / 16 KiB is the set mapped. */
static inline unsigned int slot_pages(int k)
{
	return 4u << k;
}

static inline uint64_t slot_size(int k)
{
	return (uint64_t)slot_pages(k) * REL_PAGE;
}

static inline uint64_t slot_iova(int k)
{
	return (uint64_t)(k + 1) << 22;
}

/* ---------------------------------------------------------------------- */
/* The protocol between the coordinator and its workers */

enum wop {
	W_HELLO = 1,	/* a worker's first message, and the reply to exec */
	W_MAP,
	W_UNMAP,
	W_STAGE,
	W_CHANGE,
	W_MDEV,
	W_FORK,		/* comes with a socket for the child */
	W_EXEC,
	W_EXIT,
	W_LOOP,		/* run a loop of ioctls in the second thread */
};

enum loop_kind {
	L_MAPUNMAP,	/* map then unmap one slot */
	L_CHANGE,	/* change owner */
	L_MDEV,		/* pin then unpin one page */
	L_STAGE,	/* stage a vaddr */
	L_UNMAP_SLOTS,	/* unmap every slot in turn */
	L_KINDS
};

static const char *const loop_names[L_KINDS] = {
	"map/unmap", "change owner", "mdev pin/unpin", "stage", "unmap slots",
};

struct wcmd {
	uint32_t op;
	uint32_t thread;	/* 0: main thread, 1: the second thread */
	uint32_t c;		/* container */
	uint32_t flags;		/* unmap flags */
	uint64_t vaddr, iova, size;
	uint32_t mop;		/* W_MDEV: VFIO_TEST_MDEV_* */
	uint32_t n;		/* W_MDEV: pages or bytes */
	uint32_t loop;		/* W_LOOP: enum loop_kind */
	uint32_t pad;
	uint8_t data[RW_LEN];
};

struct wreply {
	int32_t op;
	int32_t ret;		/* >= 0, or -errno */
	int32_t pid;
	int32_t gen;
	int64_t val;
	uint64_t addr[NSLOTS], ro[NSLOTS], anon;
	uint8_t data[RW_LEN];
};

/* ---------------------------------------------------------------------- */
/* The model of what the kernel holds, kept by the coordinator */

struct mworker {
	bool live;
	int name;		/* w<name> in logs, never reused */
	pid_t pid;
	int sock, pidfd;
	int gen;		/* exec count */
	uint64_t addr[NSLOTS], ro[NSLOTS], anon;
	long limit;		/* RLIMIT_MEMLOCK in pages, -1 unlimited */
	bool cap;		/* CAP_IPC_LOCK */
	int trk;		/* "[vfio-dma-owner]" vmas in its mm */
	int armed;		/* of them, tracked by a container */
};

struct mslot {
	bool mapped;
	bool staged;
	uint64_t vaddr, staged_vaddr;
	uint16_t pins[MAX_PAGES];	/* the mdev's pins of each page */
};

struct mcont {
	bool present;
	bool pin_at_map;	/* an IOMMU domain: map pins everything */
	int owner;		/* worker index, or -1 */
	int armed_by;		/* whose tracker the container holds, or -1 */
	struct mslot s[NSLOTS];
};

struct model {
	struct mworker w[MAXW];
	struct mcont c[NCONT];
};

static struct model M;

/* ---------------------------------------------------------------------- */
/* What the coordinator sets up, inherited by every worker */

static struct {
	struct vfio_edu edu;
	struct own_mdev mdev;
	bool have_mdev;
	int cont[NCONT];	/* container fds, -1 if absent */
	int memfd[NSLOTS];
	uint8_t *mem[NSLOTS];	/* the coordinator's view of the slots */
} res;

/* ---------------------------------------------------------------------- */
/* Worker side */

static struct {
	int sock;
	int cont[NCONT];
	int mdev;		/* the mdev's device fd, or -1 */
	int memfd[NSLOTS];
	int gen;
	uint64_t addr[NSLOTS], ro[NSLOTS], anon;
	int fork_sock;		/* for the child of a W_FORK */
} wk;

/* Hand-off of one command to the second thread. */
static pthread_mutex_t h_lock;
static pthread_cond_t h_cond;
static struct wcmd *h_cmd;
static struct wreply *h_rep;
static bool h_pending, h_done;

static void worker_loop(void) __attribute__((noreturn));

static void wk_die(const char *what)
{
	fprintf(stderr, "# stress: worker %d: %s: %s\n", getpid(), what,
		strerror(errno));
	_exit(3);
}

static void send_reply(struct wreply *rep)
{
	if (send(wk.sock, rep, sizeof(*rep), MSG_NOSIGNAL) != sizeof(*rep))
		_exit(0);	/* the coordinator is gone */
}

static void hello(void)
{
	struct wreply rep = { .op = W_HELLO, .pid = getpid(), .gen = wk.gen };

	memcpy(rep.addr, wk.addr, sizeof(rep.addr));
	memcpy(rep.ro, wk.ro, sizeof(rep.ro));
	rep.anon = wk.anon;
	send_reply(&rep);
}

static void wk_exec(struct wreply *rep)
{
	char arg[512], *argv[4];
	int fds[3 + NCONT + NSLOTS], n = 0, i, len;

	fds[n++] = wk.sock;
	for (i = 0; i < NCONT; i++)
		fds[n++] = wk.cont[i];
	fds[n++] = wk.mdev;
	for (i = 0; i < NSLOTS; i++)
		fds[n++] = wk.memfd[i];
	len = snprintf(arg, sizeof(arg), "%d", wk.gen + 1);
	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFD, 0);
		len += snprintf(arg + len, sizeof(arg) - len, ",%d", fds[i]);
	}
	argv[0] = "stress";
	argv[1] = "--worker";
	argv[2] = arg;
	argv[3] = NULL;
	execv("/proc/self/exe", argv);
	rep->ret = -errno;
}

static void wk_fork(struct wreply *rep)
{
	pid_t pid = fork();

	if (pid == 0) {
		close(wk.sock);
		wk.sock = wk.fork_sock;
		worker_loop();
	}
	close(wk.fork_sock);
	rep->ret = pid < 0 ? -errno : pid;
}

static int mdev_call(struct wcmd *cmd, uint8_t *out)
{
	uint8_t buf[RW_LEN];

	memcpy(buf, cmd->data, sizeof(buf));
	if (wk.mdev < 0)
		return -ENODEV;
	int ret = own_mdev_op(wk.mdev, cmd->mop, cmd->iova, cmd->n, buf, NULL);

	memcpy(out, buf, sizeof(buf));
	return ret;
}

static void run_loop(struct wcmd *cmd)
{
	int c = wk.cont[cmd->c];

	for (;;) {
		switch (cmd->loop) {
		case L_MAPUNMAP:
			vfio_dma_map(c, (void *)cmd->vaddr, cmd->iova, cmd->size);
			vfio_dma_unmap(c, cmd->iova, cmd->size);
			break;
		case L_CHANGE:
			own_change_owner(c);
			break;
		case L_MDEV:
			own_mdev_op(wk.mdev, VFIO_TEST_MDEV_PIN, cmd->iova, 1,
				    NULL, NULL);
			own_mdev_op(wk.mdev, VFIO_TEST_MDEV_UNPIN, cmd->iova, 1,
				    NULL, NULL);
			break;
		case L_STAGE:
			own_stage(c, (void *)cmd->vaddr, cmd->iova, cmd->size);
			break;
		case L_UNMAP_SLOTS:
			for (int k = 0; k < NSLOTS; k++)
				vfio_dma_unmap(c, slot_iova(k), slot_size(k));
			break;
		}
	}
}

static void signal_done(void)
{
	pthread_mutex_lock(&h_lock);
	h_pending = false;
	h_done = true;
	pthread_cond_broadcast(&h_cond);
	pthread_mutex_unlock(&h_lock);
}

/* Run one command; returns only when there is a reply to send. */
static void run_cmd(struct wcmd *cmd, struct wreply *rep, bool helper)
{
	int c = cmd->c < NCONT ? wk.cont[cmd->c] : -1;
	int64_t r;

	rep->op = cmd->op;
	rep->pid = getpid();
	rep->gen = wk.gen;
	switch (cmd->op) {
	case W_MAP:
		rep->ret = vfio_dma_map(c, (void *)cmd->vaddr, cmd->iova,
					cmd->size);
		break;
	case W_UNMAP:
		r = vfio_dma_unmap_flags(c, cmd->iova, cmd->size, cmd->flags);
		rep->ret = r < 0 ? (int)r : 0;
		rep->val = r;
		break;
	case W_STAGE:
		rep->ret = own_stage(c, (void *)cmd->vaddr, cmd->iova,
				     cmd->size);
		break;
	case W_CHANGE:
		rep->ret = own_change_owner(c);
		break;
	case W_MDEV:
		rep->ret = mdev_call(cmd, rep->data);
		break;
	case W_FORK:
		wk_fork(rep);
		break;
	case W_EXEC:
		wk_exec(rep);
		break;
	case W_EXIT:
		_exit(0);
	case W_LOOP:
		if (helper) {
			rep->ret = 0;
			signal_done();	/* "started" */
			run_loop(cmd);
		}
		rep->ret = -EINVAL;
		break;
	default:
		rep->ret = -EINVAL;
	}
}

static void *helper_main(void *arg)
{
	struct wcmd *cmd;
	struct wreply *rep;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&h_lock);
		while (!h_pending)
			pthread_cond_wait(&h_cond, &h_lock);
		cmd = h_cmd;
		rep = h_rep;
		pthread_mutex_unlock(&h_lock);
		run_cmd(cmd, rep, true);
		signal_done();
	}
	return NULL;
}

static void start_helper(void)
{
	pthread_t t;

	pthread_mutex_init(&h_lock, NULL);
	pthread_cond_init(&h_cond, NULL);
	h_pending = h_done = false;
	if (pthread_create(&t, NULL, helper_main, NULL))
		wk_die("pthread_create");
	pthread_detach(t);
}

static ssize_t recv_cmd(struct wcmd *cmd, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { cmd, sizeof(*cmd) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(wk.sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	cm = CMSG_FIRSTHDR(&msg);
	if (n > 0 && cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

/* The command loop of a worker: the new child of a fork enters it too. */
static void worker_loop(void)
{
	struct wcmd cmd;
	struct wreply rep;
	int fd;

	start_helper();
	hello();
	for (;;) {
		if (recv_cmd(&cmd, &fd) != sizeof(cmd))
			_exit(0);
		memset(&rep, 0, sizeof(rep));
		if (cmd.op == W_FORK)
			wk.fork_sock = fd;
		else if (fd >= 0)
			close(fd);
		if (cmd.thread) {
			pthread_mutex_lock(&h_lock);
			h_cmd = &cmd;
			h_rep = &rep;
			h_done = false;
			h_pending = true;
			pthread_cond_broadcast(&h_cond);
			while (!h_done)
				pthread_cond_wait(&h_cond, &h_lock);
			pthread_mutex_unlock(&h_lock);
		} else {
			run_cmd(&cmd, &rep, false);
		}
		send_reply(&rep);
	}
}

/* Map the slots, read-only views of them and a private decoy. */
static void worker_map_slots(void)
{
	void *p;
	int k;

	for (k = 0; k < NSLOTS; k++) {
		p = mmap(NULL, slot_size(k), PROT_READ | PROT_WRITE,
			 MAP_SHARED, wk.memfd[k], 0);
		if (p == MAP_FAILED)
			wk_die("mmap a slot");
		wk.addr[k] = (uintptr_t)p;
		p = mmap(NULL, slot_size(k), PROT_READ, MAP_SHARED,
			 wk.memfd[k], 0);
		if (p == MAP_FAILED)
			wk_die("mmap a slot read-only");
		wk.ro[k] = (uintptr_t)p;
	}
	p = mmap(NULL, ANON_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		wk_die("mmap the decoy");
	wk.anon = (uintptr_t)p;
}

/* A worker forked by the coordinator. */
static void worker_spawned(int sock, long limit_pages, bool cap)
{
	int k;

	/* Only the coordinator talks to the other workers. */
	for (k = 0; k < MAXW; k++) {
		if (M.w[k].live) {
			close(M.w[k].sock);
			close(M.w[k].pidfd);
		}
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGCHLD, SIG_IGN);	/* its own children reap themselves */
	wk.sock = sock;
	for (k = 0; k < NCONT; k++)
		wk.cont[k] = res.cont[k];
	wk.mdev = res.have_mdev ? res.mdev.device : -1;
	for (k = 0; k < NSLOTS; k++) {
		wk.memfd[k] = res.memfd[k];
		/* Only its own views of the slots: see the model's vaddrs. */
		munmap(res.mem[k], slot_size(k));
	}
	wk.gen = 0;
	if (limit_pages >= 0 ?
	    memlock_set(limit_pages * REL_PAGE, limit_pages * REL_PAGE) :
	    memlock_set(RLIM_INFINITY, RLIM_INFINITY))
		_exit(3);
	if (!cap && own_drop_ipc_lock())
		wk_die("drop CAP_IPC_LOCK");
	worker_map_slots();
	worker_loop();
}

/* The new image of a worker after exec: "--worker GEN,SOCK,C0,C1,MDEV,M0..7". */
static int worker_exec_main(const char *arg)
{
	int v[4 + NCONT + NSLOTS], n = 0, i;
	const char *s = arg;
	char *end;

	while (n < (int)(sizeof(v) / sizeof(v[0]))) {
		v[n++] = strtol(s, &end, 10);
		if (*end != ',')
			break;
		s = end + 1;
	}
	if (n != 3 + NCONT + NSLOTS || *end) {
		fprintf(stderr, "stress: bad --worker argument\n");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN);
	wk.gen = v[0];
	wk.sock = v[1];
	for (i = 0; i < NCONT; i++)
		wk.cont[i] = v[2 + i];
	wk.mdev = v[2 + NCONT];
	for (i = 0; i < NSLOTS; i++)
		wk.memfd[i] = v[3 + NCONT + i];
	fcntl(wk.sock, F_SETFD, FD_CLOEXEC);
	worker_map_slots();
	worker_loop();
}

/* ---------------------------------------------------------------------- */
/* The model */

static int next_name;

static const char *const cont_names[NCONT] = { "edu", "mdev" };

static bool cont_empty(const struct model *m, int c)
{
	for (int k = 0; k < NSLOTS; k++)
		if (m->c[c].s[k].mapped)
			return false;
	return true;
}

/* Pages of slot k that hold at least one pin of the device. */
static long slot_pinned(const struct mslot *s, int k)
{
	long n = 0;

	for (unsigned int p = 0; p < slot_pages(k); p++)
		n += s->pins[p] > 0;
	return n;
}

/* Pages the container has pinned and charged to its owner. */
static long cont_locked(const struct model *m, int c)
{
	long n = 0;

	for (int k = 0; k < NSLOTS; k++) {
		const struct mslot *s = &m->c[c].s[k];

		if (!s->mapped)
			continue;
		n += m->c[c].pin_at_map ? slot_pages(k) : slot_pinned(s, k);
	}
	return n;
}

static uint64_t cont_bytes(const struct model *m, int c)
{
	uint64_t n = 0;

	for (int k = 0; k < NSLOTS; k++)
		if (m->c[c].s[k].mapped)
			n += slot_size(k);
	return n;
}

static unsigned int cont_count(const struct model *m, int c, bool staged)
{
	unsigned int n = 0;

	for (int k = 0; k < NSLOTS; k++)
		n += m->c[c].s[k].mapped && (!staged || m->c[c].s[k].staged);
	return n;
}

static long mdev_pin_count(const struct model *m)
{
	long n = 0;

	for (int k = 0; k < NSLOTS; k++)
		for (unsigned int p = 0; p < slot_pages(k); p++)
			n += m->c[C_MDEV].s[k].pins[p];
	return n;
}

/* mm->locked_vm of worker w, in pages. */
static long mm_locked(const struct model *m, int w)
{
	long n = 0;

	for (int c = 0; c < NCONT; c++)
		if (m->c[c].present && m->c[c].owner == w)
			n += cont_locked(m, c);
	return n;
}

static long total_pins(const struct model *m)
{
	long n = 0;

	for (int c = 0; c < NCONT; c++)
		if (m->c[c].present)
			n += cont_locked(m, c);
	return n;
}

/* Would a charge of @pages more to w's mm stay within its limit? */
static bool may_charge(const struct model *m, int w, long pages)
{
	const struct mworker *x = &m->w[w];

	return !pages || x->cap || x->limit < 0 ||
	       mm_locked(m, w) + pages <= x->limit;
}

/* vfio_owner_get() + vfio_owner_arm(): the container tracks w's mm. */
static void model_arm(struct model *m, int c, int w)
{
	struct mcont *mc = &m->c[c];

	if (mc->armed_by == w)
		return;
	if (m->w[w].trk == m->w[w].armed)
		m->w[w].trk++;		/* no disarmed tracker to reuse */
	m->w[w].armed++;
	if (mc->armed_by >= 0)
		m->w[mc->armed_by].armed--;
	mc->armed_by = w;
}

static void slot_clear(struct mslot *s)
{
	memset(s, 0, sizeof(*s));
}

/* What the owner-close work does once w's mm is gone (exit or exec). */
static void model_mm_gone(struct model *m, int w)
{
	for (int c = 0; c < NCONT; c++) {
		struct mcont *mc = &m->c[c];

		if (!mc->present || mc->armed_by != w)
			continue;
		if (mc->owner == w) {
			for (int k = 0; k < NSLOTS; k++)
				slot_clear(&mc->s[k]);
			mc->owner = -1;
		}
		mc->armed_by = -1;
	}
	m->w[w].trk = m->w[w].armed = 0;
}

static int model_map(struct model *m, int w, int c, int k, uint64_t vaddr,
		     bool read_only)
{
	struct mcont *mc = &m->c[c];

	if (!cont_empty(m, c) && mc->owner != w)
		return -EPERM;
	if (mc->s[k].mapped)
		return -EEXIST;
	if (cont_empty(m, c))
		model_arm(m, c, w);
	if (read_only)
		return -EFAULT;	/* only asked of a container that pins */
	if (mc->pin_at_map && !may_charge(m, w, slot_pages(k)))
		return -ENOMEM;
	slot_clear(&mc->s[k]);
	mc->s[k].mapped = true;
	mc->s[k].vaddr = vaddr;
	mc->owner = w;
	return 0;
}

/* Returns the bytes unmapped or -errno. */
static int64_t model_unmap(struct model *m, int c, int k, bool half)
{
	struct mcont *mc = &m->c[c];

	if (!mc->s[k].mapped)
		return 0;
	if (half)
		return -EINVAL;	/* v2 does not split a mapping */
	slot_clear(&mc->s[k]);
	if (cont_empty(m, c))
		mc->owner = -1;
	return slot_size(k);
}

static int64_t model_unmap_all(struct model *m, int c)
{
	int64_t bytes = cont_bytes(m, c);

	for (int k = 0; k < NSLOTS; k++)
		slot_clear(&m->c[c].s[k]);
	m->c[c].owner = -1;
	return bytes;
}

static int model_stage(struct model *m, int c, int k, uint64_t vaddr,
		       bool half)
{
	struct mslot *s = &m->c[c].s[k];

	if (!s->mapped)
		return -ENOENT;
	if (half)
		return -EINVAL;
	s->staged = true;
	s->staged_vaddr = vaddr;
	return 0;
}

/* Does vaddr map slot k, read-write and shared, in worker w's mm? */
static bool vaddr_valid(const struct model *m, int w, int k, uint64_t vaddr)
{
	return m->w[w].addr[k] == vaddr;
}

static int model_change(struct model *m, int w, int c)
{
	struct mcont *mc = &m->c[c];
	int o = mc->owner, k;

	if (cont_empty(m, c))
		return 0;
	/* vfio_dma_check_vaddrs(), in IOVA order */
	for (k = 0; k < NSLOTS; k++) {
		struct mslot *s = &mc->s[k];
		uint64_t v = s->staged ? s->staged_vaddr : s->vaddr;

		if (!s->mapped || (!s->staged && w == o))
			continue;
		if (!vaddr_valid(m, w, k, v))
			return !s->staged && cont_count(m, c, true) ?
			       -EINVAL : -ENXIO;
	}
	/* vfio_owner_get(): a tracker exists from now on */
	if (mc->armed_by != w && m->w[w].trk == m->w[w].armed)
		m->w[w].trk++;
	if (w != o && !may_charge(m, w, cont_locked(m, c)))
		return -ENOMEM;
	model_arm(m, c, w);
	for (k = 0; k < NSLOTS; k++) {
		struct mslot *s = &mc->s[k];

		if (s->mapped && s->staged) {
			s->vaddr = s->staged_vaddr;
			s->staged = false;
		}
	}
	mc->owner = w;
	return 0;
}

/* Is [first, first + n) within mapped slot k? */
static bool mdev_range_ok(const struct model *m, int k, unsigned int first,
			  unsigned int n)
{
	return m->c[C_MDEV].s[k].mapped && first + n <= slot_pages(k);
}

static int model_mdev_pin(struct model *m, int k, unsigned int first,
			  unsigned int n)
{
	struct mslot *s = &m->c[C_MDEV].s[k];
	long fresh = 0;

	if (!mdev_range_ok(m, k, first, n))
		return -EINVAL;
	for (unsigned int p = first; p < first + n; p++)
		fresh += !s->pins[p];
	if (!may_charge(m, m->c[C_MDEV].owner, fresh))
		return -ENOMEM;
	for (unsigned int p = first; p < first + n; p++)
		s->pins[p]++;
	return n;
}

static int model_mdev_unpin(struct model *m, int k, unsigned int first,
			    unsigned int n)
{
	struct mslot *s = &m->c[C_MDEV].s[k];

	if (!s->mapped || first + n > slot_pages(k))
		return -ENOENT;
	for (unsigned int p = first; p < first + n; p++)
		if (!s->pins[p])
			return -ENOENT;
	for (unsigned int p = first; p < first + n; p++)
		s->pins[p]--;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The coordinator */

static struct {
	uint64_t seed;
	long steps;
	long duration;		/* seconds; 0: one run */
	int workers;		/* at the start */
	int check_every;	/* vfio-ownertop check every K steps */
	bool kill;		/* SIGKILL during operations */
	bool use_mdev;
	bool verbose;
	char ownertop[PATH_MAX];
	const char *self;
} opt = {
	.steps = 600,
	.workers = 3,
	.check_every = 50,
	.kill = true,
	.use_mdev = true,
};

static long step;		/* the step under way, from 1 */
static uint64_t deadline_ns;	/* --duration: when to stop, or 0 */
static long long pins_base;	/* FOLL_PIN pages held before the run */
static char op_desc[256];	/* the operation under way */
static char history[32][256];	/* the last operations */
static int nhistory;
static long ownertop_runs;
static long counts[32];		/* operations done, by kind */
static long kill_outcomes[2];	/* kills in a loop: before, after an effect */

enum op_kind {
	OP_MAP, OP_UNMAP, OP_UNMAP_ALL, OP_STAGE, OP_CHANGE, OP_MDEV,
	OP_FORK, OP_EXEC, OP_EXIT, OP_KILL, OP_KILL_LOOP, OP_KILL_EXEC,
	OP_LIVE_UPDATE, OP_DMA, OP_SPAWN, OP_KINDS
};

static const char *const op_names[OP_KINDS] = {
	"map", "unmap", "unmap-all", "stage", "change", "mdev", "fork", "exec",
	"exit", "kill", "kill-in-loop", "kill-in-exec", "live-update", "dma",
	"spawn",
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char *line = history[nhistory++ % 32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(history[0]), fmt, ap);
	va_end(ap);
	if (opt.verbose)
		tap_diag("step %ld: %s", step, line);
}

static void kill_all_workers(void)
{
	for (int w = 0; w < MAXW; w++) {
		if (!M.w[w].live)
			continue;
		kill(M.w[w].pid, SIGKILL);
		rel_pidfd_wait(M.w[w].pidfd, 5000);
		close(M.w[w].sock);
		close(M.w[w].pidfd);
		M.w[w].live = false;
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void dump_model(void)
{
	for (int c = 0; c < NCONT; c++) {
		const struct mcont *mc = &M.c[c];
		char slots[128] = "";
		int n = 0;

		if (!mc->present)
			continue;
		for (int k = 0; k < NSLOTS; k++)
			if (mc->s[k].mapped)
				n += snprintf(slots + n, sizeof(slots) - n,
					      " %d%s", k,
					      mc->s[k].staged ? "s" : "");
		tap_diag("  model %s: owner %d, tracker of %d, locked %ld, slots:%s",
			 cont_names[c],
			 mc->owner >= 0 ? M.w[mc->owner].pid : 0,
			 mc->armed_by >= 0 ? M.w[mc->armed_by].pid : 0,
			 cont_locked(&M, c), slots);
	}
	for (int w = 0; w < MAXW; w++) {
		const struct mworker *x = &M.w[w];

		if (x->live)
			tap_diag("  model w%d pid %d gen %d: locked %ld, limit %ld%s, trackers %d (%d armed)",
				 x->name, x->pid, x->gen, mm_locked(&M, w),
				 x->limit, x->cap ? " +cap" : "", x->trk,
				 x->armed);
	}
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tap_diag("FAILED at step %ld of seed %llu: %s", step,
		 (unsigned long long)opt.seed, msg);
	tap_diag("operation: %s", op_desc);
	tap_diag("the last operations, oldest first:");
	for (i = nhistory > 32 ? nhistory - 32 : 0; i < nhistory; i++)
		tap_diag("  %s", history[i % 32]);
	dump_model();
	tap_diag("replay: %s --seed %llu --steps %ld%s%s", opt.self,
		 (unsigned long long)opt.seed, step,
		 opt.kill ? "" : " --no-kill", opt.use_mdev ? "" : " --no-mdev");
	tap_result(false, NULL, "seed %llu: the kernel matches the model at every step (failed at step %ld)",
		   (unsigned long long)opt.seed, step);
	tap_plan();
	kill_all_workers();
	exit(1);
}

static int free_slot(void)
{
	for (int w = 0; w < MAXW; w++)
		if (!M.w[w].live)
			return w;
	return -1;
}

static int nlive(void)
{
	int n = 0;

	for (int w = 0; w < MAXW; w++)
		n += M.w[w].live;
	return n;
}

/* The i-th live worker, i below nlive(). */
static int nth_live(int i)
{
	for (int w = 0; w < MAXW; w++)
		if (M.w[w].live && i-- == 0)
			return w;
	return -1;
}

static int w_send(int w, const struct wcmd *cmd, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)cmd, sizeof(*cmd) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(M.w[w].sock, &msg, MSG_NOSIGNAL) == sizeof(*cmd) ?
	       0 : -EPIPE;
}

/* Wait for a message from worker w: 0, -ETIMEDOUT or -EPIPE. */
static int w_recv(int w, struct wreply *rep, int ms)
{
	struct pollfd p = { .fd = M.w[w].sock, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	n = recv(M.w[w].sock, rep, sizeof(*rep), 0);
	return n == sizeof(*rep) ? 0 : -EPIPE;
}

static void w_call(int w, struct wcmd *cmd, struct wreply *rep, int fd)
{
	int ret = w_send(w, cmd, fd);

	if (!ret)
		ret = w_recv(w, rep, REPLY_MS);
	if (ret)
		fail("worker w%d (pid %d) %s", M.w[w].name, M.w[w].pid,
		     ret == -ETIMEDOUT ? "did not answer in time" :
					 "went away");
}

/* Take in a worker's hello: its pid and where it mapped the slots. */
static void take_hello(int w, const struct wreply *rep)
{
	struct mworker *x = &M.w[w];

	if (rep->op != W_HELLO)
		fail("w%d: expected a hello, got message %d", x->name, rep->op);
	x->pid = rep->pid;
	x->gen = rep->gen;
	memcpy(x->addr, rep->addr, sizeof(x->addr));
	memcpy(x->ro, rep->ro, sizeof(x->ro));
	x->anon = rep->anon;
}

static void wait_hello(int w)
{
	struct wreply rep;
	int ret = w_recv(w, &rep, REPLY_MS);

	if (ret)
		fail("worker w%d sent no hello (%s)", M.w[w].name,
		     strerror(-ret));
	take_hello(w, &rep);
}

/* Limits a new worker may get: pages of RLIMIT_MEMLOCK, and CAP_IPC_LOCK. */
static const struct { long limit; bool cap; } profiles[] = {
	{ -1, true }, { 1536, false }, { 400, false }, { -1, false },
	{ 100, false },
};

static int spawn_worker(int profile)
{
	int w = free_slot(), sv[2];
	struct mworker *x;
	pid_t pid;

	if (w < 0)
		fail("no room for a new worker");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		fail("socketpair: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid) {
		close(sv[0]);
		worker_spawned(sv[1], profiles[profile].limit,
			       profiles[profile].cap);
	}
	close(sv[1]);
	x = &M.w[w];
	memset(x, 0, sizeof(*x));
	x->live = true;
	x->name = next_name++;
	x->sock = sv[0];
	x->limit = profiles[profile].limit;
	x->cap = profiles[profile].cap;
	wait_hello(w);
	x->pidfd = rel_pidfd(x->pid);
	if (x->pidfd < 0)
		fail("pidfd_open: %s", strerror(errno));
	return w;
}

/* Worker w is gone: forget it and let the model's close work run. */
static void worker_gone(struct model *m, int w)
{
	model_mm_gone(m, w);
	m->w[w].live = false;
}

static void reap_worker(int w)
{
	if (rel_pidfd_wait(M.w[w].pidfd, 30000))
		fail("w%d (pid %d) did not die", M.w[w].name, M.w[w].pid);
	close(M.w[w].sock);
	close(M.w[w].pidfd);
	worker_gone(&M, w);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* ---- checks against the kernel ---- */

struct reality {
	struct rel_fdinfo fi[NCONT];
	long vmlck[MAXW];	/* pages, -1 unreadable */
	int trackers[MAXW];
	long long pins;
	long mdev_pins;
};

static void read_reality(struct reality *r)
{
	for (int c = 0; c < NCONT; c++) {
		memset(&r->fi[c], 0, sizeof(r->fi[c]));
		if (M.c[c].present && rel_fdinfo(0, res.cont[c], &r->fi[c]))
			fail("cannot read the fdinfo of the %s container",
			     cont_names[c]);
	}
	for (int w = 0; w < MAXW; w++) {
		if (!M.w[w].live)
			continue;
		r->vmlck[w] = rel_vmlck_pages(M.w[w].pid);
		r->trackers[w] = own_has_tracker(M.w[w].pid);
	}
	r->pins = pinned_pages() - pins_base;
	r->mdev_pins = res.have_mdev ?
		own_mdev_op(res.mdev.device, VFIO_TEST_MDEV_PIN_COUNT, 0, 0,
			    NULL, NULL) : 0;
}

/* Append "what: model X, kernel Y" to buf if they differ; count it. */
#define DIFF(buf, n, what, want, got) do {				\
	long long _w = (want), _g = (got);				\
	if (_w != _g) {							\
		(n)++;							\
		snprintf((buf) + strlen(buf), 1024 - strlen(buf),	\
			 "%s%s: model %lld, kernel %lld",		\
			 (buf)[0] ? "; " : "", (what), _w, _g);		\
	}								\
} while (0)

/* The container part: what fdinfo and the device show. */
static int compare_containers(const struct model *m, const struct reality *r,
			      char *buf)
{
	int n = 0;
	char what[64];

	for (int c = 0; c < NCONT; c++) {
		const struct mcont *mc = &m->c[c];
		const struct rel_fdinfo *fi = &r->fi[c];
		const char *tracker = mc->armed_by >= 0 ? "armed" : "none";

		if (!mc->present)
			continue;
#define F(key, want, got) do {						\
	snprintf(what, sizeof(what), "%s %s", cont_names[c], key);	\
	DIFF(buf, n, what, want, got);					\
} while (0)
		F("owner_tgid", mc->owner >= 0 ? m->w[mc->owner].pid : 0,
		  fi->owner_tgid);
		F("mappings", cont_count(m, c, false), fi->mappings);
		F("bytes_mapped (slots as bits)", cont_bytes(m, c) / (16 * 1024),
		  fi->bytes / (16 * 1024));
		F("locked_pages", cont_locked(m, c), fi->locked);
		F("staged_vaddrs", cont_count(m, c, true), fi->staged);
#undef F
		if (strcmp(tracker, fi->tracker)) {
			n++;
			snprintf(buf + strlen(buf), 1024 - strlen(buf),
				 "%s%s owner_tracker: model %s, kernel %s",
				 buf[0] ? "; " : "", cont_names[c], tracker,
				 fi->tracker);
		}
	}
	if (res.have_mdev)
		DIFF(buf, n, "mdev pin count", mdev_pin_count(m), r->mdev_pins);
	return n;
}

/* Everything else: the processes and the pins. */
static int compare_processes(const struct model *m, const struct reality *r,
			     char *buf)
{
	char what[64];
	int n = 0;

	for (int w = 0; w < MAXW; w++) {
		const struct mworker *x = &m->w[w];

		if (!x->live)
			continue;
		snprintf(what, sizeof(what), "VmLck pages of w%d (pid %d)",
			 x->name, x->pid);
		DIFF(buf, n, what, mm_locked(m, w), r->vmlck[w]);
		snprintf(what, sizeof(what),
			 "[vfio-dma-owner] vmas of w%d (pid %d)", x->name,
			 x->pid);
		DIFF(buf, n, what, x->trk, r->trackers[w]);
		if (!x->cap && x->limit >= 0 && r->vmlck[w] > x->limit) {
			n++;
			snprintf(buf + strlen(buf), 1024 - strlen(buf),
				 "%sw%d has %ld pages locked, over its RLIMIT_MEMLOCK of %ld",
				 buf[0] ? "; " : "", x->name, r->vmlck[w],
				 x->limit);
		}
	}
	DIFF(buf, n, "pages pinned (FOLL_PIN)", total_pins(m), r->pins);
	return n;
}

static void check_self(void)
{
	long kb = proc_vmlck_kb(0);
	int t = own_has_tracker(getpid());

	if (kb != 0 || t != 0)
		fail("the coordinator, which maps nothing, has VmLck %ld kB and %d trackers",
		     kb, t);
}

/*
 * Compare the model with the kernel, waiting up to SETTLE_MS for the
 * containers when asynchronous work (an owner's close) may be pending.
 */
static void verify(bool settle)
{
	struct reality r;
	char buf[1024];
	int waited = 0;

	for (;;) {
		buf[0] = 0;
		read_reality(&r);
		if (!compare_containers(&M, &r, buf) || !settle ||
		    waited >= SETTLE_MS)
			break;
		rel_sleep_ms(5);
		waited += 5;
	}
	if (buf[0])
		fail("%s", buf);
	if (compare_processes(&M, &r, buf))
		fail("%s", buf);
	check_self();
}

static void expect(const char *what, long long want, long long got)
{
	if (want != got)
		fail("%s returned %lld (%s), the model expects %lld (%s)", what,
		     got, got < 0 ? strerror(-got) : "ok", want,
		     want < 0 ? strerror(-want) : "ok");
}

/* ---- operations ---- */

static void cmd_init(struct wcmd *cmd, uint32_t op, int c, uint64_t *rs)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->op = op;
	cmd->c = c;
	cmd->thread = rel_below(rs, 2);
}

/* A container, the mdev one only when there is one. */
static int pick_cont(uint64_t *rs)
{
	return res.have_mdev ? (int)rel_below(rs, NCONT) : C_EDU;
}

/* A live worker, the owner of c with probability pct %. */
static int pick_worker(uint64_t *rs, int c, int pct)
{
	if (c >= 0 && M.c[c].owner >= 0 && (int)rel_below(rs, 100) < pct)
		return M.c[c].owner;
	return nth_live(rel_below(rs, nlive()));
}

/* A slot of container c, a mapped one with probability pct % if any. */
static int pick_slot(uint64_t *rs, int c, int pct)
{
	int mapped[NSLOTS], n = 0;

	for (int k = 0; k < NSLOTS; k++)
		if (M.c[c].s[k].mapped)
			mapped[n++] = k;
	if (n && (int)rel_below(rs, 100) < pct)
		return mapped[rel_below(rs, n)];
	return rel_below(rs, NSLOTS);
}

/*
 * A worker that may take over container c (its change of owner would
 * succeed), other than the owner, with probability pct %; else any.
 */
static int pick_taker(uint64_t *rs, int c, int pct)
{
	static struct model t;
	int takers[MAXW], n = 0;

	for (int w = 0; w < MAXW; w++) {
		if (!M.w[w].live || w == M.c[c].owner)
			continue;
		t = M;
		if (model_change(&t, w, c) == 0)
			takers[n++] = w;
	}
	if (n && (int)rel_below(rs, 100) < pct)
		return takers[rel_below(rs, n)];
	return pick_worker(rs, -1, 0);
}

/* A live worker other than the owner of c, if there is one. */
static int pick_other(uint64_t *rs, int c)
{
	int others[MAXW], n = 0;

	for (int w = 0; w < MAXW; w++)
		if (M.w[w].live && w != M.c[c].owner)
			others[n++] = w;
	return n ? others[rel_below(rs, n)] : pick_worker(rs, -1, 0);
}

/* A container with mappings, if any. */
static int pick_busy_cont(uint64_t *rs)
{
	int c = pick_cont(rs);

	if (cont_empty(&M, c) && M.c[!c].present && !cont_empty(&M, !c))
		c = !c;
	return c;
}

static void op_map(uint64_t *rs)
{
	int c = pick_cont(rs), w = pick_worker(rs, c, 70), k = rel_below(rs, NSLOTS);
	bool ro = c == C_EDU && rel_below(rs, 12) == 0;
	struct wcmd cmd;
	struct wreply rep;
	int want;

	cmd_init(&cmd, W_MAP, c, rs);
	cmd.vaddr = ro ? M.w[w].ro[k] : M.w[w].addr[k];
	cmd.iova = slot_iova(k);
	cmd.size = slot_size(k);
	snprintf(op_desc, sizeof(op_desc), "w%d%s maps slot %d%s into %s",
		 M.w[w].name, cmd.thread ? "/t" : "", k, ro ? " read-only" : "",
		 cont_names[c]);
	w_call(w, &cmd, &rep, -1);
	want = model_map(&M, w, c, k, cmd.vaddr, ro);
	say("%s: %d", op_desc, rep.ret);
	expect(op_desc, want, rep.ret);
}

static void op_unmap(uint64_t *rs, bool all)
{
	int c = pick_busy_cont(rs), w = pick_worker(rs, c, 40);
	int k = pick_slot(rs, c, 80);
	bool half = !all && rel_below(rs, 10) == 0;
	struct wcmd cmd;
	struct wreply rep;
	int64_t want;

	cmd_init(&cmd, W_UNMAP, c, rs);
	if (all) {
		cmd.flags = VFIO_DMA_UNMAP_FLAG_ALL;
		snprintf(op_desc, sizeof(op_desc), "w%d%s unmaps all of %s",
			 M.w[w].name, cmd.thread ? "/t" : "", cont_names[c]);
	} else {
		cmd.iova = slot_iova(k);
		cmd.size = half ? slot_size(k) / 2 : slot_size(k);
		snprintf(op_desc, sizeof(op_desc), "w%d%s unmaps %sslot %d of %s",
			 M.w[w].name, cmd.thread ? "/t" : "",
			 half ? "half of " : "", k, cont_names[c]);
	}
	w_call(w, &cmd, &rep, -1);
	want = all ? model_unmap_all(&M, c) : model_unmap(&M, c, k, half);
	say("%s: %lld", op_desc, (long long)rep.val);
	expect(op_desc, want, rep.val);
}

enum stage_kind { S_OWN, S_SIBLING, S_RO, S_ANON, S_OTHER_SLOT, S_HALF, S_KINDS };

static void op_stage(uint64_t *rs)
{
	static const char *const kinds[S_KINDS] = {
		"its own", "another worker's", "a read-only", "an anonymous",
		"another slot's", "its own (half size)",
	};
	int c = pick_busy_cont(rs), w = pick_worker(rs, -1, 0);
	int k = pick_slot(rs, c, 85);
	int kind = rel_below(rs, 10), x = nth_live(rel_below(rs, nlive()));
	struct wcmd cmd;
	struct wreply rep;
	int want;

	kind = kind < 5 ? S_OWN : kind < 7 ? S_SIBLING : kind - 5;
	cmd_init(&cmd, W_STAGE, c, rs);
	cmd.iova = slot_iova(k);
	cmd.size = slot_size(k);
	switch (kind) {
	case S_OWN:
	case S_HALF:
		cmd.vaddr = M.w[w].addr[k];
		break;
	case S_SIBLING:
		cmd.vaddr = M.w[x].addr[k];
		break;
	case S_RO:
		cmd.vaddr = M.w[w].ro[k];
		break;
	case S_ANON:
		cmd.vaddr = M.w[w].anon;
		break;
	case S_OTHER_SLOT:
		cmd.vaddr = M.w[w].addr[(k + 1) % NSLOTS];
		break;
	}
	if (kind == S_HALF)
		cmd.size /= 2;
	snprintf(op_desc, sizeof(op_desc), "w%d%s stages %s vaddr %#llx for slot %d of %s",
		 M.w[w].name, cmd.thread ? "/t" : "", kinds[kind],
		 (unsigned long long)cmd.vaddr, k, cont_names[c]);
	w_call(w, &cmd, &rep, -1);
	want = model_stage(&M, c, k, cmd.vaddr, kind == S_HALF);
	say("%s: %d", op_desc, rep.ret);
	expect(op_desc, want, rep.ret);
}

static void do_change(int w, int c, int thread)
{
	struct wcmd cmd;
	struct wreply rep;
	int want;

	memset(&cmd, 0, sizeof(cmd));
	cmd.op = W_CHANGE;
	cmd.c = c;
	cmd.thread = thread;
	snprintf(op_desc, sizeof(op_desc), "w%d%s changes the owner of %s",
		 M.w[w].name, thread ? "/t" : "", cont_names[c]);
	w_call(w, &cmd, &rep, -1);
	want = model_change(&M, w, c);
	say("%s: %d", op_desc, rep.ret);
	expect(op_desc, want, rep.ret);
}

static void op_change(uint64_t *rs)
{
	int c = pick_busy_cont(rs), w = pick_taker(rs, c, 60);

	do_change(w, c, rel_below(rs, 2));
}

/* Fill buf with bytes from the generator. */
static void fill(uint64_t *rs, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = rel_rand(rs);
}

static void op_mdev(uint64_t *rs)
{
	int w = pick_worker(rs, -1, 0), k = pick_slot(rs, C_MDEV, 85), kind;
	unsigned int first, n, span;
	struct wcmd cmd;
	struct wreply rep;
	uint64_t off;
	int want = 0;
	uint8_t *mem;

	cmd_init(&cmd, W_MDEV, C_MDEV, rs);
	span = slot_pages(k) < 32 ? slot_pages(k) : 32;
	first = rel_below(rs, span);
	n = 1 + rel_below(rs, 4);
	if (first + n > slot_pages(k))
		n = slot_pages(k) - first;
	kind = rel_below(rs, 12);
	if (kind == 0) {
		/* Across the end of the slot: nothing is mapped there. */
		first = slot_pages(k) - 1;
		n = 2;
	}
	off = (uint64_t)first * REL_PAGE + rel_below(rs, REL_PAGE - RW_LEN);
	mem = res.mem[k] + off;
	cmd.iova = slot_iova(k) + (kind >= 8 ? off : (uint64_t)first * REL_PAGE);
	fill(rs, cmd.data, RW_LEN);

	switch (kind) {
	case 0 ... 3:
		cmd.mop = VFIO_TEST_MDEV_PIN;
		cmd.n = n;
		want = model_mdev_pin(&M, k, first, n);
		break;
	case 4 ... 6: {
		/* Unpin a page that is pinned, if slot k has one. */
		struct mslot *s = &M.c[C_MDEV].s[k];

		for (unsigned int p = 0; p < span; p++) {
			unsigned int q = (first + p) % span;

			if (s->pins[q]) {
				first = q;
				break;
			}
		}
		cmd.iova = slot_iova(k) + (uint64_t)first * REL_PAGE;
		cmd.mop = VFIO_TEST_MDEV_UNPIN;
		cmd.n = 1;
		want = model_mdev_unpin(&M, k, first, 1);
		break;
	}
	case 7:
		cmd.mop = VFIO_TEST_MDEV_PIN_COUNT;
		want = mdev_pin_count(&M);
		break;
	case 8 ... 9:
		cmd.mop = VFIO_TEST_MDEV_WRITE;
		cmd.n = RW_LEN;
		want = mdev_range_ok(&M, k, first, 1) ? 0 : -EINVAL;
		break;
	case 10:
		cmd.mop = VFIO_TEST_MDEV_READ;
		cmd.n = RW_LEN;
		memcpy(mem, cmd.data, RW_LEN);
		want = mdev_range_ok(&M, k, first, 1) ? 0 : -EINVAL;
		break;
	case 11:
		cmd.mop = rel_below(rs, 2) ? VFIO_TEST_MDEV_WRITE_PINNED :
					     VFIO_TEST_MDEV_READ_PINNED;
		cmd.n = RW_LEN;
		if (cmd.mop == VFIO_TEST_MDEV_READ_PINNED)
			memcpy(mem, cmd.data, RW_LEN);
		want = M.c[C_MDEV].s[k].mapped && M.c[C_MDEV].s[k].pins[first] ?
		       0 : -ENOENT;
		break;
	}
	snprintf(op_desc, sizeof(op_desc), "w%d%s: mdev op %u on slot %d page %u (%u) iova %#llx",
		 M.w[w].name, cmd.thread ? "/t" : "", cmd.mop, k, first,
		 cmd.n, (unsigned long long)cmd.iova);
	w_call(w, &cmd, &rep, -1);
	say("%s: %d", op_desc, rep.ret);
	expect(op_desc, want, rep.ret);
	if (rep.ret)
		return;
	/* The bytes must be those of the slot's memory, at that offset. */
	if ((cmd.mop == VFIO_TEST_MDEV_WRITE ||
	     cmd.mop == VFIO_TEST_MDEV_WRITE_PINNED) &&
	    memcmp(mem, cmd.data, RW_LEN))
		fail("a write of the device did not land in slot %d at offset %#llx",
		     k, (unsigned long long)off);
	if ((cmd.mop == VFIO_TEST_MDEV_READ ||
	     cmd.mop == VFIO_TEST_MDEV_READ_PINNED) &&
	    memcmp(rep.data, cmd.data, RW_LEN))
		fail("a read of the device did not see slot %d at offset %#llx",
		     k, (unsigned long long)off);
}

static int do_fork(int w, int thread)
{
	int x = free_slot(), sv[2];
	struct wcmd cmd;
	struct wreply rep;

	if (x < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		fail("socketpair: %s", strerror(errno));
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = W_FORK;
	cmd.thread = thread;
	snprintf(op_desc, sizeof(op_desc), "w%d%s forks", M.w[w].name,
		 thread ? "/t" : "");
	w_call(w, &cmd, &rep, sv[1]);
	close(sv[1]);
	if (rep.ret <= 0)
		fail("fork in w%d failed: %s", M.w[w].name, strerror(-rep.ret));
	M.w[x] = M.w[w];	/* same limits, same addresses */
	M.w[x].name = next_name++;
	M.w[x].sock = sv[0];
	M.w[x].trk = M.w[x].armed = 0;	/* the tracker is not copied */
	wait_hello(x);
	if (M.w[x].pid != rep.ret)
		fail("the child of w%d says pid %d, fork said %d", M.w[w].name,
		     M.w[x].pid, rep.ret);
	M.w[x].pidfd = rel_pidfd(M.w[x].pid);
	if (M.w[x].pidfd < 0)
		fail("pidfd_open: %s", strerror(errno));
	say("%s: w%d (pid %d)", op_desc, M.w[x].name, M.w[x].pid);
	return x;
}

static void do_exec(int w, int thread)
{
	struct wcmd cmd;
	struct wreply rep;

	memset(&cmd, 0, sizeof(cmd));
	cmd.op = W_EXEC;
	cmd.thread = thread;
	snprintf(op_desc, sizeof(op_desc), "w%d%s execs", M.w[w].name,
		 thread ? "/t" : "");
	w_call(w, &cmd, &rep, -1);
	if (rep.op != W_HELLO)
		fail("exec in w%d failed: %s", M.w[w].name, strerror(-rep.ret));
	model_mm_gone(&M, w);
	take_hello(w, &rep);
	say("%s: gen %d", op_desc, M.w[w].gen);
}

static void do_exit(int w, int thread)
{
	struct wcmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.op = W_EXIT;
	cmd.thread = thread;
	snprintf(op_desc, sizeof(op_desc), "w%d%s exits", M.w[w].name,
		 thread ? "/t" : "");
	say("%s", op_desc);
	if (w_send(w, &cmd, -1))
		fail("w%d went away", M.w[w].name);
	reap_worker(w);
}

static void do_kill(int w)
{
	snprintf(op_desc, sizeof(op_desc), "w%d is killed", M.w[w].name);
	say("%s", op_desc);
	kill(M.w[w].pid, SIGKILL);
	reap_worker(w);
}

/* SIGKILL after a random delay, in microseconds up to max_us. */
static void kill_later(uint64_t *rs, int w, unsigned int max_us)
{
	unsigned int us = rel_below(rs, max_us);

	if (us > 2000)
		usleep(us);
	else
		rel_spin_ns(us * 1000ULL);
	kill(M.w[w].pid, SIGKILL);
}

static void op_kill_exec(uint64_t *rs)
{
	int w = pick_worker(rs, -1, 0);
	struct wcmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.op = W_EXEC;
	cmd.thread = rel_below(rs, 2);
	snprintf(op_desc, sizeof(op_desc), "w%d%s is killed while it execs",
		 M.w[w].name, cmd.thread ? "/t" : "");
	say("%s", op_desc);
	if (w_send(w, &cmd, -1))
		fail("w%d went away", M.w[w].name);
	kill_later(rs, w, 60000);
	reap_worker(w);
}

/* Would the kernel show the same fdinfo and device pins for a and b? */
static bool observably_equal(const struct model *a, const struct model *b)
{
	struct reality r = {};
	char buf[1024] = "";

	for (int c = 0; c < NCONT; c++) {
		const struct mcont *mc = &b->c[c];

		r.fi[c].owner_tgid = mc->owner >= 0 ? b->w[mc->owner].pid : 0;
		r.fi[c].mappings = cont_count(b, c, false);
		r.fi[c].bytes = cont_bytes(b, c);
		r.fi[c].locked = cont_locked(b, c);
		r.fi[c].staged = cont_count(b, c, true);
		strcpy(r.fi[c].tracker, mc->armed_by >= 0 ? "armed" : "none");
	}
	r.mdev_pins = mdev_pin_count(b);
	return !compare_containers(a, &r, buf);
}

/*
 * A loop of one kind of ioctl in w's second thread, killed at a random
 * time. The states the model allows: the loop's operations applied zero,
 * one, two... times in order, then w's death.
 */
static void op_kill_loop(uint64_t *rs)
{
	int kind = rel_below(rs, L_KINDS), ncand = 0, i, match = -1;
	int c = pick_busy_cont(rs), w, k;
	static struct model cand[24];
	struct reality r;
	struct wcmd cmd;
	struct wreply rep;
	char buf[1024];
	unsigned int page = rel_below(rs, 4);

	if (kind == L_MDEV) {
		if (!res.have_mdev)
			kind = L_STAGE;
		else
			c = C_MDEV;
	}
	switch (kind) {
	case L_MAPUNMAP:
		w = pick_worker(rs, c, 50);
		k = pick_slot(rs, c, 30);
		break;
	case L_CHANGE:
		w = pick_taker(rs, c, 80);
		k = 0;
		break;
	case L_UNMAP_SLOTS:
		w = pick_other(rs, c);
		k = 0;
		break;
	default:
		w = pick_worker(rs, -1, 0);
		k = pick_slot(rs, c, 90);
		break;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = W_LOOP;
	cmd.thread = 1;
	cmd.c = c;
	cmd.loop = kind;
	cmd.vaddr = M.w[w].addr[k];
	/*
	 * Staging over a staged vaddr leaves the same count in fdinfo:
	 * restage the same one, or the model could not tell what happened.
	 */
	if (kind == L_STAGE && M.c[c].s[k].staged)
		cmd.vaddr = M.c[c].s[k].staged_vaddr;
	cmd.iova = slot_iova(k) + (kind == L_MDEV ? page * REL_PAGE : 0);
	cmd.size = slot_size(k);
	snprintf(op_desc, sizeof(op_desc), "w%d is killed in a loop of %s, slot %d of %s",
		 M.w[w].name, loop_names[kind], k, cont_names[c]);

	/* The states the loop may leave, before w's death. */
	cand[ncand++] = M;
	for (i = 0; i < (kind == L_UNMAP_SLOTS ? NSLOTS : 4); i++) {
		struct model *t = &cand[ncand];

		*t = cand[ncand - 1];
		switch (kind) {
		case L_MAPUNMAP:
			if (i % 2 == 0)
				model_map(t, w, c, k, cmd.vaddr, false);
			else
				model_unmap(t, c, k, false);
			break;
		case L_CHANGE:
			model_change(t, w, c);
			break;
		case L_MDEV:
			if (i % 2 == 0)
				model_mdev_pin(t, k, page, 1);
			else
				model_mdev_unpin(t, k, page, 1);
			break;
		case L_STAGE:
			model_stage(t, c, k, cmd.vaddr, false);
			break;
		case L_UNMAP_SLOTS:
			model_unmap(t, c, i, false);
			break;
		}
		ncand++;
	}
	for (i = 0; i < ncand; i++)
		worker_gone(&cand[i], w);
	/* Each state the kernel may show must tell the model all it needs. */
	for (i = 0; i < ncand; i++)
		for (int j = i + 1; j < ncand; j++)
			if (observably_equal(&cand[i], &cand[j]) &&
			    memcmp(cand[i].c, cand[j].c, sizeof(cand[i].c)))
				fail("the states %d and %d after the kill look the same but differ",
				     i, j);

	w_call(w, &cmd, &rep, -1);
	if (rep.ret)
		fail("w%d did not start its loop: %d", M.w[w].name, rep.ret);
	kill_later(rs, w, 30000);
	if (rel_pidfd_wait(M.w[w].pidfd, 30000))
		fail("w%d (pid %d) did not die", M.w[w].name, M.w[w].pid);
	close(M.w[w].sock);
	close(M.w[w].pidfd);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;

	/* Which of them does the kernel show, once the close work ran? */
	for (int waited = 0; match < 0; waited += 5) {
		read_reality(&r);
		for (i = 0; i < ncand && match < 0; i++) {
			buf[0] = 0;
			if (!compare_containers(&cand[i], &r, buf))
				match = i;
		}
		if (match >= 0 || waited >= SETTLE_MS)
			break;
		rel_sleep_ms(5);
	}
	if (match < 0) {
		buf[0] = 0;
		compare_containers(&cand[0], &r, buf);
		fail("after the kill, the containers match none of the %d states the model allows; against the first: %s",
		     ncand, buf);
	}
	M = cand[match];
	kill_outcomes[match > 0]++;
	say("%s: state %d of %d", op_desc, match, ncand);

	buf[0] = 0;
	if (!compare_processes(&M, &r, buf)) {
		check_self();
		return;
	}
	fail("%s", buf);
}

/* A live update: fork; the child takes over; exec; stage; take back; exit. */
static void op_live_update(uint64_t *rs)
{
	int w = -1, x, c, k, thread = rel_below(rs, 2);

	/* Prefer the owner of something. */
	for (c = 0; c < NCONT && w < 0; c++)
		if (M.c[c].present && M.c[c].owner >= 0)
			w = M.c[c].owner;
	if (w < 0)
		w = pick_worker(rs, -1, 0);
	if (free_slot() < 0)
		return;
	say("live update of w%d", M.w[w].name);
	x = do_fork(w, thread);
	verify(false);
	for (c = 0; c < NCONT; c++) {
		if (M.c[c].present && !cont_empty(&M, c)) {
			do_change(x, c, rel_below(rs, 2));
			verify(false);
		}
	}
	do_exec(w, thread);
	verify(true);
	for (c = 0; c < NCONT; c++) {
		if (!M.c[c].present)
			continue;
		for (k = 0; k < NSLOTS; k++) {
			struct wcmd cmd;
			struct wreply rep;
			int want;

			if (!M.c[c].s[k].mapped)
				continue;
			cmd_init(&cmd, W_STAGE, c, rs);
			cmd.vaddr = M.w[w].addr[k];
			cmd.iova = slot_iova(k);
			cmd.size = slot_size(k);
			snprintf(op_desc, sizeof(op_desc),
				 "w%d stages its new vaddr for slot %d of %s",
				 M.w[w].name, k, cont_names[c]);
			w_call(w, &cmd, &rep, -1);
			want = model_stage(&M, c, k, cmd.vaddr, false);
			say("%s: %d", op_desc, rep.ret);
			expect(op_desc, want, rep.ret);
		}
		verify(false);
		if (!cont_empty(&M, c)) {
			do_change(w, c, rel_below(rs, 2));
			verify(false);
		}
	}
	do_exit(x, rel_below(rs, 2));
}

/*
 * edu DMA through the IOMMU: a mapped slot's bytes go to the device and
 * back to another offset of the same slot; a transfer to an unmapped slot
 * must change nothing in its memory.
 */
static void op_dma(uint64_t *rs)
{
	int mapped[NSLOTS], unmapped[NSLOTS], nm = 0, nu = 0, k;
	uint8_t pat[256];
	uint64_t a, b;
	uint32_t len = sizeof(pat);

	for (k = 0; k < NSLOTS; k++) {
		if (M.c[C_EDU].s[k].mapped)
			mapped[nm++] = k;
		else
			unmapped[nu++] = k;
	}
	if (nm) {
		k = mapped[rel_below(rs, nm)];
		a = (uint64_t)rel_below(rs, slot_pages(k) / 2) * REL_PAGE +
		    rel_below(rs, 64) * 8;
		b = (uint64_t)(slot_pages(k) / 2 + rel_below(rs, slot_pages(k) / 2)) *
		    REL_PAGE + rel_below(rs, 64) * 8;
		snprintf(op_desc, sizeof(op_desc), "edu DMA slot %d +%#llx -> device -> +%#llx",
			 k, (unsigned long long)a, (unsigned long long)b);
		say("%s", op_desc);
		fill(rs, pat, len);
		memcpy(res.mem[k] + a, pat, len);
		for (uint32_t i = 0; i < len; i++)
			res.mem[k][b + i] = ~pat[i];
		if (edu_dma_to_device(&res.edu, slot_iova(k) + a, 0, len) ||
		    edu_dma_to_ram(&res.edu, 0, slot_iova(k) + b, len))
			fail("edu DMA did not complete");
		if (memcmp(res.mem[k] + b, pat, len))
			fail("edu DMA through mapped slot %d did not land in its pages", k);
	}
	if (nu && (!nm || rel_below(rs, 3) == 0)) {
		k = unmapped[rel_below(rs, nu)];
		b = (uint64_t)rel_below(rs, slot_pages(k)) * REL_PAGE;
		snprintf(op_desc, sizeof(op_desc), "edu DMA device -> unmapped slot %d +%#llx",
			 k, (unsigned long long)b);
		say("%s", op_desc);
		memset(res.mem[k] + b, 0x5a, len);
		if (edu_dma_to_ram(&res.edu, 0, slot_iova(k) + b, len))
			fail("edu DMA did not complete");
		for (uint32_t i = 0; i < len; i++)
			if (res.mem[k][b + i] != 0x5a)
				fail("edu DMA reached unmapped slot %d", k);
	}
}

static void ownertop_check(void)
{
	char cmd[PATH_MAX + 64], line[512];
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s check 2>&1", opt.ownertop);
	fflush(stdout);
	p = popen(cmd, "r");
	if (!p)
		fail("cannot run %s", opt.ownertop);
	while (fgets(line, sizeof(line), p)) {
		if (opt.verbose ||
		    strncmp(line, "vfio-ownertop: check: pass", 26))
			tap_diag("ownertop: %s", strtok(line, "\n"));
	}
	status = pclose(p);
	ownertop_runs++;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("vfio-ownertop check failed (status %#x)", status);
}

/* One step: draw an operation that fits the state, run it, check. */
static void run_step(void)
{
	uint64_t rs = opt.seed * 0x9e3779b97f4a7c15ULL + step * 0x632be59bd9b4e019ULL;
	static const int weights[OP_KINDS] = {
		[OP_MAP] = 20, [OP_UNMAP] = 8, [OP_UNMAP_ALL] = 1,
		[OP_STAGE] = 10, [OP_CHANGE] = 12, [OP_MDEV] = 14,
		[OP_FORK] = 5, [OP_EXEC] = 4, [OP_EXIT] = 2, [OP_KILL] = 2,
		[OP_KILL_LOOP] = 5, [OP_KILL_EXEC] = 1, [OP_LIVE_UPDATE] = 3,
		[OP_DMA] = 2,
	};
	int total = 0, r, kind, w;
	bool settle = false;

	rel_rand(&rs);
	for (kind = 0; kind < OP_KINDS; kind++)
		total += weights[kind];
	r = rel_below(&rs, total);
	for (kind = 0; r >= weights[kind]; kind++)
		r -= weights[kind];

	/* What does not fit the state becomes something that does. */
	if (nlive() < 2 && (kind == OP_EXIT || kind == OP_KILL ||
			    kind == OP_KILL_LOOP || kind == OP_KILL_EXEC))
		kind = OP_SPAWN;
	if (!opt.kill && (kind == OP_KILL_LOOP || kind == OP_KILL_EXEC))
		kind = OP_KILL;
	if (nlive() == 0)
		kind = OP_SPAWN;
	if ((kind == OP_FORK || kind == OP_LIVE_UPDATE) && free_slot() < 0)
		kind = OP_EXIT;
	if (kind == OP_MDEV && !res.have_mdev)
		kind = OP_MAP;
	counts[kind]++;

	switch (kind) {
	case OP_MAP:
		op_map(&rs);
		break;
	case OP_UNMAP:
	case OP_UNMAP_ALL:
		op_unmap(&rs, kind == OP_UNMAP_ALL);
		break;
	case OP_STAGE:
		op_stage(&rs);
		break;
	case OP_CHANGE:
		op_change(&rs);
		break;
	case OP_MDEV:
		op_mdev(&rs);
		break;
	case OP_FORK:
		do_fork(pick_worker(&rs, -1, 0), rel_below(&rs, 2));
		break;
	case OP_EXEC:
		w = pick_worker(&rs, pick_cont(&rs), 50);
		do_exec(w, rel_below(&rs, 2));
		settle = true;
		break;
	case OP_EXIT:
		w = pick_worker(&rs, -1, 0);
		do_exit(w, rel_below(&rs, 2));
		settle = true;
		break;
	case OP_KILL:
		do_kill(pick_worker(&rs, pick_cont(&rs), 30));
		settle = true;
		break;
	case OP_KILL_LOOP:
		op_kill_loop(&rs);
		return;		/* checked there */
	case OP_KILL_EXEC:
		op_kill_exec(&rs);
		settle = true;
		break;
	case OP_LIVE_UPDATE:
		op_live_update(&rs);
		settle = true;
		break;
	case OP_DMA:
		op_dma(&rs);
		break;
	case OP_SPAWN:
		snprintf(op_desc, sizeof(op_desc), "a new worker");
		w = spawn_worker(rel_below(&rs, sizeof(profiles) /
						sizeof(profiles[0])));
		say("a new worker: w%d (pid %d)", M.w[w].name, M.w[w].pid);
		break;
	}
	verify(settle);
}

/* Set up the containers and the slots, once. */
static void setup(void)
{
	int k, ret;

	ret = vfio_edu_open(&res.edu, 0);
	if (ret) {
		tap_result(true, "SKIP no edu device bound to vfio-pci", "stress");
		tap_plan();
		exit(4);
	}
	res.cont[C_EDU] = res.edu.container;
	res.cont[C_MDEV] = -1;
	if (opt.use_mdev) {
		ret = own_mdev_open(&res.mdev);
		if (ret == 0) {
			res.have_mdev = true;
			res.cont[C_MDEV] = res.mdev.container;
		} else {
			tap_diag("no mediated device (%s): is vfio_test_mdev.ko loaded? Going on with edu only",
				 strerror(-ret));
		}
	}
	for (k = 0; k < NSLOTS; k++) {
		res.mem[k] = memfd_buffer(slot_size(k), &res.memfd[k]);
		if (!res.mem[k]) {
			perror("memfd");
			exit(1);
		}
	}
}

/* One run: workers, steps, teardown. Returns normally only if all held. */
static void run(void)
{
	uint64_t t0 = rel_now_ns();
	char buf[512] = "";
	int c;

	memset(&M, 0, sizeof(M));
	memset(counts, 0, sizeof(counts));
	memset(kill_outcomes, 0, sizeof(kill_outcomes));
	nhistory = 0;
	ownertop_runs = 0;
	for (c = 0; c < NCONT; c++) {
		M.c[c].present = res.cont[c] >= 0;
		M.c[c].pin_at_map = c == C_EDU;
		M.c[c].owner = M.c[c].armed_by = -1;
	}
	pins_base = pinned_pages();
	tap_diag("seed %llu: %ld steps, %d workers at the start, mdev: %s, kills: %s",
		 (unsigned long long)opt.seed, opt.steps, opt.workers,
		 res.have_mdev ? "yes" : "no", opt.kill ? "yes" : "no");

	step = 0;
	for (int i = 0; i < opt.workers && i < MAXW; i++)
		spawn_worker(i % (sizeof(profiles) / sizeof(profiles[0])));
	verify(false);
	for (step = 1; step <= opt.steps; step++) {
		run_step();
		if (opt.check_every && opt.ownertop[0] &&
		    step % opt.check_every == 0)
			ownertop_check();
		if (deadline_ns && rel_now_ns() >= deadline_ns)
			break;
	}
	if (step > opt.steps)
		step = opt.steps;

	/* Everyone goes: nothing may stay mapped, pinned or charged. */
	snprintf(op_desc, sizeof(op_desc), "every worker is killed at the end");
	for (int w = 0; w < MAXW; w++)
		if (M.w[w].live)
			do_kill(w);
	verify(true);
	for (c = 0; c < NCONT; c++)
		if (M.c[c].present)
			vfio_dma_unmap_flags(res.cont[c], 0, 0,
					     VFIO_DMA_UNMAP_FLAG_ALL);
	if (rel_pins_wait(pins_base, 2000) != pins_base)
		fail("pages stay pinned after the run: %lld",
		     pinned_pages() - pins_base);

	for (int kind = 0; kind < OP_KINDS; kind++)
		if (counts[kind])
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
				 " %s %ld", op_names[kind], counts[kind]);
	tap_diag("operations:%s", buf);
	tap_diag("kills in a loop: %ld before any effect, %ld after some",
		 kill_outcomes[0], kill_outcomes[1]);
	tap_diag("vfio-ownertop check: %ld runs; %.1f s", ownertop_runs,
		 (rel_now_ns() - t0) / 1e9);
	tap_result(true, NULL, "seed %llu: the kernel matches the model at every one of %ld steps%s",
		   (unsigned long long)opt.seed, step,
		   step < opt.steps ? " (time up)" : "");
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: stress [options]\n"
"Model-checked random stress of vfio type1 DMA ownership, run in the test VM.\n"
"\n"
"  --seed S          seed of the operations (default: a fresh one, printed)\n"
"  --steps N         operations per run (default %ld)\n"
"  --duration SEC    run with new seeds until SEC seconds have passed\n"
"  --workers N       worker processes at the start, 1 to %d (default %d)\n"
"  --check-every K   run \"vfio-ownertop check\" every K steps (default %d,\n"
"                    0: never)\n"
"  --ownertop PATH   the vfio-ownertop to run (default: the one built\n"
"                    next to this program, build/ownertop/vfio-ownertop)\n"
"  --no-kill         no SIGKILL during operations: the run is then\n"
"                    fully deterministic for its seed\n"
"  --no-mdev         only the edu container\n"
"  -v, --verbose     print every operation\n"
"  -h, --help        this help\n"
"\n"
"On a failure it prints the seed, the step and the command that replays it.\n"
"Load tests/mdev/vfio_test_mdev.ko first for the mediated device part.\n",
		opt.steps, MAXW, opt.workers, opt.check_every);
}

static long parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "stress: bad %s '%s' (%ld to %ld)\n", what, s,
			min, max);
		exit(2);
	}
	return v;
}

/* build/tests/reliability/stress -> build/ownertop/vfio-ownertop */
static void default_ownertop(void)
{
	char exe[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = 0;
	snprintf(opt.ownertop, sizeof(opt.ownertop),
		 "%s/../../ownertop/vfio-ownertop", exe);
	if (access(opt.ownertop, X_OK))
		opt.ownertop[0] = 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "steps", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "check-every", required_argument, NULL, 'k' },
		{ "ownertop", required_argument, NULL, 'o' },
		{ "no-kill", no_argument, NULL, 'K' },
		{ "no-mdev", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "worker", required_argument, NULL, 'W' },
		{}
	};
	bool seeded = false;
	uint64_t start;
	int o, runs = 0;

	opt.self = argv[0];
	default_ownertop();
	while ((o = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (o) {
		case 's':
			opt.seed = parse_num(optarg, "seed", 0, LONG_MAX);
			seeded = true;
			break;
		case 'n':
			opt.steps = parse_num(optarg, "step count", 1, 100000000);
			break;
		case 'd':
			opt.duration = parse_num(optarg, "duration", 1, 1000000);
			break;
		case 'w':
			opt.workers = parse_num(optarg, "worker count", 1, MAXW);
			break;
		case 'k':
			opt.check_every = parse_num(optarg, "check interval", 0,
						    100000000);
			break;
		case 'o':
			snprintf(opt.ownertop, sizeof(opt.ownertop), "%s", optarg);
			if (access(opt.ownertop, X_OK)) {
				fprintf(stderr, "stress: %s: not executable\n", optarg);
				return 2;
			}
			break;
		case 'K':
			opt.kill = false;
			break;
		case 'M':
			opt.use_mdev = false;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'W':
			return worker_exec_main(optarg);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "stress: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/* Orphaned workers come back here to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	tap_header();
	setup();
	if (!opt.ownertop[0] && opt.check_every)
		tap_diag("no vfio-ownertop found: its check is left out");
	if (!seeded)
		opt.seed = rel_fresh_seed();
	start = rel_now_ns();
	if (opt.duration)
		deadline_ns = start + opt.duration * 1000000000ULL;
	do {
		run();
		runs++;
		opt.seed++;
	} while (deadline_ns && rel_now_ns() < deadline_ns);
	if (opt.duration)
		tap_diag("%d runs in %.0f s", runs, (rel_now_ns() - start) / 1e9);
	tap_plan();
	if (res.have_mdev)
		own_mdev_close(&res.mdev);
	vfio_edu_close(&res.edu);
	return 0;
}
