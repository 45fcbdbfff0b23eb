/* SPDX-License-Identifier: GPL-2.0 */
/*
 * model.h - the one state model of vfio-ownertop.
 *
 * Two sources feed it and nothing else writes it: the fdinfo of container
 * files (a full scan at start and at every refresh) and the vfio_type1
 * events streamed by the BPF program.  /proc/PID readings of the processes
 * it names are attached to its task table.  Every view (batch, JSON,
 * Prometheus, curses) and the check only read it.
 *
 * Ordering of the two sources: every vfio_type1 event fires under the
 * container's lock, and fdinfo is printed under that lock too.  A scan
 * records the monotonic time just before and just after reading a
 * container's fdinfo; an event stamped before that bracket is already in
 * what fdinfo showed and changes nothing, an event after it is applied, and
 * an event inside it cannot be placed: the container is marked for resync
 * and read again at the next refresh.
 */
#ifndef OWNERTOP_MODEL_H
#define OWNERTOP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "vfio_owner.h"

#define OM_COMM_LEN	VO_COMM_LEN
#define OM_MAX_HOLDERS	8	/* holders remembered per container */
#define OM_EVENT_RING	4096	/* recent events kept (a power of two) */

/* What a container is doing, as shown in the STATE column. */
enum om_state {
	OM_IDLE,		/* no mappings, or an owner and nothing staged */
	OM_STAGING,		/* some mappings have a new vaddr staged */
	OM_HANDING_OFF,		/* every mapping is staged: a change is due */
	OM_ORPHANED,		/* mappings whose owner is gone or closing */
	OM_STATE_MAX,
};

/* Columns the container table can be sorted by. */
enum om_sort {
	OM_SORT_ID,		/* iommu id */
	OM_SORT_OWNER,		/* owner pid */
	OM_SORT_COMM,		/* owner comm */
	OM_SORT_MAPPINGS,
	OM_SORT_BYTES,
	OM_SORT_LOCKED,		/* locked pages */
	OM_SORT_LIMIT,		/* the owner's RLIMIT_MEMLOCK */
	OM_SORT_STAGED,
	OM_SORT_STATE,
	OM_SORT_HANDOFF,	/* time of the last change of owner */
	OM_SORT_HOLD,		/* how long it held the container lock */
	OM_SORT_MAX,
};

/* One container's state as fdinfo shows it (parsed by source.c). */
struct om_fdinfo {
	char driver[32];	/* "vfio-iommu": the IOMMU driver, or "none" */
	uint32_t iommu_id;	/* 0: no type1 state (no IOMMU set yet) */
	pid_t owner_tgid;	/* 0: no mappings */
	char owner_comm[OM_COMM_LEN];
	uint32_t mappings;
	uint64_t bytes;		/* bytes_mapped */
	uint64_t locked_pages;
	uint32_t staged;	/* staged_vaddrs */
	char tracker[12];	/* owner_tracker: none, armed, closing */
	char extensions[64];
};

/* What /proc/PID says of one process (parsed by source.c). */
struct om_proc {
	bool gone;		/* no such process, or a zombie */
	char comm[OM_COMM_LEN];
	int64_t vmlck_kb;	/* VmLck: mm->locked_vm in kB; -1 unknown */
	uint64_t mlocked_kb;	/* size of its mlock()ed VMAs */
	bool memlock_unlimited;	/* RLIMIT_MEMLOCK soft limit */
	uint64_t memlock_bytes;	/* the soft limit when not unlimited */
	bool cap_ipc_lock;	/* CAP_IPC_LOCK in CapEff */
};

/* The last change of owner of a container. */
struct om_handoff {
	uint64_t ts_ns;		/* when (CLOCK_MONOTONIC); 0: none seen */
	uint64_t hold_ns;	/* how long it held the container's lock */
	uint64_t pages;		/* locked pages it moved */
	pid_t from_tgid;
	pid_t to_tgid;
	char from_comm[OM_COMM_LEN];
	char to_comm[OM_COMM_LEN];
};

struct om_container {
	uint32_t iommu_id;
	pid_t owner_tgid;	/* 0: none */
	char owner_comm[OM_COMM_LEN];
	uint32_t mappings;
	uint64_t bytes;		/* bytes mapped */
	uint64_t locked_pages;	/* pages charged to the owner's mm */
	uint32_t staged;	/* mappings with a staged vaddr */
	char tracker[12];	/* fdinfo owner_tracker; "" unknown */
	char extensions[64];
	int nholders;		/* processes with the container file open */
	pid_t holders[OM_MAX_HOLDERS];
	/* Counted from events since start or the last reset. */
	uint64_t events;
	uint64_t handoffs;	/* changes of owner that succeeded */
	uint64_t failed_handoffs;
	uint64_t pins_denied;
	uint64_t closes;	/* owner trackers closed (exit, exec, munmap) */
	struct om_handoff last_handoff;
	/* Placing events against fdinfo reads (see the top of this file). */
	uint64_t sync_before;
	uint64_t sync_after;
	bool resync;		/* an event could not be placed */
	bool seen;		/* found by the scan under way */
};

