// SPDX-License-Identifier: GPL-2.0
/*
 * render_json.c - one JSON object per interval, on one line.
 *
 * The schema is described in vfio-ownertop(8) and README.md; "version"
 * changes when a field changes meaning or goes away.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

#define OM_JSON_VERSION	1

/* A JSON string; bytes outside printable ASCII become \u00XX. */
static void jstr(FILE *f, const char *s, size_t max)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < max && s[i]; i++) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void jcomm(FILE *f, const char *key, const char *comm)
{
	fprintf(f, "\"%s\":", key);
	jstr(f, comm, OM_COMM_LEN);
}

static void json_event(FILE *f, uint64_t seq, const struct vo_event *e)
{
	fprintf(f, "{\"seq\":%" PRIu64 ",\"ts_ns\":%" PRIu64
		",\"kind\":\"%s\",\"iommu_id\":%u,\"tgid\":%d,", seq,
		(uint64_t)e->ts_ns, om_kind_name(e->kind), e->iommu_id,
		e->tgid);
	jcomm(f, "comm", e->comm);
	fprintf(f, ",\"ret\":%d", e->ret);
	switch (e->kind) {
	case VO_MAP:
	case VO_UNMAP:
		fprintf(f, ",\"owner_tgid\":%d,\"nr\":%u,\"iova\":%" PRIu64
			",\"size\":%" PRIu64 ",\"vaddr\":%" PRIu64
			",\"pages\":%" PRIu64, e->dma.owner_tgid, e->dma.nr,
			(uint64_t)e->dma.iova, (uint64_t)e->dma.size,
			(uint64_t)e->dma.vaddr, (uint64_t)e->dma.pages);
		break;
	case VO_STAGE_VADDR:
		fprintf(f, ",\"staged\":%u,\"nr_dmas\":%u,\"iova\":%" PRIu64
			",\"size\":%" PRIu64 ",\"old_vaddr\":%" PRIu64
			",\"new_vaddr\":%" PRIu64, e->stage.staged,
			e->stage.nr_dmas, (uint64_t)e->stage.iova,
			(uint64_t)e->stage.size, (uint64_t)e->stage.old_vaddr,
			(uint64_t)e->stage.new_vaddr);
		break;
	case VO_CHANGE_OWNER:
		fprintf(f, ",\"old_tgid\":%d,", e->change.old_tgid);
		jcomm(f, "old_comm", e->change.old_comm);
		fprintf(f, ",\"new_tgid\":%d,", e->change.new_tgid);
		jcomm(f, "new_comm", e->change.new_comm);
		fprintf(f, ",\"nr_dmas\":%u,\"bytes\":%" PRIu64
			",\"pages\":%" PRIu64 ",\"hold_ns\":%" PRIu64,
			e->change.nr_dmas, (uint64_t)e->change.bytes,
			(uint64_t)e->change.pages,
			(uint64_t)e->change.hold_ns);
		break;
	case VO_LOCKED_VM_MOVE:
		fprintf(f, ",\"old_tgid\":%d,\"new_tgid\":%d,\"pages\":%" PRIu64
			",\"old_locked_vm\":%" PRIu64 ",\"new_locked_vm\":%"
			PRIu64 ",\"new_limit\":%" PRIu64 ",\"lock_cap\":%s",
			e->move.old_tgid, e->move.new_tgid,
			(uint64_t)e->move.pages,
			(uint64_t)e->move.old_locked_vm,
			(uint64_t)e->move.new_locked_vm,
			(uint64_t)e->move.new_limit,
			e->move.lock_cap ? "true" : "false");
		break;
	case VO_OWNER_CLOSE:
		fprintf(f, ",\"owner_tgid\":%d,\"reason\":\"%s\",\"nr_dmas\":%u"
			",\"pages\":%" PRIu64, e->close.owner_tgid,
			om_close_reason_name(e->close.reason),
			e->close.nr_dmas, (uint64_t)e->close.pages);
		break;
	case VO_PIN_DENIED:
		fprintf(f, ",\"owner_tgid\":%d,\"op\":\"%s\"",
			e->denied.owner_tgid, om_pin_op_name(e->denied.op));
		break;
	default:
		break;
	}
	fputc('}', f);
}

/* The limit in bytes, or null when none applies (unlimited, the cap). */
static void json_limit(FILE *f, const struct om_task *t)
{
	if (!t || !t->have_proc || t->proc.gone ||
	    t->proc.memlock_unlimited)
		fprintf(f, "null");
	else
		fprintf(f, "%" PRIu64, t->proc.memlock_bytes);
}

