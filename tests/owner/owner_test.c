// SPDX-License-Identifier: GPL-2.0
/*
 * The owner of a container's DMA mappings, in the VM on the patched kernel,
 * with the edu device doing real DMA through the emulated IOMMU.
 *
 * Every check of accounting compares with counters the project does not
 * produce: VmLck of /proc/PID/status and the FOLL_PIN counters of
 * /proc/vmstat.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "owner.h"
#include "report.h"

#define MiB		(1UL << 20)
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IOVA_A		(1 * MiB)
#define IOVA_B		(8 * MiB)

/* Run @fn in a child; returns its exit status (0 when @fn returned 0). */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn(arg) ? 1 : 0);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static long kb(size_t bytes)
{
	return bytes / 1024;
}

FIXTURE(own)
{
	struct own_ctx c;
	long pinned0;
	long vmlck0;
};

FIXTURE_SETUP(own)
{
	self->pinned0 = pinned_pages();
	self->vmlck0 = proc_vmlck_kb(getpid());
	ASSERT_EQ(0, own_open(&self->c));
	ASSERT_EQ(0, own_add_map(&self->c, IOVA_A, MiB));
	ASSERT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));
	ASSERT_EQ(self->pinned0 + (long)(MiB / OWN_PAGE),
		  pinned_pages());
	ASSERT_EQ(0, own_dma_check(&self->c, &self->c.maps[0], OWN_PAGE, 1));
}

FIXTURE_TEARDOWN(own)
{
	own_close(&self->c);
	/* Nothing stays pinned once the container is closed. */
	EXPECT_EQ(self->pinned0, own_wait_pinned(self->pinned0, 2000));
}

TEST(extensions)
{
	struct own_ctx c;

	ASSERT_EQ(0, own_open(&c));
	EXPECT_EQ(0, own_check_extension(c.edu.container, VFIO_UPDATE_VADDR));
	EXPECT_EQ(1, own_check_extension(c.edu.container, VFIO_DMA_OWNER));
	/* With no mappings there is no owner and nothing to change. */
	EXPECT_EQ(0, own_change_owner(c.edu.container));
	own_close(&c);
}

TEST_F(own, unmap_vaddr_flag_is_reserved)
{
	EXPECT_EQ(-EINVAL, vfio_dma_unmap_flags(self->c.edu.container, IOVA_A,
						MiB, 1 << 2));
	EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));
	EXPECT_EQ(0, own_dma_check(&self->c, &self->c.maps[0], OWN_PAGE, 2));
}

/* A child of the owner may not pin, whatever its own limit. */
static int child_tries_to_map(void *arg)
{
	struct own_ctx *c = arg;
	int memfd, ret;
	void *buf = memfd_buffer(MiB, &memfd);

	if (!buf)
		return -1;
	ret = vfio_dma_map_flags(c->edu.container, buf, IOVA_B, MiB, RW);
	if (ret != -EPERM)
		return fprintf(stderr, "child map: %d, want -EPERM\n", ret);
	if (proc_vmlck_kb(getpid()) != 0)
		return fprintf(stderr, "child VmLck %ld\n",
			       proc_vmlck_kb(getpid()));
	/* Staging does not pin and is open to any holder. */
	return own_stage(c->edu.container, buf, IOVA_A, MiB);
}

TEST_F(own, only_the_owner_pins)
{
	long pinned = pinned_pages();

	EXPECT_EQ(0, in_child(child_tries_to_map, &self->c));
	EXPECT_EQ(pinned, pinned_pages());
	EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));
	/* The owner still maps. */
	EXPECT_EQ(0, own_add_map(&self->c, IOVA_B, MiB));
	EXPECT_EQ(self->vmlck0 + kb(2 * MiB), proc_vmlck_kb(getpid()));
}

TEST_F(own, fork_and_pin_cannot_exceed_the_limit)
{
	long pinned = pinned_pages();
	int i;

	ASSERT_EQ(0, own_drop_ipc_lock());
	ASSERT_EQ(0, memlock_set(self->vmlck0 * 1024 + 2 * MiB,
				 self->vmlck0 * 1024 + 2 * MiB));
	ASSERT_EQ(0, own_add_map(&self->c, IOVA_B, MiB));
	/* At the limit: the owner cannot map more ... */
	EXPECT_EQ(-ENOMEM, own_add_map(&self->c, 16 * MiB, MiB));
	/* ... and neither can any number of children. */
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, in_child(child_tries_to_map, &self->c));
	EXPECT_EQ(pinned + (long)(MiB / OWN_PAGE), pinned_pages());
	EXPECT_EQ(self->vmlck0 + kb(2 * MiB), proc_vmlck_kb(getpid()));
}

