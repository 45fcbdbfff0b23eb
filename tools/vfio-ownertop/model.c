// SPDX-License-Identifier: GPL-2.0
/*
 * model.c - the state model: containers, their owners, the processes they
 * name, recent events, and the snapshot of the last interval.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void copy_comm(char *dst, const char *src)
{
	/* comms from the kernel may fill all 16 bytes without a NUL */
	memcpy(dst, src, OM_COMM_LEN);
	dst[OM_COMM_LEN - 1] = 0;
}

int model_init(struct model *m, unsigned int page_size, uint64_t now_ns)
{
	memset(m, 0, sizeof(*m));
	m->ring = calloc(OM_EVENT_RING, sizeof(*m->ring));
	if (!m->ring)
		return -ENOMEM;
	m->page_size = page_size ? page_size : 4096;
	m->start_ns = now_ns;
	m->interval_start_ns = now_ns;
	m->cur.ts_ns = now_ns;
	return 0;
}

void model_fini(struct model *m)
{
	free(m->cur.c);
	free(m->prev.c);
	free(m->tasks);
	free(m->ring);
	memset(m, 0, sizeof(*m));
}

void model_reset(struct model *m, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < m->cur.n; i++) {
		struct om_container *c = &m->cur.c[i];

		c->events = c->handoffs = c->failed_handoffs = 0;
		c->pins_denied = c->closes = 0;
		memset(&c->last_handoff, 0, sizeof(c->last_handoff));
	}
	m->have_prev = false;
	m->prev.n = 0;
	m->interval_seq = m->nevents;
	memset(m->by_kind, 0, sizeof(m->by_kind));
	m->unplaced = 0;	/* lost counts since attach: the BPF side keeps it */
	m->start_ns = m->interval_start_ns = now_ns;
}

/* Binary search in a snapshot sorted by iommu_id; *pos: where it goes. */
static struct om_container *snap_find(const struct om_snapshot *s,
				      uint32_t id, size_t *pos)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->c[mid].iommu_id < id)
			lo = mid + 1;
		else if (s->c[mid].iommu_id > id)
			hi = mid;
		else {
			if (pos)
				*pos = mid;
			return &s->c[mid];
		}
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static int snap_reserve(struct om_snapshot *s, size_t n)
{
	struct om_container *c;
	size_t cap;

	if (n <= s->cap)
		return 0;
	cap = s->cap ? s->cap * 2 : 16;
	while (cap < n)
		cap *= 2;
	c = reallocarray(s->c, cap, sizeof(*c));
	if (!c)
		return -ENOMEM;
	s->c = c;
	s->cap = cap;
	return 0;
}

/* The container @id, created empty when new; NULL without memory. */
static struct om_container *container_get(struct model *m, uint32_t id,
					  bool *created)
{
	struct om_snapshot *s = &m->cur;
	struct om_container *c;
	size_t pos;

	*created = false;
	c = snap_find(s, id, &pos);
	if (c)
		return c;
	if (snap_reserve(s, s->n + 1))
		return NULL;
	memmove(&s->c[pos + 1], &s->c[pos], (s->n - pos) * sizeof(*s->c));
	s->n++;
	c = &s->c[pos];
	memset(c, 0, sizeof(*c));
	c->iommu_id = id;
	*created = true;
	return c;
}

const struct om_container *model_container(const struct model *m,
					   uint32_t iommu_id)
{
	return snap_find(&m->cur, iommu_id, NULL);
}

void model_scan_begin(struct model *m)
{
	size_t i;

	for (i = 0; i < m->cur.n; i++) {
		m->cur.c[i].seen = false;
		m->cur.c[i].nholders = 0;
	}
}

int model_sync(struct model *m, const struct om_fdinfo *fi, pid_t holder,
	       uint64_t before_ns, uint64_t after_ns)
{
	struct om_container *c;
	bool created;
	int i;

	if (!fi->iommu_id)
		return 0;	/* a container without type1 state yet */
	c = container_get(m, fi->iommu_id, &created);
	if (!c)
		return -ENOMEM;

	/* The last read of the container is the newest: it wins. */
	c->owner_tgid = fi->owner_tgid;
	copy_comm(c->owner_comm, fi->owner_comm);
	c->mappings = fi->mappings;
	c->bytes = fi->bytes;
	c->locked_pages = fi->locked_pages;
	c->staged = fi->staged;
	snprintf(c->tracker, sizeof(c->tracker), "%s", fi->tracker);
	snprintf(c->extensions, sizeof(c->extensions), "%s", fi->extensions);
	c->sync_before = before_ns;
	c->sync_after = after_ns;
	c->resync = false;
	c->seen = true;

	for (i = 0; i < c->nholders; i++)
		if (c->holders[i] == holder)
			return 0;
	if (holder > 0 && c->nholders < OM_MAX_HOLDERS)
		c->holders[c->nholders++] = holder;
	return 0;
}

