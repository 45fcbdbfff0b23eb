// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of vfio-ownertop without a kernel: the /proc parsers, the
 * model (placing events against fdinfo reads, tasks, deltas, the event
 * ring), the one sort, the JSON and Prometheus renderers, and the check's
 * rules.  Output is TAP; the exit status is 0 only when every test passes.
 *
 * Build and run: make -C tools/vfio-ownertop unit
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "judge.h"
#include "model.h"
#include "render.h"
#include "source.h"

static int tests, failures;

static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	tests++;
	if (!cond)
		failures++;
	printf("%s %d - ", cond ? "ok" : "not ok", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define OK_EQ(a, b, what) do {						\
		long long _a = (a), _b = (b);				\
		ok(_a == _b, "%s (%lld == %lld)", what, _a, _b);	\
	} while (0)

#define MS 1000000ull

static const char fdinfo_text[] =
	"pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1045\n"
	"vfio-iommu:\tvfio-iommu-type1\n"
	"iommu_id:\t7\n"
	"owner_tgid:\t4242\n"
	"owner_comm:\tqemu-system-x86\n"
	"mappings:\t2\n"
	"bytes_mapped:\t3145728\n"
	"locked_pages:\t768\n"
	"staged_vaddrs:\t1\n"
	"owner_tracker:\tarmed\n"
	"extensions:\ttype1v2 dma_owner\n";

static void test_parsers(void)
{
	struct om_fdinfo fi;
	struct om_proc p;
	int64_t pins;
	char *bad;

	OK_EQ(om_parse_fdinfo(fdinfo_text, &fi), 0, "fdinfo: parses");
	OK_EQ(fi.iommu_id, 7, "fdinfo: iommu_id");
	OK_EQ(fi.owner_tgid, 4242, "fdinfo: owner_tgid");
	ok(!strcmp(fi.owner_comm, "qemu-system-x86"), "fdinfo: owner_comm");
	OK_EQ(fi.mappings, 2, "fdinfo: mappings");
	OK_EQ(fi.bytes, 3145728, "fdinfo: bytes_mapped");
	OK_EQ(fi.locked_pages, 768, "fdinfo: locked_pages");
	OK_EQ(fi.staged, 1, "fdinfo: staged_vaddrs");
	ok(!strcmp(fi.tracker, "armed"), "fdinfo: owner_tracker");
	ok(!strcmp(fi.extensions, "type1v2 dma_owner"), "fdinfo: extensions");

	OK_EQ(om_parse_fdinfo("pos:\t0\nvfio-iommu:\tnone\n", &fi), 0,
	      "fdinfo: a container without IOMMU is not an error");
	OK_EQ(fi.iommu_id, 0, "fdinfo: ... and has no iommu_id");
	OK_EQ(om_parse_fdinfo("pos:\t0\nflags:\t02\n", &fi), -EINVAL,
	      "fdinfo: another file is refused");
	bad = strdup(fdinfo_text);
	memcpy(strstr(bad, "mappings:\t2"), "mappings:\tx", 11);
	OK_EQ(om_parse_fdinfo(bad, &fi), -EINVAL,
	      "fdinfo: a number that is not one is refused");
	free(bad);
	OK_EQ(om_parse_fdinfo("vfio-iommu:\tt\niommu_id:\t99999999999\n", &fi),
	      -EINVAL, "fdinfo: an iommu_id beyond 32 bits is refused");

	OK_EQ(om_parse_status("Name:\tqemu\nState:\tS (sleeping)\n"
			      "VmLck:\t    3072 kB\n"
			      "CapEff:\t0000000000004000\n", &p), 0,
	      "status: parses");
	OK_EQ(p.vmlck_kb, 3072, "status: VmLck");
	ok(p.cap_ipc_lock, "status: CAP_IPC_LOCK from CapEff bit 14");
	ok(!p.gone, "status: a sleeping process is there");
	OK_EQ(om_parse_status("Name:\tx\nState:\tZ (zombie)\n"
			      "CapEff:\t000001ffffffbfff\n", &p), 0,
	      "status: zombie parses");
	ok(p.gone && p.vmlck_kb == -1 && !p.cap_ipc_lock,
	   "status: a zombie is gone, VmLck unknown, no CAP_IPC_LOCK");

	OK_EQ(om_parse_limits("Limit                     Soft Limit"
			      "           Hard Limit           Units\n"
			      "Max locked memory         65536"
			      "                65536                bytes\n",
			      &p), 0, "limits: parses");
	ok(!p.memlock_unlimited && p.memlock_bytes == 65536,
	   "limits: 65536 bytes");
	OK_EQ(om_parse_limits("Max locked memory         unlimited"
			      "            unlimited            bytes\n", &p),
	      0, "limits: unlimited parses");
	ok(p.memlock_unlimited, "limits: unlimited");
	OK_EQ(om_parse_limits("Max open files 1024 1024 files\n", &p),
	      -EINVAL, "limits: no memlock line is an error");

	OK_EQ(om_parse_smaps_mlocked_kb(
		"7f00-7f10 rw-p 0 0 0\nSize:                 64 kB\n"
		"VmFlags: rd wr mr mw me lo ac\n"
		"7f10-7f20 rw-s 0 0 0\nSize:               1024 kB\n"
		"VmFlags: rd wr sh mr mw me ms sd lk\n"
		"7f20-7f30 rw-p 0 0 0\nSize:                  8 kB\n"
		"VmFlags: lo rd\n"), 72,
	      "smaps: only VMAs flagged lo count as mlocked");

	OK_EQ(om_parse_vmstat_pins("nr_free_pages 10\n"
				   "nr_foll_pin_acquired 1000\n"
				   "nr_foll_pin_released 232\n", &pins), 0,
	      "vmstat: parses");
	OK_EQ(pins, 768, "vmstat: pinned = acquired - released");
	OK_EQ(om_parse_vmstat_pins("nr_free_pages 10\n", &pins), -EINVAL,
	      "vmstat: missing counters are an error");
}

static void fi_make(struct om_fdinfo *fi, uint32_t id, pid_t owner,
		    const char *comm, uint32_t maps, uint64_t bytes,
		    uint64_t pages)
{
	memset(fi, 0, sizeof(*fi));
	snprintf(fi->driver, sizeof(fi->driver), "vfio-iommu-type1");
	fi->iommu_id = id;
	fi->owner_tgid = owner;
	snprintf(fi->owner_comm, sizeof(fi->owner_comm), "%s", comm);
	fi->mappings = maps;
	fi->bytes = bytes;
	fi->locked_pages = pages;
	snprintf(fi->tracker, sizeof(fi->tracker), owner ? "armed" : "none");
}

static struct vo_event ev(uint32_t kind, uint32_t id, pid_t tgid,
			  uint64_t ts, const char *comm)
{
	struct vo_event e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.iommu_id = id;
	e.tgid = tgid;
	e.ts_ns = ts;
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	return e;
}

static struct vo_event ev_map(uint32_t id, pid_t tgid, uint64_t ts,
			      uint64_t size, int ret)
{
	struct vo_event e = ev(VO_MAP, id, tgid, ts, "qemu");

	e.ret = ret;
	e.dma.owner_tgid = tgid;
	e.dma.nr = !ret;
	e.dma.size = size;
	e.dma.pages = ret ? 0 : size / 4096;
	return e;
}

static struct vo_event ev_change(uint32_t id, pid_t from, pid_t to,
				 uint64_t ts, uint32_t nr, uint64_t bytes)
{
	struct vo_event e = ev(VO_CHANGE_OWNER, id, to, ts, "new");

	e.change.old_tgid = from;
	e.change.new_tgid = to;
	e.change.nr_dmas = nr;
	e.change.bytes = bytes;
	e.change.pages = bytes / 4096;
	e.change.hold_ns = 25000;
	snprintf(e.change.old_comm, sizeof(e.change.old_comm), "old");
	snprintf(e.change.new_comm, sizeof(e.change.new_comm), "new");
	return e;
}

static void test_model_events(void)
{
	struct model m;
	struct om_fdinfo fi;
	const struct om_container *c;
	const struct om_task *t;
	struct vo_event e;

	model_init(&m, 4096, 0);
	model_scan_begin(&m);
	fi_make(&fi, 1, 100, "qemu", 1, 1 << 20, 256);
	model_sync(&m, &fi, 100, 10 * MS, 11 * MS);
	model_scan_end(&m, 11 * MS);
	model_tasks_update(&m);

	c = model_container(&m, 1);
	ok(c && c->mappings == 1 && c->locked_pages == 256,
	   "model: a scan creates the container from fdinfo");

	e = ev_map(1, 100, 9 * MS, 1 << 20, 0);
	model_apply(&m, &e);
	c = model_container(&m, 1);
	OK_EQ(c->mappings, 1,
	      "model: an event stamped before the fdinfo read is in it already");

	e = ev_map(1, 100, (10 * MS + 11 * MS) / 2, 1 << 20, 0);
	model_apply(&m, &e);
	ok(c->resync && model_needs_resync(&m) && c->mappings == 1,
	   "model: an event during the read cannot be placed: resync");

	model_scan_begin(&m);
	fi_make(&fi, 1, 100, "qemu", 2, 2 << 20, 512);
	model_sync(&m, &fi, 100, 20 * MS, 21 * MS);
	model_scan_end(&m, 21 * MS);
	ok(!model_needs_resync(&m), "model: a new read clears the resync");

	e = ev_map(1, 100, 30 * MS, 2 << 20, 0);
	model_apply(&m, &e);
	OK_EQ(c->mappings, 3, "model: a map after the read adds a mapping");
	OK_EQ(c->bytes, 4 << 20, "model: ... its bytes");
	OK_EQ(c->locked_pages, 1024, "model: ... and its pages");

	e = ev_map(1, 100, 31 * MS, 1 << 20, -ENOMEM);
	model_apply(&m, &e);
	OK_EQ(c->mappings, 3, "model: a failed map changes nothing");

	e = ev(VO_UNMAP, 1, 200, 32 * MS, "helper");
	e.dma.owner_tgid = 100;
	e.dma.nr = 1;
	e.dma.size = 2 << 20;
	e.dma.pages = 512;
	model_apply(&m, &e);
	ok(c->mappings == 2 && c->bytes == 2 << 20 && c->locked_pages == 512
	   && c->owner_tgid == 100,
	   "model: an unmap by another process takes from the owner");

	e = ev(VO_STAGE_VADDR, 1, 300, 33 * MS, "new");
	e.stage.staged = 1;
	e.stage.nr_dmas = 2;
	model_apply(&m, &e);
	model_tasks_update(&m);
	OK_EQ(c->staged, 1, "model: staging is counted");
	OK_EQ(model_state(&m, c), OM_STAGING, "model: state staging");
	e.stage.staged = 2;
	e.ts_ns = 34 * MS;
	model_apply(&m, &e);
	OK_EQ(model_state(&m, c), OM_HANDING_OFF,
	      "model: everything staged: handing off");

	e = ev_change(1, 100, 300, 35 * MS, 2, 2 << 20);
	model_apply(&m, &e);
	model_tasks_update(&m);
	ok(c->owner_tgid == 300 && !strcmp(c->owner_comm, "new") &&
	   c->staged == 0, "model: a change of owner moves the owner");
	ok(c->handoffs == 1 && c->last_handoff.from_tgid == 100 &&
	   c->last_handoff.to_tgid == 300 &&
	   c->last_handoff.hold_ns == 25000,
	   "model: ... and is remembered as the last hand-off");
	t = model_task(&m, 300);
	ok(t && t->owned == 1 && t->vfio_pages == 512,
	   "model: the new owner is charged the pages");
	t = model_task(&m, 100);
	ok(t && t->owned == 0 && t->held == 1 && t->vfio_pages == 0,
	   "model: the old owner, still a holder, is charged nothing");

	e = ev_change(1, 300, 400, 36 * MS, 2, 2 << 20);
	e.ret = -ENOMEM;
	model_apply(&m, &e);
	ok(c->owner_tgid == 300 && c->failed_handoffs == 1,
	   "model: a failed change of owner keeps the owner");

	e = ev_change(1, 0, 500, 36 * MS + 1, 0, 0);
	model_apply(&m, &e);
	OK_EQ(c->handoffs, 1, "model: a change with no mappings is no hand-off");

	e = ev(VO_OWNER_CLOSE, 1, 300, 37 * MS, "");
	e.close.owner_tgid = 300;
	e.close.reason = VO_CLOSE_EXIT;
	e.close.nr_dmas = 2;
	e.close.pages = 512;
	model_apply(&m, &e);
	ok(c->mappings == 0 && c->locked_pages == 0 && c->owner_tgid == 0 &&
	   c->closes == 1, "model: the owner's exit empties the container");

	e = ev_map(9, 900, 38 * MS, 1 << 20, 0);
	c = model_apply(&m, &e);
	ok(c && c->iommu_id == 9 && c->mappings == 1 && c->resync,
	   "model: an unknown container is created and read at the next scan");
	model_scan_begin(&m);
	model_scan_end(&m, 40 * MS);
	ok(!model_container(&m, 9) && !model_container(&m, 1),
	   "model: containers no scan finds are gone");

	OK_EQ(m.nevents, 12, "model: every event counted");
	OK_EQ(m.by_kind[VO_MAP], 5, "model: events counted by kind");
	model_fini(&m);
}

static void test_ring_and_ticks(void)
{
	struct model m;
	struct om_fdinfo fi;
	struct om_delta d;
	struct vo_event e;
	uint64_t i;

	model_init(&m, 4096, 0);
	model_scan_begin(&m);
	fi_make(&fi, 3, 10, "a", 1, 4096, 1);
	model_sync(&m, &fi, 10, 1, 2);
	model_scan_end(&m, 2);
	model_tasks_update(&m);
	model_tick(&m, 3);

	for (i = 0; i < OM_EVENT_RING + 10; i++) {
		e = ev_map(3, 10, 100 + i, 4096, 0);
		model_apply(&m, &e);
	}
	OK_EQ(model_interval_events(&m), OM_EVENT_RING + 10,
	      "ring: the interval counts every event");
	ok(model_event(&m, m.interval_seq) == NULL,
	   "ring: the oldest events of a long interval are overwritten");
	ok(model_event(&m, m.nevents - 1) &&
	   model_event(&m, m.nevents - 1)->ts_ns == 100 + OM_EVENT_RING + 9,
	   "ring: the newest event is there");
	ok(model_event(&m, m.nevents) == NULL, "ring: no event from the future");

	model_delta(&m, model_container(&m, 3), &d);
	ok(d.mappings == OM_EVENT_RING + 10 && d.locked_pages ==
	   OM_EVENT_RING + 10 && !d.is_new,
	   "delta: against the previous interval");
	model_tick(&m, 1000);
	model_delta(&m, model_container(&m, 3), &d);
	ok(d.mappings == 0 && d.events == 0 && model_interval_events(&m) == 0,
	   "delta: zero right after a tick");
	model_reset(&m, 2000);
	ok(m.nevents == OM_EVENT_RING + 10 && m.by_kind[VO_MAP] == 0 &&
	   model_container(&m, 3)->events == 0,
	   "reset: counters cleared, containers kept");
	model_fini(&m);
}

/* A model with four containers for sorting, filtering and rendering. */
static void sample_model(struct model *m)
{
	struct om_fdinfo fi;
	struct om_proc p;

	model_init(m, 4096, 0);
	model_scan_begin(m);
	fi_make(&fi, 4, 40, "zeta", 1, 1ull << 40, 1ull << 28);
	model_sync(m, &fi, 40, 1, 2);
	fi_make(&fi, 2, 20, "alpha", 3, 3 << 20, 768);
	model_sync(m, &fi, 20, 1, 2);
	model_sync(m, &fi, 21, 1, 2);	/* a second holder */
	fi_make(&fi, 9, 0, "", 0, 0, 0);
	model_sync(m, &fi, 90, 1, 2);
	fi_make(&fi, 5, 50, "q\"uo\\te\x01", 3, 3 << 20, 768);
	model_sync(m, &fi, 50, 1, 2);
	model_scan_end(m, 3);
	model_tasks_update(m);

	memset(&p, 0, sizeof(p));
	snprintf(p.comm, sizeof(p.comm), "alpha");
	p.vmlck_kb = 3072;
	p.memlock_bytes = 8 << 20;
	model_set_proc(m, 20, &p);
	p.vmlck_kb = 0;
	snprintf(p.comm, sizeof(p.comm), "helper");
	model_set_proc(m, 21, &p);
	snprintf(p.comm, sizeof(p.comm), "zeta");
	p.vmlck_kb = (1ll << 30);
	p.memlock_unlimited = true;
	model_set_proc(m, 40, &p);
	p.memlock_unlimited = false;
	p.cap_ipc_lock = true;
	p.vmlck_kb = 3072;
	model_set_proc(m, 50, &p);
}

static bool order_is(const struct om_row *rows, size_t n,
		     const uint32_t *ids)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rows[i].c->iommu_id != ids[i])
			return false;
	return true;
}

