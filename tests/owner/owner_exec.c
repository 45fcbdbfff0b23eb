// SPDX-License-Identifier: GPL-2.0
/*
 * owner_exec - the new image of a live-updated process.
 *
 * Started by exec from the owner test with the descriptors it kept across
 * exec.  It maps each preserved memfd again at a new address, stages the new
 * vaddrs, takes ownership back from the child that held it during the exec,
 * checks DMA before and after, lets the child exit, and reports what it saw
 * as "key value" lines on the report pipe.
 *
 * Usage: owner_exec CONTAINER GROUP DEVICE REPORT CHILD_PID CHILD_EXIT_FD
 *                   NMAPS (MEMFD IOVA SIZE)...
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "owner.h"
#include "report.h"

int main(int argc, char **argv)
{
	int container, group, device, out, child_exit, nmaps, i, status;
	long pinned, total_kb = 0;
	struct own_ctx c;
	pid_t child;

	if (argc < 8) {
		fprintf(stderr, "usage: see the header of owner_exec.c\n");
		return 2;
	}
	container = atoi(argv[1]);
	group = atoi(argv[2]);
	device = atoi(argv[3]);
	out = atoi(argv[4]);
	child = atoi(argv[5]);
	child_exit = atoi(argv[6]);
	nmaps = atoi(argv[7]);
	if (nmaps < 1 || nmaps > OWN_MAX_MAPS || argc != 8 + 3 * nmaps)
		return 2;

	report(out, "exec.started", 1);
	report(out, "exec.vmlck_before", proc_vmlck_kb(getpid()));
	memset(&c, 0, sizeof(c));
	if (vfio_edu_adopt(&c.edu, container, group, device)) {
		report(out, "exec.adopt_failed", 1);
		return 1;
	}

	for (i = 0; i < nmaps; i++) {
		struct own_map *m = &c.maps[i];

		m->memfd = atoi(argv[8 + 3 * i]);
		m->iova = strtoull(argv[9 + 3 * i], NULL, 0);
		m->size = strtoull(argv[10 + 3 * i], NULL, 0);
		m->vaddr = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
				MAP_SHARED, m->memfd, 0);
		if (m->vaddr == MAP_FAILED)
			return 1;
		total_kb += m->size / 1024;
	}
	c.nmaps = nmaps;

	/* DMA keeps working through the exec, before any vaddr is staged. */
	report(out, "exec.dma_before_stage", !own_dma_check(&c, &c.maps[0],
							     OWN_PAGE, 11));

	for (i = 0; i < nmaps; i++)
		report(out, "exec.stage", own_stage(container, c.maps[i].vaddr,
						    c.maps[i].iova,
						    c.maps[i].size));
	/* Staging alone changes nothing. */
	report(out, "exec.vmlck_staged", proc_vmlck_kb(getpid()));
	report(out, "exec.child_vmlck_staged", proc_vmlck_kb(child));

	report(out, "exec.change", own_change_owner(container));
	report(out, "exec.vmlck_after", proc_vmlck_kb(getpid()));
	report(out, "exec.vmlck_expected", total_kb);
	report(out, "exec.child_vmlck_after", proc_vmlck_kb(child));
	report(out, "exec.tracker", own_has_tracker(getpid()));
	for (i = 0; i < nmaps; i++)
		report(out, "exec.dma_after",
		       !own_dma_check(&c, &c.maps[i], 2 * OWN_PAGE, 40 + i));

	/* The child's exit leaves the mappings alone: it no longer owns them. */
	pinned = pinned_pages();
	if (write(child_exit, "x", 1) != 1)
		return 1;
	waitpid(child, &status, 0);
	report(out, "exec.child_status", status);
	report(out, "exec.pinned_delta_child_exit",
	       own_wait_pinned(pinned, 200) - pinned);
	report(out, "exec.dma_after_child_exit",
	       !own_dma_check(&c, &c.maps[0], 3 * OWN_PAGE, 99));
	report(out, "exec.vmlck_end", proc_vmlck_kb(getpid()));
	report(out, "exec.done", 1);
	return 0;
}