/* Unmapping only releases pages, so any holder may do it. */
static int child_unmaps(void *arg)
{
	struct own_ctx *c = arg;

	return vfio_dma_unmap(c->edu.container, IOVA_A, MiB) != (int64_t)MiB;
}

TEST_F(own, a_child_may_unmap)
{
	EXPECT_EQ(0, in_child(child_unmaps, &self->c));
	EXPECT_EQ(self->vmlck0, proc_vmlck_kb(getpid()));
	EXPECT_EQ(self->pinned0, pinned_pages());
	self->c.nmaps = 0;	/* gone from the container; buffers leak */
}

TEST_F(own, staging_changes_nothing_until_change_owner)
{
	struct own_map *m = &self->c.maps[0];
	int other_fd;
	uint8_t *other = memfd_buffer(MiB, &other_fd);
	void *again;

	ASSERT_NE(NULL, other);
	memset(other, 0x5a, MiB);

	/* Stage a vaddr of other memory: DMA still reaches the old pages. */
	ASSERT_EQ(0, own_stage(self->c.edu.container, other, IOVA_A, MiB));
	EXPECT_EQ(0, own_dma_check(&self->c, m, OWN_PAGE, 3));
	EXPECT_EQ(0x5a, other[OWN_PAGE]);
	EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));

	/* It is not the same memory: the change fails and changes nothing. */
	EXPECT_EQ(-ENXIO, own_change_owner(self->c.edu.container));
	EXPECT_EQ(0, own_dma_check(&self->c, m, OWN_PAGE, 4));
	EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));

	/* Staging again replaces it; a second view of the same memfd is
	 * the same memory, and takes effect.
	 */
	again = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, m->memfd,
		     0);
	ASSERT_NE(MAP_FAILED, again);
	ASSERT_EQ(0, own_stage(self->c.edu.container, again, IOVA_A, MiB));
	EXPECT_EQ(0, own_change_owner(self->c.edu.container));
	EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));
	EXPECT_EQ(0, own_dma_check(&self->c, m, OWN_PAGE, 5));
	/* The old view can go: the mapping now refers to the new one. */
	munmap(m->vaddr, MiB);
	m->vaddr = again;
	EXPECT_EQ(0, own_dma_check(&self->c, m, 2 * OWN_PAGE, 6));
	munmap(other, MiB);
	close(other_fd);
}

/*
 * The seed flow: fork; the child takes ownership; the parent execs its new
 * image, which remaps the memfds, stages and takes ownership back; the child
 * exits.  The test process watches from outside through a report pipe.
 */
struct flow {
	int out;		/* report pipe */
	int go[2];		/* child -> parent: ownership taken */
	int exit[2];		/* new image -> child: exit now */
};

static void flow_child(struct own_ctx *c, struct flow *f)
{
	char x;

	close(f->go[0]);
	close(f->exit[1]);
	report(f->out, "child.change", own_change_owner(c->edu.container));
	report(f->out, "child.vmlck", proc_vmlck_kb(getpid()));
	report(f->out, "child.parent_vmlck", proc_vmlck_kb(getppid()));
	report(f->out, "child.tracker", own_has_tracker(getpid()));
	report(f->out, "child.dma", !own_dma_check(c, &c->maps[1], OWN_PAGE,
						   20));
	if (write(f->go[1], "x", 1) != 1)
		_exit(1);
	if (read(f->exit[0], &x, 1) != 1)
		_exit(1);
	report(f->out, "child.exiting", 1);
	_exit(0);
}