static void test_sort_filter(void)
{
	struct om_row rows[8];
	struct om_filter f;
	struct model m;
	size_t n;

	sample_model(&m);
	memset(&f, 0, sizeof(f));
	n = model_rows(&m, &f, rows);
	OK_EQ(n, 4, "rows: all four containers");

	model_sort(rows, n, OM_SORT_ID, false);
	ok(order_is(rows, n, (uint32_t[]){ 2, 4, 5, 9 }), "sort: by id");
	model_sort(rows, n, OM_SORT_ID, true);
	ok(order_is(rows, n, (uint32_t[]){ 9, 5, 4, 2 }),
	   "sort: by id, descending");
	model_sort(rows, n, OM_SORT_BYTES, true);
	ok(order_is(rows, n, (uint32_t[]){ 4, 2, 5, 9 }),
	   "sort: by bytes, descending; 1 TiB above 3 MiB; ties by id");
	model_sort(rows, n, OM_SORT_LOCKED, false);
	ok(order_is(rows, n, (uint32_t[]){ 9, 2, 5, 4 }),
	   "sort: by locked pages, ascending; 2^28 pages last");
	model_sort(rows, n, OM_SORT_OWNER, false);
	ok(order_is(rows, n, (uint32_t[]){ 9, 2, 4, 5 }), "sort: by owner pid");
	model_sort(rows, n, OM_SORT_COMM, false);
	ok(order_is(rows, n, (uint32_t[]){ 9, 2, 5, 4 }), "sort: by comm");
	model_sort(rows, n, OM_SORT_LIMIT, true);
	ok(order_is(rows, n, (uint32_t[]){ 4, 5, 2, 9 }),
	   "sort: by limit; unlimited and CAP_IPC_LOCK above 8 MiB");
	model_sort(rows, n, OM_SORT_MAPPINGS, true);
	ok(order_is(rows, n, (uint32_t[]){ 2, 5, 4, 9 }),
	   "sort: by mappings, ties by id");

	f.pid = 21;
	n = model_rows(&m, &f, rows);
	ok(n == 1 && rows[0].c->iommu_id == 2, "filter: by a holder's pid");
	f.pid = 40;
	n = model_rows(&m, &f, rows);
	ok(n == 1 && rows[0].c->iommu_id == 4, "filter: by the owner's pid");
	memset(&f, 0, sizeof(f));
	snprintf(f.comm, sizeof(f.comm), "help");
	n = model_rows(&m, &f, rows);
	ok(n == 1 && rows[0].c->iommu_id == 2, "filter: by a holder's comm");
	snprintf(f.comm, sizeof(f.comm), "nomatch");
	OK_EQ(model_rows(&m, &f, rows), 0, "filter: nothing matches");
	memset(&f, 0, sizeof(f));
	f.iommu_id = 5;
	n = model_rows(&m, &f, rows);
	ok(n == 1 && rows[0].c->iommu_id == 5, "filter: by iommu id");

	OK_EQ(om_sort_parse("locked"), OM_SORT_LOCKED, "sort names parse");
	OK_EQ(om_sort_parse("nope"), -1, "unknown sort names do not");
	model_fini(&m);
}

