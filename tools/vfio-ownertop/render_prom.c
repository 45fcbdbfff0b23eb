// SPDX-License-Identifier: GPL-2.0
/*
 * render_prom.c - the Prometheus text exposition format, for the
 * node_exporter textfile collector.
 *
 * node_exporter may read the file at any moment: it is written to a
 * temporary file in the same directory and renamed over the old one, so a
 * reader sees the whole old file or the whole new one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "render.h"

#define P "vfio_ownertop_"

/* A label value: backslash, double quote and newline are escaped. */
static void lval(FILE *f, const char *s, size_t max)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < max && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '"')
			fprintf(f, "\\%c", s[i]);
		else if (s[i] == '\n')
			fprintf(f, "\\n");
		else
			fputc(s[i], f);
	}
	fputc('"', f);
}

static void help(FILE *f, const char *name, const char *type,
		 const char *text)
{
	fprintf(f, "# HELP " P "%s %s\n# TYPE " P "%s %s\n", name, text, name,
		type);
}

/* name{iommu_id="N"} value, for every container */
#define PER_CONTAINER(f, rows, n, name, fmt, expr) do {			\
		size_t _i;						\
		for (_i = 0; _i < (n); _i++) {				\
			const struct om_container *c = (rows)[_i].c;	\
			fprintf(f, P name "{iommu_id=\"%u\"} " fmt "\n",	\
				c->iommu_id, expr);			\
		}							\
	} while (0)

static void proc_labels(FILE *f, const struct om_task *t)
{
	fprintf(f, "{pid=\"%d\",comm=", t->tgid);
	lval(f, t->comm, OM_COMM_LEN);
	fputc('}', f);
}

int render_prom(FILE *f, const struct model *m, const struct om_env *env)
{
	struct om_row *rows = calloc(m->cur.n + 1, sizeof(*rows));
	struct om_totals t;
	size_t i, n;
	int k;

	if (!rows)
		return -1;
	model_totals(m, &t);
	n = model_rows(m, &env->filter, rows);
	model_sort(rows, n, OM_SORT_ID, false);

	help(f, "containers", "gauge", "vfio type1 containers with an IOMMU set.");
	fprintf(f, P "containers %u\n", t.containers);
	help(f, "mappings", "gauge", "DMA mappings in all containers.");
	fprintf(f, P "mappings %" PRIu64 "\n", t.mappings);
	help(f, "bytes_mapped", "gauge", "Bytes mapped for DMA in all containers.");
	fprintf(f, P "bytes_mapped %" PRIu64 "\n", t.bytes);
	help(f, "locked_pages", "gauge",
	     "Pages charged to the owners' locked_vm for DMA mappings.");
	fprintf(f, P "locked_pages %" PRIu64 "\n", t.locked_pages);
	help(f, "events_total", "counter",
	     "vfio_type1 events seen since vfio-ownertop started, by kind.");
	for (k = 1; k < VO_KIND_MAX; k++)
		fprintf(f, P "events_total{kind=\"%s\"} %" PRIu64 "\n",
			om_kind_name(k), m->by_kind[k]);
	help(f, "lost_events_total", "counter",
	     "Events the BPF program could not stream: its ring buffer was full.");
	fprintf(f, P "lost_events_total %" PRIu64 "\n", m->lost);

	help(f, "container_info", "gauge",
	     "Always 1: the container's owner and state as labels.");
	for (i = 0; i < n; i++) {
		const struct om_container *c = rows[i].c;

		fprintf(f, P "container_info{iommu_id=\"%u\",owner_pid=\"%d\","
			"owner_comm=", c->iommu_id, c->owner_tgid);
		lval(f, c->owner_comm, OM_COMM_LEN);
		fprintf(f, ",state=\"%s\"} 1\n", om_state_name(rows[i].state));
	}
	help(f, "container_mappings", "gauge", "DMA mappings of the container.");
	PER_CONTAINER(f, rows, n, "container_mappings", "%u", c->mappings);
	help(f, "container_bytes_mapped", "gauge", "Bytes the container maps.");
	PER_CONTAINER(f, rows, n, "container_bytes_mapped", "%" PRIu64,
		      c->bytes);
	help(f, "container_locked_pages", "gauge",
	     "Pages charged to the owner's locked_vm for the container.");
	PER_CONTAINER(f, rows, n, "container_locked_pages", "%" PRIu64,
		      c->locked_pages);
	help(f, "container_staged_vaddrs", "gauge",
	     "Mappings with a new vaddr staged for the next change of owner.");
	PER_CONTAINER(f, rows, n, "container_staged_vaddrs", "%u", c->staged);
	help(f, "container_handoffs_total", "counter",
	     "Changes of owner that succeeded since vfio-ownertop started.");
	PER_CONTAINER(f, rows, n, "container_handoffs_total", "%" PRIu64,
		      c->handoffs);
	help(f, "container_pins_denied_total", "counter",
	     "Attempts by a non-owner to pin that were refused.");
	PER_CONTAINER(f, rows, n, "container_pins_denied_total", "%" PRIu64,
		      c->pins_denied);
	help(f, "container_last_handoff_hold_seconds", "gauge",
	     "How long the last change of owner held the container's lock.");
	PER_CONTAINER(f, rows, n, "container_last_handoff_hold_seconds",
		      "%.9f", c->last_handoff.hold_ns / 1e9);

	help(f, "process_vfio_locked_bytes", "gauge",
	     "Locked memory vfio charged to the process for the containers it owns.");
	for (i = 0; i < m->ntasks; i++) {
		if (!m->tasks[i].owned)
			continue;
		fprintf(f, P "process_vfio_locked_bytes");
		proc_labels(f, &m->tasks[i]);
		fprintf(f, " %" PRIu64 "\n",
			m->tasks[i].vfio_pages * m->page_size);
	}
	help(f, "process_vmlck_bytes", "gauge",
	     "VmLck of the process: its mm's locked_vm.");
	for (i = 0; i < m->ntasks; i++) {
		const struct om_task *tk = &m->tasks[i];

		if (!tk->have_proc || tk->proc.vmlck_kb < 0)
			continue;
		fprintf(f, P "process_vmlck_bytes");
		proc_labels(f, tk);
		fprintf(f, " %" PRIu64 "\n", (uint64_t)tk->proc.vmlck_kb * 1024);
	}
	help(f, "process_memlock_limit_bytes", "gauge",
	     "RLIMIT_MEMLOCK of the process; +Inf when unlimited or with CAP_IPC_LOCK.");
	for (i = 0; i < m->ntasks; i++) {
		const struct om_task *tk = &m->tasks[i];

		if (!tk->have_proc || tk->proc.gone)
			continue;
		fprintf(f, P "process_memlock_limit_bytes");
		proc_labels(f, tk);
		if (tk->proc.memlock_unlimited || tk->proc.cap_ipc_lock)
			fprintf(f, " +Inf\n");
		else
			fprintf(f, " %" PRIu64 "\n", tk->proc.memlock_bytes);
	}
	free(rows);
	return ferror(f) ? -EIO : 0;
}

int prom_write_file(const char *path, const struct model *m,
		    const struct om_env *env)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto fail;
	}
	err = render_prom(f, m, env);
	if (!err && (fflush(f) || fsync(fileno(f))))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (!err)
		return 0;
fail:
	unlink(tmp);
	return err;
}
