/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * vfio_owner.h - the contract between vfio_owner.bpf.c and user space.
 *
 * The BPF program follows the vfio_type1 trace system of the patched kernel
 * (include/trace/events/vfio_type1.h) and streams one struct vo_event per
 * tracepoint hit through a ring buffer.  Next to the stream it keeps two
 * hash maps: struct vo_container_stats by iommu_id and struct vo_tgid_stats
 * by thread group id.  Both count what happened since the program was
 * attached; the absolute state of a container comes from its fdinfo.
 *
 * Every struct is made of fixed-width fields laid out without holes, so
 * that BPF, the tool and the unit tests agree on it byte for byte.
 */
#ifndef VFIO_OWNER_H
#define VFIO_OWNER_H

#define VO_COMM_LEN	16	/* TASK_COMM_LEN */

/* Entries in the hash maps; the ring buffer size in bytes. */
#define VO_MAX_CONTAINERS	1024
#define VO_MAX_TGIDS		4096
#define VO_RINGBUF_BYTES	(256 * 1024)

/* What a struct vo_event reports: one kind per vfio_type1 event. */
enum vo_kind {
	VO_MAP = 1,		/* vfio_type1_map */
	VO_UNMAP,		/* vfio_type1_unmap */
	VO_STAGE_VADDR,		/* vfio_type1_stage_vaddr */
	VO_CHANGE_OWNER,	/* vfio_type1_change_owner */
	VO_LOCKED_VM_MOVE,	/* vfio_type1_locked_vm_move */
	VO_OWNER_CLOSE,		/* vfio_type1_owner_close */
	VO_PIN_DENIED,		/* vfio_type1_pin_denied */
	VO_KIND_MAX,		/* one past the last kind */
};

/* Why the owner's tracker closed (vfio_type1_owner_close "reason"). */
enum vo_close_reason {
	VO_CLOSE_EXIT = 0,	/* the owner exited */
	VO_CLOSE_EXEC = 1,	/* the owner called exec */
	VO_CLOSE_MUNMAP = 2,	/* the owner unmapped its tracker */
};

/* Which operation a non-owner tried (vfio_type1_pin_denied "op"). */
enum vo_pin_op {
	VO_PIN_MAP = 0,		/* VFIO_IOMMU_MAP_DMA */
	VO_PIN_ATTACH = 1,	/* adding a group, which replays the mappings */
};

/* VO_MAP and VO_UNMAP. */
struct vo_dma_args {
	__s32 owner_tgid;	/* owner after the call; 0: no mappings left */
	__u32 nr;		/* mappings created (0 or 1) or removed */
	__u64 iova;		/* first IOVA of the request */
	__u64 size;		/* map: bytes asked for; unmap: bytes removed */
	__u64 vaddr;		/* map: the user address; unmap: 0 */
	__u64 pages;		/* pages charged (map) or uncharged (unmap) */
};

/* VO_STAGE_VADDR. */
struct vo_stage_args {
	__u32 staged;		/* mappings with a staged vaddr after the call */
	__u32 nr_dmas;		/* mappings in the container */
	__u64 iova;		/* the mapping's IOVA */
	__u64 size;		/* and its size in bytes */
	__u64 old_vaddr;	/* its current vaddr; 0 when not found */
	__u64 new_vaddr;	/* the vaddr staged for it */
};

/* VO_CHANGE_OWNER. */
struct vo_change_args {
	__s32 old_tgid;		/* owner before the call; 0: there was none */
	__s32 new_tgid;		/* the caller, owner after a success */
	__u32 nr_dmas;		/* mappings in the container after the call */
	__u32 pad;		/* zero */
	__u64 bytes;		/* bytes those mappings map */
	__u64 pages;		/* locked pages moved between the two mms */
	__u64 hold_ns;		/* time the call held the container's lock */
	char old_comm[VO_COMM_LEN];	/* comm of the old owner */
	char new_comm[VO_COMM_LEN];	/* comm of the caller */
};

/* VO_LOCKED_VM_MOVE: all counts in pages. */
struct vo_move_args {
	__s32 old_tgid;		/* the mm that gives the locked memory */
	__s32 new_tgid;		/* the mm that takes it */
	__u64 pages;		/* pages moved, or that could not be */
	__u64 old_locked_vm;	/* locked_vm of the old mm afterwards */
	__u64 new_locked_vm;	/* locked_vm of the new mm afterwards */
	__u64 new_limit;	/* RLIMIT_MEMLOCK of the new owner */
	__u32 lock_cap;		/* 1: the new owner has CAP_IPC_LOCK */
	__u32 pad;		/* zero */
};

/* VO_OWNER_CLOSE. */
struct vo_close_args {
	__s32 owner_tgid;	/* the owner whose tracker closed */
	__u32 reason;		/* enum vo_close_reason */
	__u32 nr_dmas;		/* mappings unmapped */
	__u32 pad;		/* zero */
	__u64 pages;		/* locked pages released */
};

/* VO_PIN_DENIED. */
struct vo_denied_args {
	__s32 owner_tgid;	/* the owner that kept its mappings */
	__u32 op;		/* enum vo_pin_op */
};

/* One ring buffer record: one tracepoint hit. */
struct vo_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 kind;		/* enum vo_kind: which member of the union */
	__u32 iommu_id;		/* the container, as fdinfo "iommu_id" */
	__s32 tgid;		/* the caller; for VO_OWNER_CLOSE the owner */
	__s32 ret;		/* 0, or the -errno the operation failed with */
	char comm[VO_COMM_LEN];	/* comm of the caller; "" for VO_OWNER_CLOSE,
				 * which a kernel worker reports */
	union {
		struct vo_dma_args dma;		/* VO_MAP, VO_UNMAP */
		struct vo_stage_args stage;	/* VO_STAGE_VADDR */
		struct vo_change_args change;	/* VO_CHANGE_OWNER */
		struct vo_move_args move;	/* VO_LOCKED_VM_MOVE */
		struct vo_close_args close;	/* VO_OWNER_CLOSE */
		struct vo_denied_args denied;	/* VO_PIN_DENIED */
	};
};

/* Per-container state, map "containers", keyed by __u32 iommu_id. */
struct vo_container_stats {
	__u64 events[VO_KIND_MAX];	/* events seen, indexed by kind */
	__u64 dropped;		/* events lost: the ring buffer was full */
	__s64 pages_delta;	/* pages charged minus released since attach */
	__u64 handoffs;		/* changes of owner that succeeded */
	__u64 last_handoff_ns;	/* ts_ns of the last one; 0: none */
	__u64 last_hold_ns;	/* how long it held the container's lock */
	__u64 max_hold_ns;	/* the longest hold of a change of owner */
	__s32 owner_tgid;	/* owner named by the last event; 0: none */
	__u32 staged;		/* staged vaddrs as of the last event */
};

/*
 * Per-mm state, map "tgids", keyed by __u32 thread group id: the locked
 * pages vfio charged to that process' mm since attach, all in pages.
 */
struct vo_tgid_stats {
	__s64 pages_delta;	/* charged minus uncharged */
	__u64 charged;		/* by its maps, and changes of owner to it */
	__u64 uncharged;	/* by unmaps, closes and changes away from it */
	__u64 pins_denied;	/* its attempts to pin that were refused */
	__u64 locked_vm;	/* mm->locked_vm after the last move naming it */
	__u64 memlock_limit;	/* its RLIMIT_MEMLOCK as of a move to it */
};

#endif /* VFIO_OWNER_H */