/*
 * A small JSON checker: whether @s is one valid JSON value followed by a
 * newline.  Enough to catch a missing comma, quote or bracket.
 */
static const char *js_value(const char *s);

static const char *js_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static const char *js_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	while (*s && *s != '"') {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				int i;

				for (i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)s[i]))
						return NULL;
				s += 4;
			} else if (!strchr("\"\\/bfnrt", *s)) {
				return NULL;
			}
		}
		s++;
	}
	return *s == '"' ? s + 1 : NULL;
}

static const char *js_number(const char *s)
{
	const char *start = s;

	if (*s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return NULL;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return NULL;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return s > start ? s : NULL;
}

static const char *js_compound(const char *s, char close, bool object)
{
	s = js_ws(s + 1);
	if (*s == close)
		return s + 1;
	for (;;) {
		if (object) {
			s = js_string(js_ws(s));
			if (!s)
				return NULL;
			s = js_ws(s);
			if (*s++ != ':')
				return NULL;
		}
		s = js_value(s);
		if (!s)
			return NULL;
		s = js_ws(s);
		if (*s == close)
			return s + 1;
		if (*s++ != ',')
			return NULL;
	}
}

static const char *js_value(const char *s)
{
	s = js_ws(s);
	switch (*s) {
	case '{':
		return js_compound(s, '}', true);
	case '[':
		return js_compound(s, ']', false);
	case '"':
		return js_string(s);
	case 't':
		return strncmp(s, "true", 4) ? NULL : s + 4;
	case 'f':
		return strncmp(s, "false", 5) ? NULL : s + 5;
	case 'n':
		return strncmp(s, "null", 4) ? NULL : s + 4;
	default:
		return js_number(s);
	}
}

static bool json_line_valid(const char *s)
{
	s = js_value(s);
	return s && s[0] == '\n' && s[1] == 0;
}

static char *render_to_string(int (*fn)(FILE *, const struct model *,
					const struct om_env *),
			      const struct model *m, const struct om_env *env)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(f, m, env);
	fclose(f);
	return buf;
}

