// SPDX-License-Identifier: GPL-2.0
/*
 * judge.c - the rules of "vfio-ownertop check".
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "judge.h"

static bool holds(const struct om_container *c, pid_t pid)
{
	int h;

	for (h = 0; h < c->nholders; h++)
		if (c->holders[h] == pid)
			return true;
	return false;
}

/* Whether container @c is in the scope of a check of @pid (0: all). */
static bool in_scope(const struct om_container *c, pid_t pid)
{
	return !pid || c->owner_tgid == pid || holds(c, pid);
}

/* Whether task @t is: @pid itself, or the owner of a container in scope. */
static bool task_in_scope(const struct model *m, const struct om_task *t,
			  pid_t pid)
{
	size_t i;

	if (!pid || t->tgid == pid)
		return true;
	for (i = 0; i < m->cur.n; i++)
		if (m->cur.c[i].owner_tgid == t->tgid &&
		    in_scope(&m->cur.c[i], pid))
			return true;
	return false;
}

/* "container 3" or "containers 3, 5": what @tgid owns (or holds). */
static void ids_of(const struct model *m, pid_t tgid, bool owned, char *buf,
		   size_t len)
{
	size_t i, off = 0;
	int n = 0;

	buf[0] = 0;
	for (i = 0; i < m->cur.n && off < len; i++) {
		const struct om_container *c = &m->cur.c[i];

		if (owned ? c->owner_tgid != tgid : !holds(c, tgid))
			continue;
		off += snprintf(buf + off, len - off, "%s%u", n ? ", " : "",
				c->iommu_id);
		n++;
	}
	if (!n) {
		snprintf(buf, len, "no container");
		return;
	}
	/* put the noun in front now that the count is known */
	{
		char ids[128];

		snprintf(ids, sizeof(ids), "%s", buf);
		snprintf(buf, len, "container%s %s", n > 1 ? "s" : "", ids);
	}
}

static uint32_t first_owned(const struct model *m, pid_t tgid)
{
	size_t i;

	for (i = 0; i < m->cur.n; i++)
		if (m->cur.c[i].owner_tgid == tgid)
			return m->cur.c[i].iommu_id;
	return 0;
}

