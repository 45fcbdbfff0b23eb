/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trace.h - the BPF side: probe the kernel, load and attach
 * vfio_owner.bpf.c, stream its events, read its maps.
 */
#ifndef OWNERTOP_TRACE_H
#define OWNERTOP_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "model.h"

struct vfio_owner_bpf;
struct ring_buffer;

/* Called for each event, in the order the ring buffer holds them. */
typedef void (*ot_event_fn)(void *ctx, const struct vo_event *e);

struct ot_trace {
	struct vfio_owner_bpf *skel;
	struct ring_buffer *rb;
	const char *probe;	/* "tp_btf" or "tracepoint" once loaded */
	ot_event_fn fn;
	void *ctx;
	uint64_t dropped_seen;	/* dropped_total when last read */
};

#define OT_NR_EVENTS	7	/* events of the vfio_type1 trace system */

/*
 * Which vfio_type1 events the running kernel lacks, as a comma-separated
 * list in @buf ("" when none).  Returns how many are missing; *btf tells
 * whether the kernel's BTF knows all of them (tp_btf can be used).
 */
int ot_missing_events(char *buf, size_t len, bool *btf);

/* Which programs to attach. */
enum ot_attach {
	OT_ATTACH_AUTO,		/* tp_btf when the BTF allows, else tracepoint */
	OT_ATTACH_BTF,		/* tp_btf only */
	OT_ATTACH_TRACEPOINT,	/* classic tracepoints only */
};

/*
 * Open, set the filters, load (with OT_ATTACH_AUTO: tp_btf first when @btf
 * says the kernel's BTF has the events, the tracepoint programs if that
 * fails), attach, and set up the ring buffer.  0 or -errno; on failure
 * everything is released.
 */
int ot_start(struct ot_trace *t, pid_t tgid, uint32_t iommu_id,
	     enum ot_attach how, bool btf, ot_event_fn fn, void *ctx);
void ot_stop(struct ot_trace *t);
int ot_fd(const struct ot_trace *t);		/* epoll fd of the ring */
int ot_consume(struct ot_trace *t);		/* events handled, or -errno */
/*
 * Read the per-tgid map into the model and the dropped counters; returns
 * how many events were dropped since the last call (then the model must
 * be read from fdinfo again).
 */
uint64_t ot_read_maps(struct ot_trace *t, struct model *m);

#endif