static void sample_env(struct om_env *env)
{
	memset(env, 0, sizeof(*env));
	snprintf(env->host, sizeof(env->host), "host\"1");
	snprintf(env->kernel, sizeof(env->kernel), "6.1.192-test");
	env->probe = "tp_btf";
	env->wall = 1700000000.5;
	env->now_ns = 50 * MS;
	env->interval_s = 0.5;
	env->seq = 3;
}

static void test_json(void)
{
	struct om_env env;
	struct vo_event e;
	struct model m;
	char *out;

	sample_model(&m);
	sample_env(&env);
	e = ev_change(2, 20, 21, 40 * MS, 3, 3 << 20);
	model_apply(&m, &e);
	e = ev(VO_OWNER_CLOSE, 9, 77, 41 * MS, "");
	e.close.reason = VO_CLOSE_EXEC;
	model_apply(&m, &e);
	e = ev(VO_PIN_DENIED, 2, 20, 42 * MS, "alpha");
	e.ret = -EPERM;
	e.denied.owner_tgid = 21;
	e.denied.op = VO_PIN_ATTACH;
	model_apply(&m, &e);
	e = ev(VO_LOCKED_VM_MOVE, 2, 21, 43 * MS, "x");
	e.move.lock_cap = 1;
	model_apply(&m, &e);
	e = ev(VO_STAGE_VADDR, 2, 21, 44 * MS, "x");
	model_apply(&m, &e);
	model_tasks_update(&m);

	out = render_to_string(render_json, &m, &env);
	ok(out && json_line_valid(out), "json: one valid JSON value on one line");
	ok(out && strstr(out, "\"version\":1,\"seq\":3,"), "json: version and seq");
	ok(out && strstr(out, "\"host\":\"host\\\"1\""),
	   "json: strings are escaped");
	ok(out && strstr(out, "\"owner_comm\":\"q\\\"uo\\\\te\\u0001\""),
	   "json: a comm with a quote, a backslash and a control byte");
	ok(out && strstr(out, "\"bytes_mapped\":1099511627776"),
	   "json: 64-bit numbers in full");
	ok(out && strstr(out, "\"iommu_id\":2,\"owner_tgid\":21,"
			      "\"owner_comm\":\"new\""),
	   "json: the container shows its new owner");
	ok(out && strstr(out, "\"last_handoff\":{\"from_tgid\":20,"
			      "\"from_comm\":\"old\",\"to_tgid\":21"),
	   "json: the last hand-off");
	ok(out && strstr(out, "\"kind\":\"owner_close\"") &&
	   strstr(out, "\"reason\":\"exec\""), "json: close reason by name");
	ok(out && strstr(out, "\"op\":\"attach\""), "json: pin op by name");
	ok(out && strstr(out, "\"lock_cap\":true"), "json: booleans");
	ok(out && strstr(out, "\"memlock_limit\":null"),
	   "json: no limit is null");
	ok(out && strstr(out, "\"events\":5,\"events_total\":5"),
	   "json: events of the interval and in all");
	free(out);

	/* The first interval after a tick has no events and zero deltas. */
	model_tick(&m, 60 * MS);
	out = render_to_string(render_json, &m, &env);
	ok(out && json_line_valid(out) && strstr(out, "\"events\":[]"),
	   "json: an interval without events");
	free(out);
	model_fini(&m);
}

