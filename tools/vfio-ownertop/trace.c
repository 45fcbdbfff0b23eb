// SPDX-License-Identifier: GPL-2.0
/*
 * trace.c - load vfio_owner.bpf.c and stream its events.
 *
 * Each vfio_type1 event has a tp_btf program and a classic tracepoint one.
 * tp_btf is tried first: it needs the kernel's BTF to describe the events.
 * If it cannot be loaded, the object is opened again with the tracepoint
 * programs only, which need tracefs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "trace.h"
#include "vfio_owner.skel.h"

static const char *const event_names[] = {
	"vfio_type1_map",
	"vfio_type1_unmap",
	"vfio_type1_stage_vaddr",
	"vfio_type1_change_owner",
	"vfio_type1_locked_vm_move",
	"vfio_type1_owner_close",
	"vfio_type1_pin_denied",
};
#define NR_EVENTS (sizeof(event_names) / sizeof(event_names[0]))
_Static_assert(NR_EVENTS == OT_NR_EVENTS, "one name per vfio_type1 event");

static const char *const tracefs_dirs[] = {
	"/sys/kernel/tracing/events/vfio_type1",
	"/sys/kernel/debug/tracing/events/vfio_type1",
};

/* The module that defines the events, when vfio is built as modules. */
#define VFIO_TYPE1_MODULE_BTF "/sys/kernel/btf/vfio_iommu_type1"

static bool in_tracefs(const char *event)
{
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(tracefs_dirs) / sizeof(tracefs_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/id", tracefs_dirs[i],
			 event);
		if (!access(path, R_OK))
			return true;
	}
	return false;
}

static bool in_btf(const struct btf *vmlinux, const struct btf *module,
		   const char *event)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", event);
	if (vmlinux && btf__find_by_name_kind(vmlinux, name,
					      BTF_KIND_TYPEDEF) > 0)
		return true;
	return module && btf__find_by_name_kind(module, name,
						BTF_KIND_TYPEDEF) > 0;
}

int ot_missing_events(char *buf, size_t len, bool *btf)
{
	struct btf *vmlinux, *module = NULL;
	size_t i, off = 0;
	int missing = 0;
	bool all_btf = true;

	buf[0] = 0;
	vmlinux = btf__load_vmlinux_btf();
	if (libbpf_get_error(vmlinux))
		vmlinux = NULL;
	if (vmlinux && !access(VFIO_TYPE1_MODULE_BTF, R_OK)) {
		module = btf__parse_split(VFIO_TYPE1_MODULE_BTF, vmlinux);
		if (libbpf_get_error(module))
			module = NULL;
	}
	for (i = 0; i < NR_EVENTS; i++) {
		bool b = in_btf(vmlinux, module, event_names[i]);

		all_btf &= b;
		if (b || in_tracefs(event_names[i]))
			continue;
		missing++;
		if (off < len)
			off += snprintf(buf + off, len - off, "%s%s",
					off ? ", " : "", event_names[i]);
	}
	btf__free(module);
	btf__free(vmlinux);
	*btf = all_btf;
	return missing;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct ot_trace *t = ctx;

	if (size < sizeof(struct vo_event))
		return 0;
	t->fn(t->ctx, data);
	return 0;
}

static void set_autoload(struct vfio_owner_bpf *s, bool btf)
{
	struct bpf_program *btf_progs[] = {
		s->progs.btf_map, s->progs.btf_unmap,
		s->progs.btf_stage_vaddr, s->progs.btf_change_owner,
		s->progs.btf_locked_vm_move, s->progs.btf_owner_close,
		s->progs.btf_pin_denied,
	};
	struct bpf_program *tp_progs[] = {
		s->progs.tp_map, s->progs.tp_unmap,
		s->progs.tp_stage_vaddr, s->progs.tp_change_owner,
		s->progs.tp_locked_vm_move, s->progs.tp_owner_close,
		s->progs.tp_pin_denied,
	};
	size_t i;

	for (i = 0; i < NR_EVENTS; i++) {
		bpf_program__set_autoload(btf_progs[i], btf);
		bpf_program__set_autoload(tp_progs[i], !btf);
	}
}

/* Open with one set of programs and load it; the skeleton or NULL. */
static struct vfio_owner_bpf *open_load(pid_t tgid, uint32_t iommu_id,
					bool btf, int *err)
{
	struct vfio_owner_bpf *s = vfio_owner_bpf__open();

	if (!s) {
		*err = -errno;
		return NULL;
	}
	s->rodata->targ_tgid = tgid;
	s->rodata->targ_iommu_id = iommu_id;
	set_autoload(s, btf);
	*err = vfio_owner_bpf__load(s);
	if (*err) {
		vfio_owner_bpf__destroy(s);
		return NULL;
	}
	return s;
}

int ot_start(struct ot_trace *t, pid_t tgid, uint32_t iommu_id,
	     enum ot_attach how, bool btf, ot_event_fn fn, void *ctx)
{
	int err = -ENOENT;

	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->ctx = ctx;
	if (how == OT_ATTACH_BTF || (how == OT_ATTACH_AUTO && btf)) {
		t->skel = open_load(tgid, iommu_id, true, &err);
		if (t->skel)
			t->probe = "tp_btf";
		else if (how == OT_ATTACH_BTF)
			return err;
		else
			fprintf(stderr, "vfio-ownertop: tp_btf programs did"
				" not load (%s), trying tracepoints\n",
				strerror(-err));
	}
	if (!t->skel) {
		t->skel = open_load(tgid, iommu_id, false, &err);
		if (!t->skel)
			return err;
		t->probe = "tracepoint";
	}
	err = vfio_owner_bpf__attach(t->skel);
	if (err)
		goto fail;
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events),
				 handle_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	ot_stop(t);
	return err;
}

void ot_stop(struct ot_trace *t)
{
	ring_buffer__free(t->rb);
	vfio_owner_bpf__destroy(t->skel);
	t->rb = NULL;
	t->skel = NULL;
}

int ot_fd(const struct ot_trace *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int ot_consume(struct ot_trace *t)
{
	return ring_buffer__consume(t->rb);
}

uint64_t ot_read_maps(struct ot_trace *t, struct model *m)
{
	int fd = bpf_map__fd(t->skel->maps.tgids);
	struct vo_tgid_stats s;
	uint64_t dropped, fresh;
	size_t i;

	for (i = 0; i < m->ntasks; i++) {
		__u32 key = m->tasks[i].tgid;

		if (!bpf_map_lookup_elem(fd, &key, &s))
			model_set_bpf_tgid(m, key, &s);
	}
	dropped = __atomic_load_n(&t->skel->bss->dropped_total,
				  __ATOMIC_RELAXED);
	fresh = dropped - t->dropped_seen;
	t->dropped_seen = dropped;
	model_set_lost(m, dropped);
	return fresh;
}
