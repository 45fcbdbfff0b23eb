// SPDX-License-Identifier: GPL-2.0
/*
 * vmm - a VMM-like process that live-updates itself while its device keeps
 * doing DMA.
 *
 * It maps memfd-backed "guest RAM" for the edu device through vfio, checks
 * DMA into it, then performs live updates, each one as a VMM would:
 *
 *   1. fork; the child takes ownership of the DMA mappings
 *      (VFIO_CHANGE_DMA_OWNER) and keeps the device doing verified DMA;
 *   2. the parent execs this program again, which maps the memfds it kept
 *      across exec at new addresses, stages each new vaddr
 *      (VFIO_DMA_MAP_FLAG_VADDR) and takes ownership back;
 *   3. the child stops and exits; the new image drives the device again.
 *
 * At the end it unmaps everything and prints a summary.  It exits non-zero
 * if a DMA transfer was not verified, a step failed, or pages stayed pinned.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "owner.h"

#define MiB		(1UL << 20)
#define IOVA_BASE	(1 * MiB)

/* What survives each exec, on the command line. */
struct state {
	int gen;			/* number of updates done */
	int updates;			/* to do in all */
	int nmaps;
	unsigned long map_size;
	long long pins0;		/* pinned pages before mapping */
	long vmlck_mapped;		/* VmLck once mapped, kB */
	unsigned long transfers;	/* DMA transfers verified */
	unsigned long failures;		/* DMA transfers not verified */
	unsigned long long max_change_ns; /* longest VFIO_CHANGE_DMA_OWNER */
	unsigned long long max_update_ns; /* longest fork-to-owner-again */
	unsigned long long update_start; /* CLOCK_MONOTONIC ns, at fork */
	int fds[3];			/* container, group, device */
	int child_stop, child_result;	/* pipes to the child */
	pid_t child;
	int memfd[OWN_MAX_MAPS];
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "vmm: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A round of DMA over every mapping; counts what was verified. */
static void dma_round(struct own_ctx *c, struct state *st)
{
	int i;

	for (i = 0; i < c->nmaps; i++) {
		if (own_dma_check(c, &c->maps[i], c->maps[i].size / 2,
				  (uint8_t)(st->transfers + i)))
			st->failures++;
		else
			st->transfers++;
	}
}

/* The child: owner while the parent execs; DMA until told to stop. */
static void child_run(struct own_ctx *c, struct state *st, int ready,
		      int stop, int result)
{
	struct pollfd pfd = { .fd = stop, .events = POLLIN };
	unsigned long ok = 0, bad = 0;
	char line[64];
	int ret;

	ret = own_change_owner(c->edu.container);
	if (write(ready, ret ? "n" : "y", 1) != 1 || ret)
		_exit(1);
	while (!poll(&pfd, 1, 0)) {
		st->transfers = st->failures = 0;
		dma_round(c, st);
		ok += st->transfers;
		bad += st->failures;
	}
	snprintf(line, sizeof(line), "%lu %lu\n", ok, bad);
	if (write(result, line, strlen(line)) < 0)
		_exit(1);
	_exit(0);
}

static void exec_next(struct own_ctx *c, struct state *st, const char *self)
{
	char args[OWN_MAX_MAPS + 4][128], *argv[OWN_MAX_MAPS + 6];
	int n = 0, i;

#define ARG(...) do {							\
		if (snprintf(args[n], sizeof(args[n]), __VA_ARGS__) >=	\
		    (int)sizeof(args[n])) {				\
			fprintf(stderr, "vmm: argument too long\n");	\
			exit(1);					\
		}							\
		argv[n + 1] = args[n];					\
		n++;							\
	} while (0)
	argv[0] = (char *)self;
	ARG("--resume=%d,%d,%d,%lu,%lld,%ld", st->gen, st->updates, st->nmaps,
	    st->map_size, st->pins0, st->vmlck_mapped);
	ARG("--stats=%lu,%lu,%llu,%llu,%llu", st->transfers, st->failures,
	    st->max_change_ns, st->max_update_ns, st->update_start);
	ARG("--fds=%d,%d,%d,%d,%d,%d", c->edu.container, c->edu.group,
	    c->edu.device, st->child_stop, st->child_result, st->child);
	for (i = 0; i < c->nmaps; i++)
		ARG("--memfd=%d", c->maps[i].memfd);
	argv[n + 1] = NULL;
#undef ARG
	for (i = 0; i < 3; i++)
		fcntl((int[]){ c->edu.container, c->edu.group,
			       c->edu.device }[i], F_SETFD, 0);
	for (i = 0; i < c->nmaps; i++)
		fcntl(c->maps[i].memfd, F_SETFD, 0);
	execv(self, argv);
	die("exec");
}