/* Every sample line: name{labels} value, the labels well quoted. */
static bool prom_lines_valid(const char *s, int *samples)
{
	const char *line = s;

	*samples = 0;
	while (*line) {
		const char *end = strchr(line, '\n'), *p = line;

		if (!end)
			return false;	/* the last line has its newline */
		if (*p == '#') {
			if (strncmp(p, "# HELP vfio_ownertop_", 21) &&
			    strncmp(p, "# TYPE vfio_ownertop_", 21))
				return false;
			line = end + 1;
			continue;
		}
		while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
			p++;
		if (p == line)
			return false;
		if (*p == '{') {
			p++;
			while (p < end && *p != '}') {
				while (isalnum((unsigned char)*p) || *p == '_')
					p++;
				if (*p++ != '=' || *p++ != '"')
					return false;
				while (p < end && *p != '"')
					p += *p == '\\' ? 2 : 1;
				if (*p++ != '"')
					return false;
				if (*p == ',')
					p++;
			}
			if (*p++ != '}')
				return false;
		}
		if (*p++ != ' ')
			return false;
		if (strncmp(p, "+Inf", 4)) {
			char *num_end;

			strtod(p, &num_end);
			if (num_end == p || num_end != end)
				return false;
		}
		(*samples)++;
		line = end + 1;
	}
	return true;
}