static void json_container(FILE *f, const struct om_env *env,
			   const struct om_row *r)
{
	const struct om_container *c = r->c;
	const struct om_handoff *h = &c->last_handoff;
	int i;

	fprintf(f, "{\"iommu_id\":%u,\"owner_tgid\":%d,", c->iommu_id,
		c->owner_tgid);
	jcomm(f, "owner_comm", c->owner_comm);
	fprintf(f, ",\"mappings\":%u,\"bytes_mapped\":%" PRIu64
		",\"locked_pages\":%" PRIu64 ",\"staged_vaddrs\":%u"
		",\"state\":\"%s\",\"tracker\":", c->mappings, c->bytes,
		c->locked_pages, c->staged, om_state_name(r->state));
	jstr(f, c->tracker, sizeof(c->tracker));
	fprintf(f, ",\"memlock_limit\":");
	json_limit(f, r->owner);
	fprintf(f, ",\"cap_ipc_lock\":%s,\"holders\":[",
		r->owner && r->owner->proc.cap_ipc_lock ? "true" : "false");
	for (i = 0; i < c->nholders; i++)
		fprintf(f, "%s%d", i ? "," : "", c->holders[i]);
	fprintf(f, "],\"events\":%" PRIu64 ",\"handoffs\":%" PRIu64
		",\"failed_handoffs\":%" PRIu64 ",\"pins_denied\":%" PRIu64
		",\"closes\":%" PRIu64 ",\"last_handoff\":", c->events,
		c->handoffs, c->failed_handoffs, c->pins_denied, c->closes);
	if (!h->ts_ns) {
		fprintf(f, "null");
	} else {
		fprintf(f, "{\"from_tgid\":%d,", h->from_tgid);
		jcomm(f, "from_comm", h->from_comm);
		fprintf(f, ",\"to_tgid\":%d,", h->to_tgid);
		jcomm(f, "to_comm", h->to_comm);
		fprintf(f, ",\"pages\":%" PRIu64 ",\"hold_ns\":%" PRIu64
			",\"age_s\":%.6f}", h->pages, h->hold_ns,
			env->now_ns > h->ts_ns ?
			(double)(env->now_ns - h->ts_ns) / 1e9 : 0.0);
	}
	fprintf(f, ",\"delta\":{\"new\":%s,\"mappings\":%" PRId64
		",\"bytes_mapped\":%" PRId64 ",\"locked_pages\":%" PRId64
		",\"events\":%" PRIu64 ",\"handoffs\":%" PRIu64 "}}",
		r->d.is_new ? "true" : "false", r->d.mappings, r->d.bytes,
		r->d.locked_pages, r->d.events, r->d.handoffs);
}

static void json_process(FILE *f, const struct om_task *t)
{
	fprintf(f, "{\"tgid\":%d,", t->tgid);
	jcomm(f, "comm", t->comm);
	fprintf(f, ",\"owned\":%u,\"held\":%u,\"vfio_locked_pages\":%" PRIu64
		",\"gone\":%s,\"vmlck_kb\":", t->owned, t->held,
		t->vfio_pages,
		t->have_proc && t->proc.gone ? "true" : "false");
	if (t->have_proc && t->proc.vmlck_kb >= 0)
		fprintf(f, "%" PRId64, t->proc.vmlck_kb);
	else
		fprintf(f, "null");
	fprintf(f, ",\"mlocked_kb\":%" PRIu64 ",\"memlock_limit\":",
		t->have_proc ? t->proc.mlocked_kb : 0);
	json_limit(f, t);
	fprintf(f, ",\"cap_ipc_lock\":%s,\"bpf_pages_delta\":%" PRId64
		",\"pins_denied\":%" PRIu64 "}",
		t->have_proc && t->proc.cap_ipc_lock ? "true" : "false",
		t->bpf_pages_delta, t->pins_denied);
}

int render_json(FILE *f, const struct model *m, const struct om_env *env)
{
	struct om_row *rows = calloc(m->cur.n + 1, sizeof(*rows));
	uint64_t seq, missed = 0;
	struct om_totals t;
	bool first;
	size_t i, n;
	int k;

	if (!rows)
		return -1;
	model_totals(m, &t);
	n = model_rows(m, &env->filter, rows);
	model_sort(rows, n, env->sort, env->descending);

	fprintf(f, "{\"version\":%d,\"seq\":%" PRIu64 ",\"time\":%.3f"
		",\"interval_s\":%.3f,\"host\":", OM_JSON_VERSION, env->seq,
		env->wall, env->interval_s);
	jstr(f, env->host, sizeof(env->host));
	fprintf(f, ",\"kernel\":");
	jstr(f, env->kernel, sizeof(env->kernel));
	fprintf(f, ",\"probe\":");
	jstr(f, env->probe ? env->probe : "", 16);
	fprintf(f, ",\"totals\":{\"containers\":%u,\"owned\":%u"
		",\"owners\":%u,\"mappings\":%" PRIu64 ",\"bytes_mapped\":%"
		PRIu64 ",\"locked_pages\":%" PRIu64 ",\"staged_vaddrs\":%"
		PRIu64 ",\"handoffs\":%" PRIu64 ",\"states\":{",
		t.containers, t.owned, t.owners, t.mappings, t.bytes,
		t.locked_pages, t.staged, t.handoffs);
	for (k = 0; k < OM_STATE_MAX; k++)
		fprintf(f, "%s\"%s\":%u", k ? "," : "", om_state_name(k),
			t.states[k]);
	fprintf(f, "},\"events\":%" PRIu64 ",\"events_total\":%" PRIu64
		",\"lost_events\":%" PRIu64 ",\"by_kind\":{",
		model_interval_events(m), m->nevents, m->lost);
	for (k = 1; k < VO_KIND_MAX; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k > 1 ? "," : "",
			om_kind_name(k), m->by_kind[k]);
	fprintf(f, "}},\"containers\":[");
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_container(f, env, &rows[i]);
	}
	fprintf(f, "],\"processes\":[");
	for (i = 0, first = true; i < m->ntasks; i++) {
		if (!first)
			fputc(',', f);
		json_process(f, &m->tasks[i]);
		first = false;
	}
	fprintf(f, "],\"events\":[");
	for (seq = m->interval_seq, first = true; seq < m->nevents; seq++) {
		const struct vo_event *e = model_event(m, seq);

		if (!e) {
			missed++;
			continue;
		}
		if (!first)
			fputc(',', f);
		json_event(f, seq, e);
		first = false;
	}
	fprintf(f, "],\"events_missed\":%" PRIu64 "}\n", missed);
	free(rows);
	return fflush(f);
}