/* Step 1: fork a child that takes ownership, then exec. */
static void update(struct own_ctx *c, struct state *st, const char *self)
{
	int ready[2], stop[2], result[2];
	char x;

	if (pipe(ready) || pipe(stop) || pipe(result))
		die("pipe");
	st->update_start = now_ns();
	st->child = fork();
	if (st->child < 0)
		die("fork");
	if (!st->child) {
		close(ready[0]);
		close(stop[1]);
		close(result[0]);
		child_run(c, st, ready[1], stop[0], result[1]);
	}
	close(ready[1]);
	close(stop[0]);
	close(result[1]);
	if (read(ready[0], &x, 1) != 1 || x != 'y') {
		fprintf(stderr, "vmm: the child could not take ownership\n");
		exit(1);
	}
	close(ready[0]);
	printf("vmm[%d]: update %d: child %d owns the mappings, exec\n",
	       getpid(), st->gen + 1, st->child);
	fflush(stdout);
	st->child_stop = stop[1];
	st->child_result = result[0];
	exec_next(c, st, self);
}

/* Steps 2 and 3, in the new image. */
static void resume(struct own_ctx *c, struct state *st)
{
	unsigned long long t, change;
	unsigned long ok, bad;
	char line[64] = "";
	int i, status;
	FILE *f;

	if (vfio_edu_adopt(&c->edu, st->fds[0], st->fds[1], st->fds[2]))
		die("adopt the device");
	for (i = 0; i < st->nmaps; i++) {
		struct own_map *m = &c->maps[i];

		m->memfd = st->memfd[i];
		m->iova = IOVA_BASE + i * 2 * st->map_size;
		m->size = st->map_size;
		m->vaddr = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
				MAP_SHARED, m->memfd, 0);
		if (m->vaddr == MAP_FAILED)
			die("mmap a kept memfd");
		if (own_stage(c->edu.container, m->vaddr, m->iova, m->size))
			die("stage a vaddr");
	}
	c->nmaps = st->nmaps;

	change = now_ns();
	if (own_change_owner(c->edu.container))
		die("VFIO_CHANGE_DMA_OWNER");
	change = now_ns() - change;
	if (change > st->max_change_ns)
		st->max_change_ns = change;
	t = now_ns() - st->update_start;
	if (t > st->max_update_ns)
		st->max_update_ns = t;

	/* The child stops driving the device and exits. */
	if (write(st->child_stop, "x", 1) != 1)
		die("stop the child");
	f = fdopen(st->child_result, "r");
	if (!f || !fgets(line, sizeof(line), f) ||
	    sscanf(line, "%lu %lu", &ok, &bad) != 2) {
		fprintf(stderr, "vmm: no result from the child\n");
		exit(1);
	}
	fclose(f);
	close(st->child_stop);
	waitpid(st->child, &status, 0);
	st->transfers += ok;
	st->failures += bad;
	st->gen++;
	printf("vmm[%d]: update %d done: owner again after %.1f ms (change of owner %.2f ms); the child verified %lu transfers meanwhile\n",
	       getpid(), st->gen, t / 1e6, change / 1e6, ok);
	fflush(stdout);
}