static void test_prometheus(void)
{
	char dir[] = "/tmp/ownertop-unit-XXXXXX", path[128];
	struct om_env env;
	struct model m;
	struct dirent *de;
	char *out, *file;
	int samples, files = 0;
	DIR *d;

	sample_model(&m);
	sample_env(&env);
	out = render_to_string(render_prom, &m, &env);
	ok(out && prom_lines_valid(out, &samples) && samples > 20,
	   "prometheus: every line is a comment or a sample");
	ok(out && strstr(out, "vfio_ownertop_container_locked_pages"
			      "{iommu_id=\"2\"} 768\n"),
	   "prometheus: locked pages per container");
	ok(out && strstr(out, "owner_comm=\"q\\\"uo\\\\te\x01\""),
	   "prometheus: label values escape quote and backslash");
	ok(out && strstr(out, "vfio_ownertop_process_memlock_limit_bytes"
			      "{pid=\"40\",comm=\"zeta\"} +Inf\n"),
	   "prometheus: an unlimited limit is +Inf");
	ok(out && strstr(out, "# TYPE vfio_ownertop_events_total counter\n"),
	   "prometheus: counters are typed");

	if (!mkdtemp(dir)) {
		ok(false, "prometheus: mkdtemp: %s", strerror(errno));
		free(out);
		model_fini(&m);
		return;
	}
	snprintf(path, sizeof(path), "%s/vfio.prom", dir);
	OK_EQ(prom_write_file(path, &m, &env), 0, "prometheus: file written");
	file = om_read_text(path, NULL);
	ok(file && out && !strcmp(file, out),
	   "prometheus: the file holds what render_prom() renders");
	d = opendir(dir);
	while (d && (de = readdir(d)))
		files += de->d_name[0] != '.';
	if (d)
		closedir(d);
	OK_EQ(files, 1, "prometheus: no temporary file left behind");
	snprintf(path, sizeof(path), "%s/missing/vfio.prom", dir);
	ok(prom_write_file(path, &m, &env) < 0,
	   "prometheus: an unwritable path is an error");
	snprintf(path, sizeof(path), "%s/vfio.prom", dir);
	unlink(path);
	rmdir(dir);
	free(file);
	free(out);
	model_fini(&m);
}