void model_scan_end(struct model *m, uint64_t now_ns)
{
	struct om_snapshot *s = &m->cur;
	size_t i, j;

	/* A container no process has open any more is released. */
	for (i = j = 0; i < s->n; i++) {
		if (!s->c[i].seen)
			continue;
		if (i != j)
			s->c[j] = s->c[i];
		j++;
	}
	s->n = j;
	s->ts_ns = now_ns;
}

bool model_needs_resync(const struct model *m)
{
	size_t i;

	for (i = 0; i < m->cur.n; i++)
		if (m->cur.c[i].resync)
			return true;
	return false;
}

static uint64_t sub_floor(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* The state change an event makes, once it is known to be new. */
static void apply_state(struct om_container *c, const struct vo_event *e)
{
	switch (e->kind) {
	case VO_MAP:
		if (e->ret)
			break;
		c->mappings += e->dma.nr;
		c->bytes += e->dma.size;
		c->locked_pages += e->dma.pages;
		if (c->owner_tgid != e->dma.owner_tgid) {
			c->owner_tgid = e->dma.owner_tgid;
			if (e->dma.owner_tgid == e->tgid)
				copy_comm(c->owner_comm, e->comm);
			else
				c->owner_comm[0] = 0;
		}
		break;
	case VO_UNMAP:
		c->mappings = c->mappings > e->dma.nr ?
			      c->mappings - e->dma.nr : 0;
		c->bytes = sub_floor(c->bytes, e->dma.size);
		c->locked_pages = sub_floor(c->locked_pages, e->dma.pages);
		if (!c->mappings) {
			c->owner_tgid = 0;
			c->owner_comm[0] = 0;
			c->staged = 0;
			c->bytes = c->locked_pages = 0;
		} else if (c->staged && e->dma.nr) {
			/* a removed mapping may have had a staged vaddr */
			c->resync = true;
		}
		break;
	case VO_STAGE_VADDR:
		c->staged = e->stage.staged;
		break;
	case VO_CHANGE_OWNER:
		c->mappings = e->change.nr_dmas;
		c->bytes = e->change.bytes;
		if (e->ret || !e->change.nr_dmas)
			break;
		c->owner_tgid = e->change.new_tgid;
		copy_comm(c->owner_comm, e->change.new_comm);
		c->staged = 0;
		if (!strcmp(c->tracker, "none") || !c->tracker[0])
			snprintf(c->tracker, sizeof(c->tracker), "armed");
		break;
	case VO_OWNER_CLOSE:
		c->mappings = 0;
		c->bytes = c->locked_pages = 0;
		c->staged = 0;
		c->owner_tgid = 0;
		c->owner_comm[0] = 0;
		snprintf(c->tracker, sizeof(c->tracker), "none");
		break;
	default:
		break;
	}
}

/* Counters an event adds whether or not fdinfo already had its effect. */
static void apply_counters(struct om_container *c, const struct vo_event *e)
{
	c->events++;
	switch (e->kind) {
	case VO_CHANGE_OWNER:
		if (e->ret) {
			c->failed_handoffs++;
			break;
		}
		if (!e->change.nr_dmas)
			break;	/* nothing to own: not a hand-off */
		c->handoffs++;
		c->last_handoff.ts_ns = e->ts_ns;
		c->last_handoff.hold_ns = e->change.hold_ns;
		c->last_handoff.pages = e->change.pages;
		c->last_handoff.from_tgid = e->change.old_tgid;
		c->last_handoff.to_tgid = e->change.new_tgid;
		copy_comm(c->last_handoff.from_comm, e->change.old_comm);
		copy_comm(c->last_handoff.to_comm, e->change.new_comm);
		break;
	case VO_PIN_DENIED:
		c->pins_denied++;
		break;
	case VO_OWNER_CLOSE:
		c->closes++;
		break;
	default:
		break;
	}
}

const struct om_container *model_apply(struct model *m,
				       const struct vo_event *e)
{
	struct om_container *c;
	bool created;

	m->ring[m->nevents % OM_EVENT_RING] = *e;
	m->nevents++;
	if (e->kind < VO_KIND_MAX)
		m->by_kind[e->kind]++;

	c = container_get(m, e->iommu_id, &created);
	if (!c)
		return NULL;
	apply_counters(c, e);

	if (created) {
		/*
		 * Not seen by a scan: it was set up after the last one.
		 * Events tell changes only, so read its fdinfo to learn
		 * the rest; until then, start from empty.
		 */
		c->seen = true;
		c->resync = true;
		snprintf(c->tracker, sizeof(c->tracker), "none");
	}
	if (c->sync_after && e->ts_ns < c->sync_before)
		return c;	/* fdinfo already showed it */
	if (c->sync_after && e->ts_ns <= c->sync_after) {
		c->resync = true;
		m->unplaced++;
		return c;
	}
	apply_state(c, e);
	return c;
}

/* Tasks: a table sorted by tgid. */
static struct om_task *task_find(const struct model *m, pid_t tgid,
				 size_t *pos)
{
	size_t lo = 0, hi = m->ntasks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->tasks[mid].tgid < tgid)
			lo = mid + 1;
		else if (m->tasks[mid].tgid > tgid)
			hi = mid;
		else {
			if (pos)
				*pos = mid;
			return &m->tasks[mid];
		}
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static struct om_task *task_get(struct model *m, pid_t tgid)
{
	struct om_task *t;
	size_t pos;

	t = task_find(m, tgid, &pos);
	if (t)
		return t;
	if (m->ntasks == m->taskcap) {
		size_t cap = m->taskcap ? m->taskcap * 2 : 16;

		t = reallocarray(m->tasks, cap, sizeof(*t));
		if (!t)
			return NULL;
		m->tasks = t;
		m->taskcap = cap;
	}
	memmove(&m->tasks[pos + 1], &m->tasks[pos],
		(m->ntasks - pos) * sizeof(*m->tasks));
	m->ntasks++;
	t = &m->tasks[pos];
	memset(t, 0, sizeof(*t));
	t->tgid = tgid;
	t->proc.vmlck_kb = -1;
	return t;
}

const struct om_task *model_task(const struct model *m, pid_t tgid)
{
	return task_find(m, tgid, NULL);
}

int model_tasks_update(struct model *m)
{
	size_t i, j;
	int h;

	for (i = 0; i < m->ntasks; i++) {
		m->tasks[i].owned = m->tasks[i].held = 0;
		m->tasks[i].vfio_pages = 0;
	}
	for (i = 0; i < m->cur.n; i++) {
		const struct om_container *c = &m->cur.c[i];
		struct om_task *t;

		if (c->owner_tgid > 0) {
			t = task_get(m, c->owner_tgid);
			if (!t)
				return -ENOMEM;
			t->owned++;
			t->vfio_pages += c->locked_pages;
			if (c->owner_comm[0])
				copy_comm(t->comm, c->owner_comm);
		}
		for (h = 0; h < c->nholders; h++) {
			t = task_get(m, c->holders[h]);
			if (!t)
				return -ENOMEM;
			t->held++;
		}
	}
	/* Drop processes that no longer own or hold anything. */
	for (i = j = 0; i < m->ntasks; i++) {
		if (!m->tasks[i].owned && !m->tasks[i].held)
			continue;
		if (i != j)
			m->tasks[j] = m->tasks[i];
		j++;
	}
	m->ntasks = j;
	return 0;
}

void model_set_proc(struct model *m, pid_t tgid, const struct om_proc *p)
{
	struct om_task *t = task_find(m, tgid, NULL);

	if (!t)
		return;
	t->proc = *p;
	t->have_proc = true;
	if (p->comm[0] && !t->comm[0])
		copy_comm(t->comm, p->comm);
}

void model_set_bpf_tgid(struct model *m, pid_t tgid,
			const struct vo_tgid_stats *s)
{
	struct om_task *t = task_find(m, tgid, NULL);

	if (!t)
		return;
	t->bpf_pages_delta = s->pages_delta;
	t->pins_denied = s->pins_denied;
}

void model_set_lost(struct model *m, uint64_t lost)
{
	size_t i;

	if (lost == m->lost)
		return;
	m->lost = lost;
	for (i = 0; i < m->cur.n; i++)
		m->cur.c[i].resync = true;
}

int model_tick(struct model *m, uint64_t now_ns)
{
	if (snap_reserve(&m->prev, m->cur.n))
		return -ENOMEM;
	if (m->cur.n)
		memcpy(m->prev.c, m->cur.c, m->cur.n * sizeof(*m->cur.c));
	m->prev.n = m->cur.n;
	m->prev.ts_ns = now_ns;
	m->have_prev = true;
	m->interval_seq = m->nevents;
	m->interval_start_ns = now_ns;
	return 0;
}

uint64_t model_interval_events(const struct model *m)
{
	return m->nevents - m->interval_seq;
}

const struct vo_event *model_event(const struct model *m, uint64_t seq)
{
	if (seq >= m->nevents || m->nevents - seq > OM_EVENT_RING)
		return NULL;
	return &m->ring[seq % OM_EVENT_RING];
}

enum om_state model_state(const struct model *m, const struct om_container *c)
{
	const struct om_task *owner;

	if (!c->mappings)
		return OM_IDLE;
	owner = c->owner_tgid > 0 ? model_task(m, c->owner_tgid) : NULL;
	if (!owner || !strcmp(c->tracker, "closing") ||
	    (owner->have_proc && owner->proc.gone))
		return OM_ORPHANED;
	if (c->staged && c->staged >= c->mappings)
		return OM_HANDING_OFF;
	if (c->staged)
		return OM_STAGING;
	return OM_IDLE;
}

void model_totals(const struct model *m, struct om_totals *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < m->cur.n; i++) {
		const struct om_container *c = &m->cur.c[i];

		t->containers++;
		t->owned += c->owner_tgid > 0;
		t->mappings += c->mappings;
		t->bytes += c->bytes;
		t->locked_pages += c->locked_pages;
		t->staged += c->staged;
		t->handoffs += c->handoffs;
		t->states[model_state(m, c)]++;
	}
	for (i = 0; i < m->ntasks; i++)
		t->owners += m->tasks[i].owned > 0;
}