static void flow_parent(const char *exe, struct flow *f)
{
	char *argv[8 + 3 * 2 + 1], num[8 + 3 * 2][32];
	struct own_ctx c;
	pid_t child;
	int i, n = 0;
	char x;

	if (own_open(&c) || own_add_map(&c, IOVA_A, MiB) ||
	    own_add_map(&c, IOVA_B, 2 * MiB))
		_exit(1);
	report(f->out, "parent.vmlck_mapped", proc_vmlck_kb(getpid()));
	report(f->out, "parent.dma", !own_dma_check(&c, &c.maps[0], OWN_PAGE,
						    21));
	/* Everything the new image needs survives exec. */
	fcntl(c.edu.device, F_SETFD, 0);
	fcntl(c.edu.container, F_SETFD, 0);
	fcntl(c.edu.group, F_SETFD, 0);
	for (i = 0; i < c.nmaps; i++)
		fcntl(c.maps[i].memfd, F_SETFD, 0);

	child = fork();
	if (child < 0)
		_exit(1);
	if (!child)
		flow_child(&c, f);
	close(f->go[1]);
	close(f->exit[0]);
	if (read(f->go[0], &x, 1) != 1)
		_exit(1);
	report(f->out, "parent.vmlck_handed", proc_vmlck_kb(getpid()));
	report(f->out, "parent.map_after_handoff",
	       vfio_dma_map_flags(c.edu.container, c.maps[0].vaddr, 64 * MiB, MiB, RW));

#define ARG(fmt, v) do {						\
		snprintf(num[n], sizeof(num[n]), fmt, v);		\
		argv[n + 1] = num[n];					\
		n++;							\
	} while (0)
	argv[0] = (char *)exe;
	ARG("%d", c.edu.container);
	ARG("%d", c.edu.group);
	ARG("%d", c.edu.device);
	ARG("%d", f->out);
	ARG("%d", child);
	ARG("%d", f->exit[1]);
	ARG("%d", c.nmaps);
	for (i = 0; i < c.nmaps; i++) {
		ARG("%d", c.maps[i].memfd);
		ARG("0x%llx", (unsigned long long)c.maps[i].iova);
		ARG("0x%zx", c.maps[i].size);
	}
	argv[n + 1] = NULL;
#undef ARG
	execv(exe, argv);
	report(f->out, "parent.exec_failed", errno);
	_exit(1);
}

static void sibling_path(char *buf, size_t len, const char *name)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	snprintf(strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf,
		 len - (strrchr(buf, '/') ? strrchr(buf, '/') + 1 - buf : 0),
		 "%s", name);
}

TEST(live_update_fork_exec)
{
	long pinned0 = pinned_pages();
	struct report r;
	struct flow f;
	char exe[PATH_MAX];
	int pipefd[2], status;
	pid_t parent;

	sibling_path(exe, sizeof(exe), "owner_exec");
	ASSERT_EQ(0, access(exe, X_OK));
	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe(f.go));
	ASSERT_EQ(0, pipe(f.exit));
	f.out = pipefd[1];

	parent = fork();
	ASSERT_LE(0, parent);
	if (!parent) {
		close(pipefd[0]);
		flow_parent(exe, &f);
	}
	close(pipefd[1]);
	close(f.go[0]);
	close(f.go[1]);
	close(f.exit[0]);
	close(f.exit[1]);
	report_collect(pipefd[0], &r);
	ASSERT_EQ(parent, waitpid(parent, &status, 0));
	for (int i = 0; i < r.n; i++)
		TH_LOG("%s %ld", r.key[i], r.val[i]);
	EXPECT_EQ(0, status);

	/* Before: the parent owns 3 MiB and DMA works. */
	EXPECT_EQ(kb(3 * MiB), report_get(&r, "parent.vmlck_mapped", -1));
	EXPECT_EQ(1, report_get(&r, "parent.dma", -1));
	/* The child takes all of it, and the parent may no longer map. */
	EXPECT_EQ(0, report_get(&r, "child.change", -1));
	EXPECT_EQ(kb(3 * MiB), report_get(&r, "child.vmlck", -1));
	EXPECT_EQ(0, report_get(&r, "child.parent_vmlck", -1));
	EXPECT_EQ(0, report_get(&r, "parent.vmlck_handed", -1));
	EXPECT_EQ(1, report_get(&r, "child.tracker", -1));
	EXPECT_EQ(1, report_get(&r, "child.dma", -1));
	EXPECT_EQ(-EPERM, report_get(&r, "parent.map_after_handoff", -1));
	/* The new image: DMA never stopped; staging changes nothing ... */
	EXPECT_EQ(1, report_get(&r, "exec.started", -1));
	EXPECT_EQ(0, report_get(&r, "exec.vmlck_before", -1));
	EXPECT_EQ(1, report_get(&r, "exec.dma_before_stage", -1));
	EXPECT_EQ(0, report_get(&r, "exec.vmlck_staged", -1));
	EXPECT_EQ(kb(3 * MiB), report_get(&r, "exec.child_vmlck_staged", -1));
	/* ... until the change of owner moves everything at once. */
	EXPECT_EQ(0, report_get(&r, "exec.change", -1));
	EXPECT_EQ(kb(3 * MiB), report_get(&r, "exec.vmlck_after", -1));
	EXPECT_EQ(0, report_get(&r, "exec.child_vmlck_after", -1));
	EXPECT_EQ(1, report_get(&r, "exec.tracker", -1));
	EXPECT_EQ(1, report_get(&r, "exec.dma_after", -1));
	/* The child's exit leaves everything in place. */
	EXPECT_EQ(1, report_get(&r, "child.exiting", -1));
	EXPECT_EQ(0, report_get(&r, "exec.child_status", -1));
	EXPECT_EQ(0, report_get(&r, "exec.pinned_delta_child_exit", -1));
	EXPECT_EQ(1, report_get(&r, "exec.dma_after_child_exit", -1));
	EXPECT_EQ(kb(3 * MiB), report_get(&r, "exec.vmlck_end", -1));
	EXPECT_EQ(1, report_get(&r, "exec.done", -1));
	/* The new image's exit unmapped and unpinned everything. */
	EXPECT_EQ(pinned0, own_wait_pinned(pinned0, 2000));
}