static int has_rule(const struct jd_finding *f, int n, enum jd_rule r,
		    pid_t tgid)
{
	int i;

	for (i = 0; i < n; i++)
		if (f[i].rule == r && f[i].tgid == tgid)
			return i;
	return -1;
}

static void test_judge(void)
{
	struct jd_finding f[16];
	struct om_proc p;
	struct vo_event e;
	struct model m;
	int n, i;

	sample_model(&m);
	n = jd_state(&m, 0, f, 16);
	OK_EQ(n, 0, "judge: owners charged what they own pass");

	/* pid 20: 768 pages = 3072 kB; say VmLck is 2048 kB */
	memset(&p, 0, sizeof(p));
	snprintf(p.comm, sizeof(p.comm), "alpha");
	p.vmlck_kb = 2048;
	p.memlock_unlimited = true;
	model_set_proc(&m, 20, &p);
	n = jd_state(&m, 0, f, 16);
	i = has_rule(f, n, JD_VMLCK_SHORT, 20);
	ok(n == 1 && i == 0 && f[0].iommu_id == 2 &&
	   strstr(f[0].msg, "container 2: owner pid 20 (alpha) has VmLck 2048"
		  " kB, less than the 3072 kB (768 pages)"),
	   "judge: VmLck below the vfio pages, with container, pid, numbers");

	/* More than charged and nothing mlocked: equality broken */
	p.vmlck_kb = 4096;
	model_set_proc(&m, 20, &p);
	n = jd_state(&m, 0, f, 16);
	ok(n == 1 && has_rule(f, n, JD_VMLCK_EXTRA, 20) == 0,
	   "judge: VmLck above the vfio pages without mlock");
	/* ... which mlock explains */
	p.mlocked_kb = 1024;
	model_set_proc(&m, 20, &p);
	OK_EQ(jd_state(&m, 0, f, 16), 0, "judge: mlock()ed memory explains it");

	/* The limit: 768 pages = 3 MiB over 1 MiB, without the cap */
	p.vmlck_kb = 3072;
	p.mlocked_kb = 0;
	p.memlock_unlimited = false;
	p.memlock_bytes = 1 << 20;
	model_set_proc(&m, 20, &p);
	n = jd_state(&m, 0, f, 16);
	i = has_rule(f, n, JD_MEMLOCK, 20);
	ok(n == 1 && i == 0 &&
	   strstr(f[0].msg, "container 2: owner pid 20 (alpha) has 3145728"
		  " bytes (768 pages) locked by vfio, over its RLIMIT_MEMLOCK"
		  " of 1048576 bytes, without CAP_IPC_LOCK"),
	   "judge: over RLIMIT_MEMLOCK, with container, pid, numbers");
	p.cap_ipc_lock = true;
	model_set_proc(&m, 20, &p);
	OK_EQ(jd_state(&m, 0, f, 16), 0, "judge: CAP_IPC_LOCK lifts the limit");
	p.cap_ipc_lock = false;
	model_set_proc(&m, 20, &p);

	OK_EQ(jd_state(&m, 40, f, 16), 0,
	      "judge: --pid keeps to that process' containers");
	OK_EQ(jd_state(&m, 21, f, 16), 1,
	      "judge: --pid of a holder judges the owner of its container");

	/* A holder charged for nothing. */
	p.memlock_unlimited = true;
	model_set_proc(&m, 20, &p);
	memset(&p, 0, sizeof(p));
	snprintf(p.comm, sizeof(p.comm), "helper");
	p.vmlck_kb = 3072;
	model_set_proc(&m, 21, &p);
	n = jd_state(&m, 0, f, 16);
	ok(n == 1 && has_rule(f, n, JD_VMLCK_EXTRA, 21) == 0 &&
	   strstr(f[0].msg, "container 2: pid 21 (helper) has VmLck 3072 kB"),
	   "judge: an old owner still charged is caught");

	e = ev_map(2, 21, 1, 4096, 0);
	e.dma.owner_tgid = 20;
	ok(jd_event(&m, 0, &e, f) == 1 && f[0].rule == JD_FOREIGN_PIN &&
	   strstr(f[0].msg, "container 2: pid 21 (qemu) mapped"),
	   "judge: a map by a process that is not the owner");
	e.dma.owner_tgid = 21;
	OK_EQ(jd_event(&m, 0, &e, f), 0, "judge: a map by the owner is fine");
	e.ret = -EPERM;
	e.dma.owner_tgid = 20;
	OK_EQ(jd_event(&m, 0, &e, f), 0, "judge: a refused map is fine");
	e = ev(VO_PIN_DENIED, 2, 21, 1, "x");
	OK_EQ(jd_event(&m, 0, &e, f), 1,
	      "judge: a refusal that returned 0 is not");
	e = ev(VO_LOCKED_VM_MOVE, 2, 21, 1, "x");
	e.move.new_tgid = 21;
	e.move.new_locked_vm = 300;
	e.move.new_limit = 256;
	OK_EQ(jd_event(&m, 0, &e, f), 1,
	      "judge: a move over the new owner's limit");
	e.move.lock_cap = 1;
	OK_EQ(jd_event(&m, 0, &e, f), 0, "judge: ... unless it has the cap");

	n = jd_end(&m, 0, 100, 100, f, 16);
	OK_EQ(n, 0, "judge: end: pins back, no orphan");
	n = jd_end(&m, 0, 100, 356, f, 16);
	ok(n == 1 && f[0].rule == JD_PINS_LEAKED &&
	   strstr(f[0].msg, "256 pages stay pinned"), "judge: end: a pin leak");
	memset(&p, 0, sizeof(p));
	p.gone = true;
	p.vmlck_kb = -1;
	model_set_proc(&m, 40, &p);
	n = jd_end(&m, 0, 0, 0, f, 16);
	ok(n == 1 && f[0].rule == JD_ORPHAN_PINNED && f[0].iommu_id == 4,
	   "judge: end: pages left by an owner that is gone");
	model_fini(&m);
}