static int add(struct jd_finding *out, int max, int n, enum jd_rule rule,
	       uint32_t iommu_id, pid_t tgid, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int add(struct jd_finding *out, int max, int n, enum jd_rule rule,
	       uint32_t iommu_id, pid_t tgid, const char *fmt, ...)
{
	va_list ap;

	if (n < max) {
		out[n].rule = rule;
		out[n].iommu_id = iommu_id;
		out[n].tgid = tgid;
		va_start(ap, fmt);
		vsnprintf(out[n].msg, sizeof(out[n].msg), fmt, ap);
		va_end(ap);
	}
	return n + 1;
}

int jd_state(const struct model *m, pid_t pid, struct jd_finding *out,
	     int max)
{
	uint64_t kb_per_page = m->page_size / 1024;
	char ids[160];
	size_t i;
	int n = 0;

	for (i = 0; i < m->ntasks; i++) {
		const struct om_task *t = &m->tasks[i];
		const struct om_proc *p = &t->proc;
		uint64_t vfio_kb = t->vfio_pages * kb_per_page;
		uint64_t vfio_bytes = t->vfio_pages * m->page_size;

		if (!task_in_scope(m, t, pid))
			continue;
		/* Nothing to compare with: exited, or unreadable. */
		if (!t->have_proc || p->gone || p->vmlck_kb < 0)
			continue;
		ids_of(m, t->tgid, t->owned, ids, sizeof(ids));

		if ((uint64_t)p->vmlck_kb < vfio_kb)
			n = add(out, max, n, JD_VMLCK_SHORT,
				first_owned(m, t->tgid), t->tgid,
				"%s: owner pid %d (%s) has VmLck %" PRId64
				" kB, less than the %" PRIu64 " kB (%" PRIu64
				" pages) vfio charged for its mappings",
				ids, t->tgid, t->comm, p->vmlck_kb, vfio_kb,
				t->vfio_pages);
		else if (!p->mlocked_kb && (uint64_t)p->vmlck_kb != vfio_kb)
			n = add(out, max, n, JD_VMLCK_EXTRA,
				t->owned ? first_owned(m, t->tgid) : 0,
				t->tgid,
				"%s: pid %d (%s) has VmLck %" PRId64 " kB but"
				" owns %" PRIu64 " kB (%" PRIu64 " pages) of"
				" vfio mappings and has nothing mlock()ed:"
				" %" PRId64 " kB are charged to it for nothing",
				ids, t->tgid, t->comm, p->vmlck_kb, vfio_kb,
				t->vfio_pages,
				p->vmlck_kb - (int64_t)vfio_kb);

		if (t->vfio_pages && !p->cap_ipc_lock &&
		    !p->memlock_unlimited && vfio_bytes > p->memlock_bytes)
			n = add(out, max, n, JD_MEMLOCK,
				first_owned(m, t->tgid), t->tgid,
				"%s: owner pid %d (%s) has %" PRIu64 " bytes"
				" (%" PRIu64 " pages) locked by vfio, over its"
				" RLIMIT_MEMLOCK of %" PRIu64 " bytes, without"
				" CAP_IPC_LOCK",
				ids, t->tgid, t->comm, vfio_bytes,
				t->vfio_pages, p->memlock_bytes);
	}
	return n;
}

static const char *comm(const char *c, char *buf)
{
	memcpy(buf, c, OM_COMM_LEN);
	buf[OM_COMM_LEN - 1] = 0;
	return buf;
}

int jd_event(const struct model *m, pid_t pid, const struct vo_event *e,
	     struct jd_finding *f)
{
	const struct om_container *c = model_container(m, e->iommu_id);
	char c1[OM_COMM_LEN];

	if (pid && e->tgid != pid && !(c && in_scope(c, pid)))
		return 0;

	switch (e->kind) {
	case VO_MAP:
		if (e->ret || e->tgid == e->dma.owner_tgid)
			return 0;
		return add(f, 1, 0, JD_FOREIGN_PIN, e->iommu_id, e->tgid,
			   "container %u: pid %d (%s) mapped iova 0x%" PRIx64
			   " and pinned %" PRIu64 " pages, but the owner is"
			   " pid %d", e->iommu_id, e->tgid,
			   comm(e->comm, c1), (uint64_t)e->dma.iova,
			   (uint64_t)e->dma.pages, e->dma.owner_tgid);
	case VO_PIN_DENIED:
		if (e->ret)
			return 0;
		return add(f, 1, 0, JD_DENIED_SUCCEEDED, e->iommu_id, e->tgid,
			   "container %u: pid %d (%s) was refused a pin (%s)"
			   " that returned 0; the owner is pid %d",
			   e->iommu_id, e->tgid, comm(e->comm, c1),
			   om_pin_op_name(e->denied.op),
			   e->denied.owner_tgid);
	case VO_LOCKED_VM_MOVE:
		if (e->ret || e->move.lock_cap ||
		    e->move.new_locked_vm <= e->move.new_limit)
			return 0;
		return add(f, 1, 0, JD_MOVE_OVER_LIMIT, e->iommu_id,
			   e->move.new_tgid,
			   "container %u: a change of owner charged pid %d"
			   " %" PRIu64 " pages, leaving its locked_vm at %"
			   PRIu64 " pages over its RLIMIT_MEMLOCK of %" PRIu64
			   " pages, without CAP_IPC_LOCK", e->iommu_id,
			   e->move.new_tgid, (uint64_t)e->move.pages,
			   (uint64_t)e->move.new_locked_vm,
			   (uint64_t)e->move.new_limit);
	default:
		return 0;
	}
}

int jd_end(const struct model *m, pid_t pid, int64_t pins_before,
	   int64_t pins_after, struct jd_finding *out, int max)
{
	size_t i;
	int n = 0;

	for (i = 0; i < m->cur.n; i++) {
		const struct om_container *c = &m->cur.c[i];
		const struct om_task *t = c->owner_tgid > 0 ?
					  model_task(m, c->owner_tgid) : NULL;
		bool ownerless = !c->owner_tgid ||
				 (t && t->have_proc && t->proc.gone);

		if (!in_scope(c, pid) || !ownerless || !c->locked_pages)
			continue;
		if (c->owner_tgid)
			n = add(out, max, n, JD_ORPHAN_PINNED, c->iommu_id,
				c->owner_tgid,
				"container %u: owner pid %d is gone but %"
				PRIu64 " pages stay locked for %u mappings",
				c->iommu_id, c->owner_tgid, c->locked_pages,
				c->mappings);
		else
			n = add(out, max, n, JD_ORPHAN_PINNED, c->iommu_id, 0,
				"container %u: no owner but %" PRIu64
				" pages stay locked for %u mappings",
				c->iommu_id, c->locked_pages, c->mappings);
	}
	if (pins_after != pins_before)
		n = add(out, max, n, JD_PINS_LEAKED, 0, 0,
			"%" PRId64 " pages stay pinned: nr_foll_pin_acquired"
			" - nr_foll_pin_released is %" PRId64 ", it was %"
			PRId64 " before the command",
			pins_after - pins_before, pins_after, pins_before);
	return n;
}

const char *jd_rule_name(enum jd_rule r)
{
	static const char *const names[JD_RULE_MAX] = {
		[JD_VMLCK_SHORT] = "vmlck-short",
		[JD_VMLCK_EXTRA] = "vmlck-extra",
		[JD_MEMLOCK] = "memlock",
		[JD_FOREIGN_PIN] = "foreign-pin",
		[JD_DENIED_SUCCEEDED] = "denied-succeeded",
		[JD_MOVE_OVER_LIMIT] = "move-over-limit",
		[JD_ORPHAN_PINNED] = "orphan-pinned",
		[JD_PINS_LEAKED] = "pins-leaked",
	};

	return r < JD_RULE_MAX ? names[r] : "?";
}