/* Each failing change of owner leaves the old state intact. */
struct change_case {
	unsigned long memlock;	/* 0: keep */
	bool drop_cap;
	bool unmap_b;		/* make mapping B invalid in the child */
	bool stage_a;		/* stage mapping A at its own vaddr */
	int want;
};

struct change_arg {
	struct change_case cc;
	struct own_ctx *c;
};

static int child_changes_owner(void *arg)
{
	struct change_case *cc = &((struct change_arg *)arg)->cc;
	struct own_ctx *c = ((struct change_arg *)arg)->c;
	int ret;

	if (cc->drop_cap && own_drop_ipc_lock())
		return -1;
	if (cc->memlock && memlock_set(cc->memlock, cc->memlock))
		return -1;
	if (cc->unmap_b)
		munmap(c->maps[1].vaddr, c->maps[1].size);
	if (cc->stage_a && own_stage(c->edu.container, c->maps[0].vaddr,
				     c->maps[0].iova, c->maps[0].size))
		return -1;
	ret = own_change_owner(c->edu.container);
	if (ret != cc->want)
		return fprintf(stderr, "change owner: %d, want %d\n", ret,
			       cc->want);
	if (!ret)
		return 0;
	/* Nothing moved: not to this child, not away from the parent. */
	if (proc_vmlck_kb(getpid()) != 0)
		return fprintf(stderr, "child VmLck %ld after failure\n",
			       proc_vmlck_kb(getpid()));
	if (own_has_tracker(getpid()) > 1)
		return fprintf(stderr, "trackers piled up\n");
	return 0;
}

static void check_change_fails(struct __test_metadata *_metadata,
			       FIXTURE_DATA(own) * self, struct change_case cc)
{
	struct change_arg arg = { .cc = cc, .c = &self->c };
	long pinned = pinned_pages();
	long vmlck = proc_vmlck_kb(getpid());

	ASSERT_EQ(0, in_child(child_changes_owner, &arg));
	/* The parent is still the owner: same charge, may map, DMA works. */
	EXPECT_EQ(vmlck, proc_vmlck_kb(getpid()));
	EXPECT_EQ(pinned, pinned_pages());
	EXPECT_EQ(0, own_dma_check(&self->c, &self->c.maps[0], OWN_PAGE, 7));
	EXPECT_EQ(0, own_add_map(&self->c, 32 * MiB, MiB));
	EXPECT_EQ(vmlck + kb(MiB), proc_vmlck_kb(getpid()));
}