void model_delta(const struct model *m, const struct om_container *c,
		 struct om_delta *d)
{
	const struct om_container *p = NULL;

	memset(d, 0, sizeof(*d));
	if (m->have_prev)
		p = snap_find(&m->prev, c->iommu_id, NULL);
	if (!p) {
		d->is_new = m->have_prev;
		d->mappings = c->mappings;
		d->bytes = (int64_t)c->bytes;
		d->locked_pages = (int64_t)c->locked_pages;
		d->events = c->events;
		d->handoffs = c->handoffs;
		return;
	}
	d->mappings = (int64_t)c->mappings - (int64_t)p->mappings;
	d->bytes = (int64_t)c->bytes - (int64_t)p->bytes;
	d->locked_pages = (int64_t)c->locked_pages - (int64_t)p->locked_pages;
	d->events = sub_floor(c->events, p->events);
	d->handoffs = sub_floor(c->handoffs, p->handoffs);
}

static bool comm_has(const char *comm, const char *needle)
{
	char buf[OM_COMM_LEN];

	copy_comm(buf, comm);
	return strstr(buf, needle) != NULL;
}

static bool filter_keeps(const struct model *m, const struct om_filter *f,
			 const struct om_container *c)
{
	int h;

	if (!f)
		return true;
	if (f->iommu_id && c->iommu_id != f->iommu_id)
		return false;
	if (f->pid) {
		bool hit = c->owner_tgid == f->pid;

		for (h = 0; h < c->nholders && !hit; h++)
			hit = c->holders[h] == f->pid;
		if (!hit)
			return false;
	}
	if (f->comm[0]) {
		bool hit = comm_has(c->owner_comm, f->comm);

		for (h = 0; h < c->nholders && !hit; h++) {
			const struct om_task *t = model_task(m, c->holders[h]);

			hit = t && comm_has(t->comm, f->comm);
		}
		if (!hit)
			return false;
	}
	return true;
}

