// SPDX-License-Identifier: GPL-2.0
/*
 * render.c - formatting helpers shared by the views, and the batch view.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render.h"

const char *om_fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v = bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64, bytes);
		return buf;
	}
	while (v >= 1024 && u < (int)sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	if (v >= 100 || v == (uint64_t)v)
		snprintf(buf, len, "%.0f%c", v, units[u]);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

const char *om_fmt_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

const char *om_fmt_limit(const struct om_task *t, char *buf, size_t len)
{
	if (!t || !t->have_proc || t->proc.gone)
		snprintf(buf, len, "-");
	else if (t->proc.cap_ipc_lock)
		snprintf(buf, len, "cap");
	else if (t->proc.memlock_unlimited)
		snprintf(buf, len, "unlimited");
	else
		om_fmt_bytes(t->proc.memlock_bytes, buf, len);
	return buf;
}

/* A comm from a record, which may fill its array without a NUL. */
static const char *comm(const char *c, char *buf)
{
	memcpy(buf, c, OM_COMM_LEN);
	buf[OM_COMM_LEN - 1] = 0;
	return buf;
}

int om_fmt_event(char *buf, size_t len, const struct vo_event *e)
{
	char c1[OM_COMM_LEN], c2[OM_COMM_LEN], b1[16], b2[16];
	const char *k = om_kind_name(e->kind);

	switch (e->kind) {
	case VO_MAP:
	case VO_UNMAP:
		return snprintf(buf, len,
				"%-14s iommu=%u pid=%d (%s) iova=0x%" PRIx64
				" size=%s pages=%" PRIu64 " nr=%u owner=%d ret=%d",
				k, e->iommu_id, e->tgid, comm(e->comm, c1),
				(uint64_t)e->dma.iova,
				om_fmt_bytes(e->dma.size, b1, sizeof(b1)),
				(uint64_t)e->dma.pages, e->dma.nr,
				e->dma.owner_tgid, e->ret);
	case VO_STAGE_VADDR:
		return snprintf(buf, len,
				"%-14s iommu=%u pid=%d (%s) iova=0x%" PRIx64
				" vaddr=0x%" PRIx64 "->0x%" PRIx64
				" staged=%u/%u ret=%d",
				k, e->iommu_id, e->tgid, comm(e->comm, c1),
				(uint64_t)e->stage.iova,
				(uint64_t)e->stage.old_vaddr,
				(uint64_t)e->stage.new_vaddr, e->stage.staged,
				e->stage.nr_dmas, e->ret);
	case VO_CHANGE_OWNER:
		return snprintf(buf, len,
				"%-14s iommu=%u %s[%d] -> %s[%d] mappings=%u"
				" bytes=%s pages=%" PRIu64 " hold=%s ret=%d",
				k, e->iommu_id, comm(e->change.old_comm, c1),
				e->change.old_tgid,
				comm(e->change.new_comm, c2),
				e->change.new_tgid, e->change.nr_dmas,
				om_fmt_bytes(e->change.bytes, b1, sizeof(b1)),
				(uint64_t)e->change.pages,
				om_fmt_ns(e->change.hold_ns, b2, sizeof(b2)),
				e->ret);
	case VO_LOCKED_VM_MOVE:
		return snprintf(buf, len,
				"%-14s iommu=%u pages=%" PRIu64 " %d:%" PRIu64
				" -> %d:%" PRIu64 " limit=%" PRIu64
				" lock_cap=%u ret=%d",
				k, e->iommu_id, (uint64_t)e->move.pages,
				e->move.old_tgid,
				(uint64_t)e->move.old_locked_vm,
				e->move.new_tgid,
				(uint64_t)e->move.new_locked_vm,
				(uint64_t)e->move.new_limit,
				e->move.lock_cap, e->ret);
	case VO_OWNER_CLOSE:
		return snprintf(buf, len,
				"%-14s iommu=%u owner=%d reason=%s mappings=%u"
				" pages=%" PRIu64,
				k, e->iommu_id, e->close.owner_tgid,
				om_close_reason_name(e->close.reason),
				e->close.nr_dmas, (uint64_t)e->close.pages);
	case VO_PIN_DENIED:
		return snprintf(buf, len,
				"%-14s iommu=%u pid=%d (%s) owner=%d op=%s"
				" ret=%d",
				k, e->iommu_id, e->tgid, comm(e->comm, c1),
				e->denied.owner_tgid,
				om_pin_op_name(e->denied.op), e->ret);
	default:
		return snprintf(buf, len, "kind %u iommu=%u", e->kind,
				e->iommu_id);
	}
}