TEST_F(own, change_fails_over_the_memlock_limit)
{
	check_change_fails(_metadata, self, (struct change_case){
		.memlock = MiB / 2, .drop_cap = true, .want = -ENOMEM });
}

TEST_F(own, change_fails_when_a_vaddr_is_gone)
{
	ASSERT_EQ(0, own_add_map(&self->c, IOVA_B, MiB));
	check_change_fails(_metadata, self, (struct change_case){
		.unmap_b = true, .want = -ENXIO });
}

TEST_F(own, change_fails_when_staging_is_partial)
{
	ASSERT_EQ(0, own_add_map(&self->c, IOVA_B, MiB));
	check_change_fails(_metadata, self, (struct change_case){
		.unmap_b = true, .stage_a = true, .want = -EINVAL });
}

TEST_F(own, cap_ipc_lock_lifts_the_limit)
{
	struct change_arg arg = {
		.cc = { .memlock = OWN_PAGE, .want = 0 },
		.c = &self->c,
	};

	/* With CAP_IPC_LOCK a child takes over beyond its limit. */
	ASSERT_EQ(0, in_child(child_changes_owner, &arg));
	/* The child exited as owner: everything was unmapped. */
	EXPECT_EQ(self->pinned0, own_wait_pinned(self->pinned0, 2000));
	EXPECT_EQ(self->vmlck0, proc_vmlck_kb(getpid()));
	self->c.nmaps = 0;
}

TEST_F(own, a_private_mapping_cannot_be_handed_over)
{
	void *priv = mmap(NULL, MiB, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, priv);
	memset(priv, 1, MiB);
	ASSERT_EQ(0, vfio_dma_map_flags(self->c.edu.container, priv, IOVA_B, MiB, RW));
	/* The child's copy of private memory is not the pinned memory. */
	check_change_fails(_metadata, self, (struct change_case){
		.want = -ENXIO });
	EXPECT_EQ((int64_t)MiB, vfio_dma_unmap(self->c.edu.container, IOVA_B, MiB));
	munmap(priv, MiB);
}

TEST_F(own, cap_ipc_lock_is_per_mapping)
{
	/* Mapped with CAP_IPC_LOCK beyond the limit ... */
	ASSERT_EQ(0, memlock_set(self->vmlck0 * 1024 + MiB / 2,
				 self->vmlck0 * 1024 + MiB / 2));
	ASSERT_EQ(0, own_add_map(&self->c, IOVA_B, MiB));
	/* ... but not without it. */
	ASSERT_EQ(0, own_drop_ipc_lock());
	EXPECT_EQ(-ENOMEM, own_add_map(&self->c, 16 * MiB, MiB));
	EXPECT_EQ(self->vmlck0 + kb(2 * MiB), proc_vmlck_kb(getpid()));
	/* The mapping made with the capability unmaps and uncharges. */
	EXPECT_EQ((int64_t)MiB, vfio_dma_unmap(self->c.edu.container, IOVA_B,
						  MiB));
	EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));
}

/*
 * The owner's end unmaps everything, though other processes (here the test)
 * still hold the container.  The fixture's mapping is unmapped first, so
 * that the child's first mapping makes it the owner.
 */
static pid_t child_becomes_owner(struct own_ctx *c, const char *then)
{
	int memfd, go[2];
	void *buf;
	char x;
	pid_t pid;

	if (vfio_dma_unmap(c->edu.container, IOVA_A, MiB) != (int64_t)MiB ||
	    pipe(go))
		return -1;
	pid = fork();
	if (pid)
		goto out;
	buf = memfd_buffer(MiB, &memfd);
	if (!buf || vfio_dma_map_flags(c->edu.container, buf, IOVA_B, MiB, RW) ||
	    own_has_tracker(getpid()) != 1)
		_exit(1);
	if (write(go[1], "x", 1) != 1)
		_exit(1);
	if (then)
		execl(then, then, "5", NULL);
	_exit(0);
out:
	close(go[1]);
	if (pid > 0 && read(go[0], &x, 1) != 1)
		pid = -1;
	close(go[0]);
	return pid;
}