size_t model_rows(const struct model *m, const struct om_filter *f,
		  struct om_row *rows)
{
	size_t i, n = 0;

	for (i = 0; i < m->cur.n; i++) {
		const struct om_container *c = &m->cur.c[i];

		if (!filter_keeps(m, f, c))
			continue;
		rows[n].c = c;
		rows[n].owner = c->owner_tgid > 0 ?
				model_task(m, c->owner_tgid) : NULL;
		rows[n].state = model_state(m, c);
		model_delta(m, c, &rows[n].d);
		n++;
	}
	return n;
}

/*
 * Comparators return -1, 0 or 1 from explicit comparisons: subtracting
 * 64-bit counters and returning the difference as an int would truncate
 * and flip signs.
 */
#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* The owner's limit as one number: CAP_IPC_LOCK and unlimited sort last. */
static uint64_t limit_key(const struct om_row *r)
{
	if (!r->owner || !r->owner->have_proc)
		return 0;
	if (r->owner->proc.cap_ipc_lock || r->owner->proc.memlock_unlimited)
		return UINT64_MAX;
	return r->owner->proc.memlock_bytes;
}

static int cmp_key(const struct om_row *a, const struct om_row *b,
		   enum om_sort key)
{
	switch (key) {
	case OM_SORT_OWNER:
		return CMP(a->c->owner_tgid, b->c->owner_tgid);
	case OM_SORT_COMM:
		return strncmp(a->c->owner_comm, b->c->owner_comm,
			       OM_COMM_LEN);
	case OM_SORT_MAPPINGS:
		return CMP(a->c->mappings, b->c->mappings);
	case OM_SORT_BYTES:
		return CMP(a->c->bytes, b->c->bytes);
	case OM_SORT_LOCKED:
		return CMP(a->c->locked_pages, b->c->locked_pages);
	case OM_SORT_LIMIT:
		return CMP(limit_key(a), limit_key(b));
	case OM_SORT_STAGED:
		return CMP(a->c->staged, b->c->staged);
	case OM_SORT_STATE:
		return CMP(a->state, b->state);
	case OM_SORT_HANDOFF:
		return CMP(a->c->last_handoff.ts_ns, b->c->last_handoff.ts_ns);
	case OM_SORT_HOLD:
		return CMP(a->c->last_handoff.hold_ns,
			   b->c->last_handoff.hold_ns);
	case OM_SORT_ID:
	default:
		return 0;
	}
}

