// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_owner.bpf.c - follow the owner of vfio type1 DMA mappings.
 *
 * Attaches to the seven events of the vfio_type1 trace system, streams each
 * hit to user space as a struct vo_event and keeps per-container and
 * per-process counters (see vfio_owner.h).
 *
 * Each event has two programs: a tp_btf one, which gets the TP_PROTO
 * arguments directly, and a classic tracepoint one, which reads the
 * trace_event_raw_vfio_type1_* record.  User space loads one set, chosen
 * with bpf_program__set_autoload(): tp_btf when the kernel supports it,
 * the tracepoint set otherwise.  Both go through the same on_*() helper.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "vfio_owner.h"

/* Filters set by user space before load; 0 means "any". */
const volatile pid_t targ_tgid = 0;	/* a process named by the event */
const volatile __u32 targ_iommu_id = 0;	/* one container */

/* Events that did not fit in the ring buffer, all containers together. */
__u64 dropped_total = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VO_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VO_MAX_CONTAINERS);
	__type(key, __u32);
	__type(value, struct vo_container_stats);
} containers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VO_MAX_TGIDS);
	__type(key, __u32);
	__type(value, struct vo_tgid_stats);
} tgids SEC(".maps");

/* Whether an event on @iommu_id naming processes @a and @b passes. */
static __always_inline bool wanted(__u32 iommu_id, pid_t a, pid_t b)
{
	if (targ_iommu_id && targ_iommu_id != iommu_id)
		return false;
	if (targ_tgid && targ_tgid != a && targ_tgid != b)
		return false;
	return true;
}

static __always_inline void *lookup_or_init(void *map, __u32 key,
					    const void *zero)
{
	void *val = bpf_map_lookup_elem(map, &key);

	if (val)
		return val;
	/* -EEXIST: another CPU created it first, which is as good. */
	bpf_map_update_elem(map, &key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, &key);
}

static __always_inline struct vo_container_stats *container(__u32 iommu_id)
{
	static const struct vo_container_stats zero;

	return lookup_or_init(&containers, iommu_id, &zero);
}

static __always_inline struct vo_tgid_stats *tgid_stats(pid_t tgid)
{
	static const struct vo_tgid_stats zero;

	if (tgid <= 0)
		return NULL;
	return lookup_or_init(&tgids, tgid, &zero);
}

static __always_inline void charge(pid_t tgid, __u64 pages)
{
	struct vo_tgid_stats *ts = tgid_stats(tgid);

	if (!ts || !pages)
		return;
	__sync_fetch_and_add(&ts->pages_delta, (__s64)pages);
	__sync_fetch_and_add(&ts->charged, pages);
}

static __always_inline void uncharge(pid_t tgid, __u64 pages)
{
	struct vo_tgid_stats *ts = tgid_stats(tgid);

	if (!ts || !pages)
		return;
	__sync_fetch_and_add(&ts->pages_delta, -(__s64)pages);
	__sync_fetch_and_add(&ts->uncharged, pages);
}

/*
 * Count the event on its container and reserve its record, with the
 * common header filled.  NULL when the ring buffer is full: the loss is
 * counted where user space looks for it.
 */