TEST_F(own, owner_exit_unmaps_though_others_hold_the_container)
{
	pid_t pid;
	int status;

	self->c.nmaps = 0;
	pid = child_becomes_owner(&self->c, NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	EXPECT_EQ(self->pinned0, own_wait_pinned(self->pinned0, 2000));
	/* No mappings, no owner: the test may map again. */
	EXPECT_EQ(0, own_add_map(&self->c, IOVA_A, MiB));
	EXPECT_EQ(0, own_dma_check(&self->c, &self->c.maps[0], OWN_PAGE, 12));
}

TEST_F(own, owner_exec_unmaps)
{
	pid_t pid;
	int status;

	self->c.nmaps = 0;
	pid = child_becomes_owner(&self->c, "/bin/sleep");
	ASSERT_LT(0, pid);
	/* While the new image still runs, and holds the container. */
	EXPECT_EQ(self->pinned0, own_wait_pinned(self->pinned0, 2000));
	EXPECT_EQ(0, kill(pid, 0));
	EXPECT_EQ(0, proc_vmlck_kb(pid));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

TEST_F(own, unmapping_the_tracker_releases_the_mappings)
{
	char line[512];
	unsigned long start = 0, end;
	FILE *maps = fopen("/proc/self/maps", "r");

	ASSERT_NE(NULL, maps);
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, "[vfio-dma-owner]"))
			sscanf(line, "%lx-%lx", &start, &end);
	fclose(maps);
	ASSERT_NE(0UL, start);
	EXPECT_EQ(OWN_PAGE, end - start);
	/* It can be neither moved nor used. */
	EXPECT_EQ(MAP_FAILED, mremap((void *)start, OWN_PAGE, OWN_PAGE,
				     MREMAP_MAYMOVE | MREMAP_FIXED,
				     (void *)(start + 64 * MiB)));
	EXPECT_NE(0, mprotect((void *)start, OWN_PAGE, PROT_READ));
	ASSERT_EQ(0, munmap((void *)start, OWN_PAGE));
	/* The close work unpins, then uncharges: wait for both. */
	EXPECT_EQ(self->pinned0, own_wait_pinned(self->pinned0, 2000));
	EXPECT_EQ(self->vmlck0, own_wait_vmlck(getpid(), self->vmlck0, 2000));
	/* The container is empty and has no owner: mapping works again. */
	EXPECT_EQ(0, own_add_map(&self->c, IOVA_B, MiB));
	EXPECT_EQ(1, own_has_tracker(getpid()));
}

static int child_exits(void *arg)
{
	(void)arg;
	return 0;
}

TEST_F(own, a_non_owner_exit_changes_nothing)
{
	long pinned = pinned_pages();

	EXPECT_EQ(0, in_child(child_exits, NULL));
	usleep(100000);
	EXPECT_EQ(pinned, pinned_pages());
	EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));
	EXPECT_EQ(0, own_dma_check(&self->c, &self->c.maps[0], OWN_PAGE, 8));
}

static int child_takes_and_gives_back(void *arg)
{
	struct own_ctx *c = arg;

	return own_change_owner(c->edu.container) || proc_vmlck_kb(getpid()) != 1024;
}