static int put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_scan(void)
{
	char root[] = "/tmp/ownertop-proc-XXXXXX", p[256];
	struct om_proc pr;
	struct model m;
	int n;

	if (!mkdtemp(root)) {
		ok(false, "scan: mkdtemp: %s", strerror(errno));
		return;
	}
	/* pid 123 holds the container as fd 5; pid 124 holds /dev/null */
	snprintf(p, sizeof(p), "%s/123", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/123/fd", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/123/fdinfo", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/123/fd/5", root);
	symlink("/dev/vfio/vfio", p);
	snprintf(p, sizeof(p), "%s/123/fd/6", root);
	symlink("/dev/vfio/3", p);
	snprintf(p, sizeof(p), "%s/123/fdinfo/5", root);
	put_file(p, fdinfo_text);
	snprintf(p, sizeof(p), "%s/123/status", root);
	put_file(p, "Name:\tqemu\nState:\tS (sleeping)\nVmLck:\t3072 kB\n"
		 "CapEff:\t0000000000000000\n");
	snprintf(p, sizeof(p), "%s/123/limits", root);
	put_file(p, "Max locked memory         unlimited            unlimited"
		 "            bytes\n");
	snprintf(p, sizeof(p), "%s/124", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/124/fd", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/124/fd/3", root);
	symlink("/dev/null", p);
	snprintf(p, sizeof(p), "%s/self", root);
	mkdir(p, 0755);

	model_init(&m, 4096, 0);
	n = om_scan(&m, root);
	OK_EQ(n, 1, "scan: one container file found among the fds");
	ok(m.cur.n == 1 && m.cur.c[0].iommu_id == 7 &&
	   m.cur.c[0].nholders == 1 && m.cur.c[0].holders[0] == 123,
	   "scan: the container, with its holder");
	ok(m.ntasks == 2 && model_task(&m, 4242) && model_task(&m, 123),
	   "scan: owner and holder in the task table");
	OK_EQ(om_read_proc(root, 123, false, &pr), 0, "scan: proc read");
	ok(pr.vmlck_kb == 3072 && pr.memlock_unlimited && !pr.gone,
	   "scan: VmLck and the limit");
	OK_EQ(om_read_proc(root, 999, false, &pr), 0,
	      "scan: a process that is gone is no error");
	ok(pr.gone, "scan: ... it is gone");
	ok(om_scan(&m, "/nonexistent-proc") < 0, "scan: no procdir: an error");
	model_fini(&m);

	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	if (system(p))
		fprintf(stderr, "# could not remove %s\n", root);
}

static void test_format(void)
{
	char buf[160];
	struct vo_event e;

	ok(!strcmp(om_fmt_bytes(1023, buf, sizeof(buf)), "1023"), "fmt: bytes");
	ok(!strcmp(om_fmt_bytes(3 << 20, buf, sizeof(buf)), "3M"), "fmt: 3M");
	ok(!strcmp(om_fmt_bytes(1536, buf, sizeof(buf)), "1.5K"), "fmt: 1.5K");
	ok(!strcmp(om_fmt_ns(850, buf, sizeof(buf)), "850ns"), "fmt: ns");
	ok(!strcmp(om_fmt_ns(3100000, buf, sizeof(buf)), "3.1ms"), "fmt: ms");
	e = ev_change(2, 20, 21, 1, 3, 3 << 20);
	om_fmt_event(buf, sizeof(buf), &e);
	ok(strstr(buf, "change_owner") && strstr(buf, "old[20] -> new[21]"),
	   "fmt: a change of owner on one line");
}

int main(void)
{
	printf("TAP version 13\n");
	test_parsers();
	test_model_events();
	test_ring_and_ticks();
	test_sort_filter();
	test_json();
	test_prometheus();
	test_judge();
	test_scan();
	test_format();
	printf("1..%d\n", tests);
	if (failures)
		printf("# %d of %d failed\n", failures, tests);
	return failures ? 1 : 0;
}