static __always_inline struct vo_event *
reserve(struct vo_container_stats *cs, __u32 kind, __u32 iommu_id,
	pid_t tgid, int ret)
{
	struct vo_event *e;

	if (cs && kind < VO_KIND_MAX)
		__sync_fetch_and_add(&cs->events[kind], 1);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (cs)
			__sync_fetch_and_add(&cs->dropped, 1);
		__sync_fetch_and_add(&dropped_total, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->iommu_id = iommu_id;
	e->tgid = tgid;
	e->ret = ret;
	return e;
}

/*
 * Maps, unmaps and stagings come by the thousand when a VMM starts or hands
 * its mappings over: waking the reader for each would cost more than the
 * event itself.  They are submitted without a wakeup, user space drains the
 * ring at each refresh, and only a ring filled past a quarter wakes it
 * early.  The rare events (owner changes, closes, denied pins) wake it as
 * soon as they happen.
 */
static __always_inline void submit_bulk(struct vo_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	    VO_RINGBUF_BYTES / 4)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/*
 * A plain submit wakes the reader only when the ring was empty before the
 * record: with bulk records waiting unread it would not, so force it.
 */
static __always_inline void submit_now(struct vo_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static __always_inline int on_dma(__u32 kind, __u32 iommu_id, pid_t tgid,
				  pid_t owner_tgid, __u64 iova, __u64 size,
				  __u64 vaddr, __u64 pages, __u32 nr, int ret)
{
	struct vo_container_stats *cs;
	struct vo_event *e;

	if (!wanted(iommu_id, tgid, owner_tgid))
		return 0;

	cs = container(iommu_id);
	if (kind == VO_MAP && !ret) {
		charge(tgid, pages);
		if (cs) {
			__sync_fetch_and_add(&cs->pages_delta, (__s64)pages);
			cs->owner_tgid = owner_tgid;
		}
	} else if (kind == VO_UNMAP) {
		/* A failed unmap may still have removed some: pages says. */
		uncharge(owner_tgid, pages);
		if (cs)
			__sync_fetch_and_add(&cs->pages_delta, -(__s64)pages);
	}

	e = reserve(cs, kind, iommu_id, tgid, ret);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->dma.owner_tgid = owner_tgid;
	e->dma.nr = nr;
	e->dma.iova = iova;
	e->dma.size = size;
	e->dma.vaddr = vaddr;
	e->dma.pages = pages;
	submit_bulk(e);
	return 0;
}

static __always_inline int on_stage(__u32 iommu_id, pid_t tgid, __u64 iova,
				    __u64 size, __u64 old_vaddr,
				    __u64 new_vaddr, __u32 staged,
				    __u32 nr_dmas, int ret)
{
	struct vo_container_stats *cs;
	struct vo_event *e;

	if (!wanted(iommu_id, tgid, 0))
		return 0;

	cs = container(iommu_id);
	if (cs)
		cs->staged = staged;

	e = reserve(cs, VO_STAGE_VADDR, iommu_id, tgid, ret);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->stage.staged = staged;
	e->stage.nr_dmas = nr_dmas;
	e->stage.iova = iova;
	e->stage.size = size;
	e->stage.old_vaddr = old_vaddr;
	e->stage.new_vaddr = new_vaddr;
	submit_bulk(e);
	return 0;
}

/*
 * The comms come as kernel strings (tp_btf) or as arrays inside the trace
 * record (tracepoint): either way they are read with a helper.
 */
static __always_inline int on_change(__u32 iommu_id, pid_t old_tgid,
				     const void *old_comm, pid_t new_tgid,
				     const void *new_comm, __u32 nr_dmas,
				     __u64 bytes, __u64 pages, __u64 hold_ns,
				     int ret)
{
	struct vo_container_stats *cs;
	struct vo_event *e;

	if (!wanted(iommu_id, old_tgid, new_tgid))
		return 0;

	cs = container(iommu_id);
	if (cs && !ret && nr_dmas) {
		__sync_fetch_and_add(&cs->handoffs, 1);
		cs->owner_tgid = new_tgid;
		cs->staged = 0;
		cs->last_handoff_ns = bpf_ktime_get_ns();
		cs->last_hold_ns = hold_ns;
		if (hold_ns > cs->max_hold_ns)
			cs->max_hold_ns = hold_ns;
	}

	e = reserve(cs, VO_CHANGE_OWNER, iommu_id, new_tgid, ret);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->change.old_tgid = old_tgid;
	e->change.new_tgid = new_tgid;
	e->change.nr_dmas = nr_dmas;
	e->change.bytes = bytes;
	e->change.pages = pages;
	e->change.hold_ns = hold_ns;
	bpf_probe_read_kernel_str(e->change.old_comm,
				  sizeof(e->change.old_comm), old_comm);
	bpf_probe_read_kernel_str(e->change.new_comm,
				  sizeof(e->change.new_comm), new_comm);
	submit_now(e);
	return 0;
}

static __always_inline int on_move(__u32 iommu_id, pid_t old_tgid,
				   pid_t new_tgid, __u64 pages,
				   __u64 old_locked_vm, __u64 new_locked_vm,
				   __u64 new_limit, bool lock_cap, int ret)
{
	struct vo_container_stats *cs;
	struct vo_tgid_stats *ts;
	struct vo_event *e;

	if (!wanted(iommu_id, old_tgid, new_tgid))
		return 0;

	cs = container(iommu_id);
	if (!ret) {
		uncharge(old_tgid, pages);
		charge(new_tgid, pages);
		ts = tgid_stats(old_tgid);
		if (ts)
			ts->locked_vm = old_locked_vm;
	}
	ts = tgid_stats(new_tgid);
	if (ts) {
		ts->locked_vm = new_locked_vm;
		ts->memlock_limit = new_limit;
	}

	e = reserve(cs, VO_LOCKED_VM_MOVE, iommu_id, new_tgid, ret);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->move.old_tgid = old_tgid;
	e->move.new_tgid = new_tgid;
	e->move.pages = pages;
	e->move.old_locked_vm = old_locked_vm;
	e->move.new_locked_vm = new_locked_vm;
	e->move.new_limit = new_limit;
	e->move.lock_cap = lock_cap;
	submit_now(e);
	return 0;
}

static __always_inline int on_close(__u32 iommu_id, pid_t owner_tgid,
				    int reason, __u32 nr_dmas, __u64 pages)
{
	struct vo_container_stats *cs;
	struct vo_event *e;

	if (!wanted(iommu_id, owner_tgid, 0))
		return 0;

	cs = container(iommu_id);
	uncharge(owner_tgid, pages);
	if (cs) {
		__sync_fetch_and_add(&cs->pages_delta, -(__s64)pages);
		cs->owner_tgid = 0;
		cs->staged = 0;
	}

	/* A kernel worker reports it: its comm would mislead, leave "". */
	e = reserve(cs, VO_OWNER_CLOSE, iommu_id, owner_tgid, 0);
	if (!e)
		return 0;
	e->close.owner_tgid = owner_tgid;
	e->close.reason = reason;
	e->close.nr_dmas = nr_dmas;
	e->close.pages = pages;
	submit_now(e);
	return 0;
}

static __always_inline int on_denied(__u32 iommu_id, pid_t tgid,
				     pid_t owner_tgid, int op, int ret)
{
	struct vo_container_stats *cs;
	struct vo_tgid_stats *ts;
	struct vo_event *e;

	if (!wanted(iommu_id, tgid, owner_tgid))
		return 0;

	cs = container(iommu_id);
	ts = tgid_stats(tgid);
	if (ts)
		__sync_fetch_and_add(&ts->pins_denied, 1);

	e = reserve(cs, VO_PIN_DENIED, iommu_id, tgid, ret);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->denied.owner_tgid = owner_tgid;
	e->denied.op = op;
	submit_now(e);
	return 0;
}

/* tp_btf: the arguments of TP_PROTO, typed by the kernel's BTF. */

SEC("tp_btf/vfio_type1_map")
int BPF_PROG(btf_map, u32 iommu_id, pid_t tgid, pid_t owner_tgid, u64 iova,
	     u64 size, u64 vaddr, u64 pages, u32 nr, int ret)
{
	return on_dma(VO_MAP, iommu_id, tgid, owner_tgid, iova, size, vaddr,
		      pages, nr, ret);
}

SEC("tp_btf/vfio_type1_unmap")
int BPF_PROG(btf_unmap, u32 iommu_id, pid_t tgid, pid_t owner_tgid, u64 iova,
	     u64 size, u64 vaddr, u64 pages, u32 nr, int ret)
{
	return on_dma(VO_UNMAP, iommu_id, tgid, owner_tgid, iova, size, vaddr,
		      pages, nr, ret);
}

SEC("tp_btf/vfio_type1_stage_vaddr")
int BPF_PROG(btf_stage_vaddr, u32 iommu_id, pid_t tgid, u64 iova, u64 size,
	     u64 old_vaddr, u64 new_vaddr, u32 staged, u32 nr_dmas, int ret)
{
	return on_stage(iommu_id, tgid, iova, size, old_vaddr, new_vaddr,
			staged, nr_dmas, ret);
}

SEC("tp_btf/vfio_type1_change_owner")
int BPF_PROG(btf_change_owner, u32 iommu_id, pid_t old_tgid,
	     const char *old_comm, pid_t new_tgid, const char *new_comm,
	     u32 nr_dmas, u64 bytes, u64 pages, u64 hold_ns, int ret)
{
	return on_change(iommu_id, old_tgid, old_comm, new_tgid, new_comm,
			 nr_dmas, bytes, pages, hold_ns, ret);
}

SEC("tp_btf/vfio_type1_locked_vm_move")
int BPF_PROG(btf_locked_vm_move, u32 iommu_id, pid_t old_tgid,
	     pid_t new_tgid, u64 pages, u64 old_locked_vm, u64 new_locked_vm,
	     u64 new_limit, bool lock_cap, int ret)
{
	return on_move(iommu_id, old_tgid, new_tgid, pages, old_locked_vm,
		       new_locked_vm, new_limit, lock_cap, ret);
}

SEC("tp_btf/vfio_type1_owner_close")
int BPF_PROG(btf_owner_close, u32 iommu_id, pid_t owner_tgid, int reason,
	     u32 nr_dmas, u64 pages)
{
	return on_close(iommu_id, owner_tgid, reason, nr_dmas, pages);
}

SEC("tp_btf/vfio_type1_pin_denied")
int BPF_PROG(btf_pin_denied, u32 iommu_id, pid_t tgid, pid_t owner_tgid,
	     int op, int ret)
{
	return on_denied(iommu_id, tgid, owner_tgid, op, ret);
}

/* tracepoint: the trace record, its layout relocated by CO-RE. */

SEC("tracepoint/vfio_type1/vfio_type1_map")
int tp_map(struct trace_event_raw_vfio_type1_dma *ctx)
{
	return on_dma(VO_MAP, ctx->iommu_id, ctx->tgid, ctx->owner_tgid,
		      ctx->iova, ctx->size, ctx->vaddr, ctx->pages, ctx->nr,
		      ctx->ret);
}

SEC("tracepoint/vfio_type1/vfio_type1_unmap")
int tp_unmap(struct trace_event_raw_vfio_type1_dma *ctx)
{
	return on_dma(VO_UNMAP, ctx->iommu_id, ctx->tgid, ctx->owner_tgid,
		      ctx->iova, ctx->size, ctx->vaddr, ctx->pages, ctx->nr,
		      ctx->ret);
}

SEC("tracepoint/vfio_type1/vfio_type1_stage_vaddr")
int tp_stage_vaddr(struct trace_event_raw_vfio_type1_stage_vaddr *ctx)
{
	return on_stage(ctx->iommu_id, ctx->tgid, ctx->iova, ctx->size,
			ctx->old_vaddr, ctx->new_vaddr, ctx->staged,
			ctx->nr_dmas, ctx->ret);
}

SEC("tracepoint/vfio_type1/vfio_type1_change_owner")
int tp_change_owner(struct trace_event_raw_vfio_type1_change_owner *ctx)
{
	return on_change(ctx->iommu_id, ctx->old_tgid, ctx->old_comm,
			 ctx->new_tgid, ctx->new_comm, ctx->nr_dmas,
			 ctx->bytes, ctx->pages, ctx->hold_ns, ctx->ret);
}

SEC("tracepoint/vfio_type1/vfio_type1_locked_vm_move")
int tp_locked_vm_move(struct trace_event_raw_vfio_type1_locked_vm_move *ctx)
{
	return on_move(ctx->iommu_id, ctx->old_tgid, ctx->new_tgid,
		       ctx->pages, ctx->old_locked_vm, ctx->new_locked_vm,
		       ctx->new_limit, ctx->lock_cap, ctx->ret);
}

SEC("tracepoint/vfio_type1/vfio_type1_owner_close")
int tp_owner_close(struct trace_event_raw_vfio_type1_owner_close *ctx)
{
	return on_close(ctx->iommu_id, ctx->owner_tgid, ctx->reason,
			ctx->nr_dmas, ctx->pages);
}

SEC("tracepoint/vfio_type1/vfio_type1_pin_denied")
int tp_pin_denied(struct trace_event_raw_vfio_type1_pin_denied *ctx)
{
	return on_denied(ctx->iommu_id, ctx->tgid, ctx->owner_tgid, ctx->op,
			 ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