TEST_F(own, ownership_goes_back_and_forth_without_piling_up_vmas)
{
	int i;

	for (i = 0; i < 5; i++) {
		/* A child takes over, then exits while it owns the
		 * mappings, which unmaps them: so hand back first.
		 */
		pid_t pid;
		int go[2], status;
		char x;

		ASSERT_EQ(0, pipe(go));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(go[0]);
			if (child_takes_and_gives_back(&self->c))
				_exit(1);
			if (write(go[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		close(go[1]);
		ASSERT_EQ(1, read(go[0], &x, 1));
		close(go[0]);
		EXPECT_EQ(self->vmlck0, proc_vmlck_kb(getpid()));
		EXPECT_EQ(-EPERM, vfio_dma_map_flags(self->c.edu.container,
					      self->c.maps[0].vaddr, IOVA_B,
					      MiB, RW));
		EXPECT_EQ(0, own_change_owner(self->c.edu.container));
		EXPECT_EQ(self->vmlck0 + kb(MiB), proc_vmlck_kb(getpid()));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	EXPECT_EQ(1, own_has_tracker(getpid()));
	EXPECT_EQ(0, own_dma_check(&self->c, &self->c.maps[0], OWN_PAGE, 9));
}

/* Every malformed staging request fails with its errno and stages nothing. */
struct bad_stage {
	const char *what;
	uint32_t argsz_delta;	/* subtracted from sizeof */
	uint32_t flags;
	long vaddr_off;
	uint64_t iova;
	uint64_t size;
	int want;
};

TEST_F(own, malformed_staging_is_rejected)
{
	struct own_map *m = &self->c.maps[0];
	const struct bad_stage cases[] = {
		{ "argsz too small", 24, VFIO_DMA_MAP_FLAG_VADDR, 0, IOVA_A,
		  MiB, -EINVAL },
		{ "unknown flag", 0, VFIO_DMA_MAP_FLAG_VADDR | (1 << 3), 0,
		  IOVA_A, MiB, -EINVAL },
		{ "vaddr with READ", 0, VFIO_DMA_MAP_FLAG_VADDR |
		  VFIO_DMA_MAP_FLAG_READ, 0, IOVA_A, MiB, -EINVAL },
		{ "vaddr with WRITE", 0, VFIO_DMA_MAP_FLAG_VADDR |
		  VFIO_DMA_MAP_FLAG_WRITE, 0, IOVA_A, MiB, -EINVAL },
		{ "misaligned vaddr", 0, VFIO_DMA_MAP_FLAG_VADDR, 1, IOVA_A,
		  MiB, -EINVAL },
		{ "misaligned iova", 0, VFIO_DMA_MAP_FLAG_VADDR, 0,
		  IOVA_A + 1, MiB, -EINVAL },
		{ "misaligned size", 0, VFIO_DMA_MAP_FLAG_VADDR, 0, IOVA_A,
		  MiB - 1, -EINVAL },
		{ "zero size", 0, VFIO_DMA_MAP_FLAG_VADDR, 0, IOVA_A, 0,
		  -EINVAL },
		{ "wrapping iova", 0, VFIO_DMA_MAP_FLAG_VADDR, 0,
		  -(uint64_t)OWN_PAGE, 2 * OWN_PAGE, -EINVAL },
		{ "no mapping there", 0, VFIO_DMA_MAP_FLAG_VADDR, 0,
		  128 * MiB, MiB, -ENOENT },
		{ "part of a mapping", 0, VFIO_DMA_MAP_FLAG_VADDR, 0,
		  IOVA_A, MiB / 2, -EINVAL },
		{ "inside a mapping", 0, VFIO_DMA_MAP_FLAG_VADDR, 0,
		  IOVA_A + OWN_PAGE, OWN_PAGE, -EINVAL },
		{ "overlapping two mappings", 0, VFIO_DMA_MAP_FLAG_VADDR, 0,
		  IOVA_A, 2 * MiB, -EINVAL },
	};
	unsigned int i;

	/* A second mapping right after the first */
	ASSERT_EQ(0, own_add_map(&self->c, IOVA_A + MiB, MiB));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_stage *bc = &cases[i];
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map) - bc->argsz_delta,
			.flags = bc->flags,
			.vaddr = (uintptr_t)m->vaddr + bc->vaddr_off,
			.iova = bc->iova,
			.size = bc->size,
		};
		int ret = ioctl(self->c.edu.container, VFIO_IOMMU_MAP_DMA, &map);

		EXPECT_EQ(bc->want, ret ? -errno : 0) {
			TH_LOG("case '%s'", bc->what);
		}
	}
	/* Nothing was staged: the owner's own change of owner is a no-op. */
	EXPECT_EQ(0, own_change_owner(self->c.edu.container));
	EXPECT_EQ(self->vmlck0 + kb(2 * MiB), proc_vmlck_kb(getpid()));
	EXPECT_EQ(0, own_dma_check(&self->c, m, OWN_PAGE, 10));
	/* The map path keeps its own checks. */
	EXPECT_EQ(-EINVAL, vfio_dma_map_flags(self->c.edu.container, m->vaddr, IOVA_B,
				       MiB, 0));
	EXPECT_EQ(-EEXIST, vfio_dma_map_flags(self->c.edu.container, m->vaddr, IOVA_A,
				       MiB, RW));
}

TEST_HARNESS_MAIN