static void usage(FILE *out)
{
	fprintf(out,
"Usage: vmm [-u UPDATES] [-m MAPPINGS] [-s MiB]\n"
"  -u, --updates N   live updates to perform (default 3)\n"
"  -m, --maps N      guest RAM mappings (default 4, at most %d)\n"
"  -s, --size MiB    size of each mapping (default 2)\n"
"Needs an edu device bound to vfio-pci (VDO_EDU_BDFS in the test VM).\n",
		OWN_MAX_MAPS);
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "vmm: %s must be a number from %ld to %ld\n",
			what, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "updates", required_argument, NULL, 'u' },
		{ "maps", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "resume", required_argument, NULL, 'R' },
		{ "stats", required_argument, NULL, 'S' },
		{ "fds", required_argument, NULL, 'F' },
		{ "memfd", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct state st = { .updates = 3, .nmaps = 4, .map_size = 2 * MiB };
	static struct own_ctx c;
	int opt, resumed = 0, nmemfd = 0, i;
	long vmlck_end;
	long long left;

	while ((opt = getopt_long(argc, argv, "u:m:s:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			st.updates = parse_num(optarg, 0, 1000, "--updates");
			break;
		case 'm':
			st.nmaps = parse_num(optarg, 1, OWN_MAX_MAPS, "--maps");
			break;
		case 's':
			st.map_size = parse_num(optarg, 1, 64, "--size") * MiB;
			break;
		case 'R':
			resumed = sscanf(optarg, "%d,%d,%d,%lu,%lld,%ld",
					 &st.gen, &st.updates, &st.nmaps,
					 &st.map_size, &st.pins0,
					 &st.vmlck_mapped) == 6;
			break;
		case 'S':
			sscanf(optarg, "%lu,%lu,%llu,%llu,%llu", &st.transfers,
			       &st.failures, &st.max_change_ns,
			       &st.max_update_ns, &st.update_start);
			break;
		case 'F':
			sscanf(optarg, "%d,%d,%d,%d,%d,%d", &st.fds[0],
			       &st.fds[1], &st.fds[2], &st.child_stop,
			       &st.child_result, &st.child);
			break;
		case 'M':
			if (nmemfd < OWN_MAX_MAPS)
				st.memfd[nmemfd++] = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* The guest RAM layout must fit the edu device's 28-bit DMA mask. */
	if (IOVA_BASE + st.nmaps * 2 * st.map_size > EDU_IOVA_LIMIT) {
		fprintf(stderr, "vmm: %d mappings of %lu MiB do not fit below 256 MiB of IOVA\n",
			st.nmaps, st.map_size / MiB);
		return 2;
	}

	if (resumed) {
		resume(&c, &st);
	} else {
		st.pins0 = pinned_pages();
		if (own_open(&c))
			die("open the edu device");
		for (i = 0; i < st.nmaps; i++)
			if (own_add_map(&c, IOVA_BASE + i * 2 * st.map_size,
					st.map_size))
				die("map guest RAM");
		st.vmlck_mapped = proc_vmlck_kb(getpid());
		printf("vmm[%d]: %d mappings of %lu MiB, VmLck %ld kB\n",
		       getpid(), st.nmaps, st.map_size / MiB,
		       st.vmlck_mapped);
		fflush(stdout);
	}

	for (i = 0; i < 8; i++)
		dma_round(&c, &st);
	if (st.gen < st.updates) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			die("readlink /proc/self/exe");
		self[n] = 0;
		update(&c, &st, self);
	}

	/* Done: the summary, then nothing may stay pinned. */
	vmlck_end = proc_vmlck_kb(getpid());
	for (i = 0; i < c.nmaps; i++)
		vfio_dma_unmap(c.edu.container, c.maps[i].iova,
			       c.maps[i].size);
	own_close(&c);
	left = own_wait_pinned(st.pins0, 2000) - st.pins0;
	printf("\nsummary: %d updates, %lu DMA transfers verified, %lu not, longest handoff %.1f ms (change of owner %.2f ms), VmLck %ld kB before and %ld kB after, %lld pages left pinned\n",
	       st.gen, st.transfers, st.failures, st.max_update_ns / 1e6,
	       st.max_change_ns / 1e6, st.vmlck_mapped, vmlck_end, left);
	return st.failures || left || vmlck_end != st.vmlck_mapped ||
	       st.gen != st.updates ? 1 : 0;
}