static void batch_header(FILE *f, const struct model *m,
			 const struct om_env *env)
{
	char ts[32], b1[16], b2[16];
	struct om_totals t;
	time_t now = (time_t)env->wall;
	struct tm tm;
	uint64_t charged = 0;
	size_t i;

	model_totals(m, &t);
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	fprintf(f, "vfio-ownertop - %s %s, kernel %s, interval %" PRIu64
		" (%.2fs), events via %s\n", ts, env->host, env->kernel,
		env->seq, env->interval_s, env->probe ? env->probe : "-");
	fprintf(f, "Containers: %u (%u owned, %u staging, %u handing off,"
		" %u orphaned); mappings: %" PRIu64 "; pinned: %s"
		" (%" PRIu64 " pages)\n",
		t.containers, t.owned, t.states[OM_STAGING],
		t.states[OM_HANDING_OFF], t.states[OM_ORPHANED], t.mappings,
		om_fmt_bytes(t.bytes, b1, sizeof(b1)), t.locked_pages);
	for (i = 0; i < m->ntasks; i++)
		charged += m->tasks[i].vfio_pages;
	fprintf(f, "Owners: %u; locked_vm charged: %s; events: %" PRIu64
		" (+%" PRIu64 "), lost: %" PRIu64 "\n", t.owners,
		om_fmt_bytes(charged * m->page_size, b2, sizeof(b2)),
		m->nevents, model_interval_events(m), m->lost);
	for (i = 0; i < m->ntasks; i++) {
		const struct om_task *tk = &m->tasks[i];

		if (!tk->owned)
			continue;
		fprintf(f, "  owner %d (%s): %" PRIu64 " pages charged,"
			" VmLck %" PRId64 " kB, limit %s\n", tk->tgid,
			tk->comm, tk->vfio_pages, tk->proc.vmlck_kb,
			om_fmt_limit(tk, b1, sizeof(b1)));
	}
}

int render_batch(FILE *f, const struct model *m, const struct om_env *env,
		 int max_rows)
{
	struct om_row *rows = calloc(m->cur.n + 1, sizeof(*rows));
	char b1[16], b2[16], line[256];
	uint64_t seq;
	size_t i, n;

	if (!rows)
		return -1;
	batch_header(f, m, env);
	fprintf(f, "\n%6s %7s %-15s %5s %7s %8s %9s %7s %-11s %9s %8s\n",
		"IOMMU", "OWNER", "COMM", "MAPS", "BYTES", "LOCKED", "LIMIT",
		"STAGED", "STATE", "HANDOFF", "HOLD");
	n = model_rows(m, &env->filter, rows);
	model_sort(rows, n, env->sort, env->descending);
	for (i = 0; i < n && (max_rows <= 0 || (int)i < max_rows); i++) {
		const struct om_container *c = rows[i].c;
		char staged[24], ago[16] = "-", hold[16] = "-";

		snprintf(staged, sizeof(staged), "%u/%u", c->staged,
			 c->mappings);
		if (c->last_handoff.ts_ns) {
			om_fmt_ns(env->now_ns > c->last_handoff.ts_ns ?
				  env->now_ns - c->last_handoff.ts_ns : 0,
				  ago, sizeof(ago));
			om_fmt_ns(c->last_handoff.hold_ns, hold, sizeof(hold));
		}
		fprintf(f, "%6u %7d %-15s %5u %7s %8" PRIu64 " %9s %7s %-11s"
			" %9s %8s\n", c->iommu_id, c->owner_tgid,
			c->owner_comm[0] ? c->owner_comm : "-", c->mappings,
			om_fmt_bytes(c->bytes, b1, sizeof(b1)),
			c->locked_pages,
			om_fmt_limit(rows[i].owner, b2, sizeof(b2)), staged,
			om_state_name(rows[i].state), ago, hold);
	}
	free(rows);

	if (model_interval_events(m)) {
		fprintf(f, "\nEvents:\n");
		for (seq = m->interval_seq; seq < m->nevents; seq++) {
			const struct vo_event *e = model_event(m, seq);

			if (!e)
				continue;
			om_fmt_event(line, sizeof(line), e);
			fprintf(f, "  %12.6f %s\n",
				(double)(e->ts_ns - m->start_ns) / 1e9, line);
		}
	}
	fprintf(f, "\n");
	return fflush(f);
}