/* A process the model names: an owner, a holder, or both. */
struct om_task {
	pid_t tgid;
	char comm[OM_COMM_LEN];
	uint32_t owned;		/* containers it owns */
	uint32_t held;		/* containers it has open */
	uint64_t vfio_pages;	/* locked pages of the containers it owns */
	bool have_proc;		/* proc below was read */
	struct om_proc proc;
	/* From the BPF per-tgid map: since attach. */
	int64_t bpf_pages_delta;
	uint64_t pins_denied;
};

struct om_totals {
	uint32_t containers;
	uint32_t owned;		/* containers with an owner */
	uint32_t owners;	/* distinct owner processes */
	uint64_t mappings;
	uint64_t bytes;
	uint64_t locked_pages;
	uint64_t staged;
	uint64_t handoffs;
	uint32_t states[OM_STATE_MAX];
};

/* The containers at one instant, kept sorted by iommu_id. */
struct om_snapshot {
	uint64_t ts_ns;
	size_t n;
	size_t cap;
	struct om_container *c;
};

struct model {
	struct om_snapshot cur;		/* now */
	struct om_snapshot prev;	/* at the end of the last interval */
	bool have_prev;
	size_t ntasks;
	size_t taskcap;
	struct om_task *tasks;		/* sorted by tgid */
	/* Recent events; ring[seq % OM_EVENT_RING] for the last ones. */
	struct vo_event *ring;
	uint64_t nevents;		/* events seen in all */
	uint64_t interval_seq;		/* first event of this interval */
	uint64_t by_kind[VO_KIND_MAX];	/* events seen, by kind */
	uint64_t lost;			/* events the BPF side could not send */
	uint64_t unplaced;		/* events that needed a resync */
	uint64_t start_ns;
	uint64_t interval_start_ns;
	unsigned int page_size;
};

/* Per-container change since the previous snapshot. */
struct om_delta {
	bool is_new;		/* not in the previous snapshot */
	int64_t mappings;
	int64_t bytes;
	int64_t locked_pages;
	uint64_t events;
	uint64_t handoffs;
};

/* One row of a view: a container, its owner and its delta. */
struct om_row {
	const struct om_container *c;
	const struct om_task *owner;	/* NULL when no owner */
	enum om_state state;
	struct om_delta d;
};

/* Rows kept by model_rows(): a pid, or a comm substring; both optional. */
struct om_filter {
	pid_t pid;		/* owner or holder; 0: any */
	uint32_t iommu_id;	/* 0: any */
	char comm[OM_COMM_LEN];	/* owner's or a holder's comm has it; "" any */
};

int model_init(struct model *m, unsigned int page_size, uint64_t now_ns);
void model_fini(struct model *m);
/* Forget counters, deltas and recent events; keep the containers. */
void model_reset(struct model *m, uint64_t now_ns);

/* A scan: begin, one sync per container file read, end. */
void model_scan_begin(struct model *m);
int model_sync(struct model *m, const struct om_fdinfo *fi, pid_t holder,
	       uint64_t before_ns, uint64_t after_ns);
void model_scan_end(struct model *m, uint64_t now_ns);
/* Whether some container needs its fdinfo read again. */
bool model_needs_resync(const struct model *m);

/* Apply one event; returns the container it names, or NULL. */
const struct om_container *model_apply(struct model *m,
				       const struct vo_event *e);

/* Rebuild the task table from the containers (keeps /proc readings). */
int model_tasks_update(struct model *m);
void model_set_proc(struct model *m, pid_t tgid, const struct om_proc *p);
void model_set_bpf_tgid(struct model *m, pid_t tgid,
			const struct vo_tgid_stats *s);
/*
 * The BPF side could not stream @lost events since it was attached.  Each
 * new loss marks every container for a read of its fdinfo: the state the
 * lost events changed is learnt again there.
 */
void model_set_lost(struct model *m, uint64_t lost);
const struct om_task *model_task(const struct model *m, pid_t tgid);
const struct om_container *model_container(const struct model *m,
					   uint32_t iommu_id);

/* End of an interval: the current snapshot becomes the previous one. */
int model_tick(struct model *m, uint64_t now_ns);

/* Events of the current interval: i in [0, n); NULL when overwritten. */
uint64_t model_interval_events(const struct model *m);
const struct vo_event *model_event(const struct model *m, uint64_t seq);

enum om_state model_state(const struct model *m, const struct om_container *c);
void model_totals(const struct model *m, struct om_totals *t);
void model_delta(const struct model *m, const struct om_container *c,
		 struct om_delta *d);
/* Fill @rows (room for m->cur.n) with the containers @f keeps; returns n. */
size_t model_rows(const struct model *m, const struct om_filter *f,
		  struct om_row *rows);
/* The one sort of every view; ties go by iommu id, ascending. */
void model_sort(struct om_row *rows, size_t n, enum om_sort key,
		bool descending);

/* Names, for views and the command line. */
const char *om_state_name(enum om_state s);
const char *om_sort_name(enum om_sort s);
int om_sort_parse(const char *name);	/* -1 when unknown */
const char *om_kind_name(uint32_t kind);
const char *om_close_reason_name(uint32_t reason);
const char *om_pin_op_name(uint32_t op);

#endif