struct sort_ctx {
	enum om_sort key;
	bool descending;
};

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
	const struct om_row *a = pa, *b = pb;
	const struct sort_ctx *ctx = arg;
	int r = cmp_key(a, b, ctx->key);

	if (!r)
		r = CMP(a->c->iommu_id, b->c->iommu_id);
	else if (ctx->descending)
		r = -r;
	if (ctx->key == OM_SORT_ID && ctx->descending)
		r = -r;
	return r;
}

void model_sort(struct om_row *rows, size_t n, enum om_sort key,
		bool descending)
{
	struct sort_ctx ctx = { .key = key, .descending = descending };

	if (n > 1)
		qsort_r(rows, n, sizeof(*rows), cmp_rows, &ctx);
}

static const char *const state_names[OM_STATE_MAX] = {
	[OM_IDLE] = "idle",
	[OM_STAGING] = "staging",
	[OM_HANDING_OFF] = "handing off",
	[OM_ORPHANED] = "orphaned",
};

const char *om_state_name(enum om_state s)
{
	return s < OM_STATE_MAX ? state_names[s] : "?";
}

static const char *const sort_names[OM_SORT_MAX] = {
	[OM_SORT_ID] = "id",
	[OM_SORT_OWNER] = "owner",
	[OM_SORT_COMM] = "comm",
	[OM_SORT_MAPPINGS] = "mappings",
	[OM_SORT_BYTES] = "bytes",
	[OM_SORT_LOCKED] = "locked",
	[OM_SORT_LIMIT] = "limit",
	[OM_SORT_STAGED] = "staged",
	[OM_SORT_STATE] = "state",
	[OM_SORT_HANDOFF] = "handoff",
	[OM_SORT_HOLD] = "hold",
};

const char *om_sort_name(enum om_sort s)
{
	return s < OM_SORT_MAX ? sort_names[s] : "?";
}

int om_sort_parse(const char *name)
{
	int i;

	for (i = 0; i < OM_SORT_MAX; i++)
		if (!strcmp(name, sort_names[i]))
			return i;
	return -1;
}

static const char *const kind_names[VO_KIND_MAX] = {
	[VO_MAP] = "map",
	[VO_UNMAP] = "unmap",
	[VO_STAGE_VADDR] = "stage_vaddr",
	[VO_CHANGE_OWNER] = "change_owner",
	[VO_LOCKED_VM_MOVE] = "locked_vm_move",
	[VO_OWNER_CLOSE] = "owner_close",
	[VO_PIN_DENIED] = "pin_denied",
};

const char *om_kind_name(uint32_t kind)
{
	return kind < VO_KIND_MAX && kind_names[kind] ? kind_names[kind] : "?";
}

const char *om_close_reason_name(uint32_t reason)
{
	switch (reason) {
	case VO_CLOSE_EXIT:
		return "exit";
	case VO_CLOSE_EXEC:
		return "exec";
	case VO_CLOSE_MUNMAP:
		return "munmap";
	default:
		return "?";
	}
}

const char *om_pin_op_name(uint32_t op)
{
	switch (op) {
	case VO_PIN_MAP:
		return "map";
	case VO_PIN_ATTACH:
		return "attach";
	default:
		return "?";
	}
}
