/* SPDX-License-Identifier: GPL-2.0 */
/*
 * render.h - turning the model into text: shared formatting helpers, the
 * JSON and Prometheus renderers, and the views.  None of them changes the
 * model.
 */
#ifndef OWNERTOP_RENDER_H
#define OWNERTOP_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* What a renderer needs besides the model. */
struct om_env {
	char host[65];		/* nodename */
	char kernel[65];	/* release */
	const char *probe;	/* "tp_btf" or "tracepoint" */
	double wall;		/* seconds since the epoch, at the refresh */
	uint64_t now_ns;	/* CLOCK_MONOTONIC, at the refresh */
	double interval_s;	/* length of the interval being shown */
	uint64_t seq;		/* interval number, from 1 */
	struct om_filter filter;
	enum om_sort sort;
	bool descending;
};

/* "3.0M", "768K", "12" (bytes, powers of 1024) */
const char *om_fmt_bytes(uint64_t bytes, char *buf, size_t len);
/* "850ns", "12.3us", "4.5ms", "1.20s" */
const char *om_fmt_ns(uint64_t ns, char *buf, size_t len);
/* The owner's RLIMIT_MEMLOCK: "unlimited", "cap" (CAP_IPC_LOCK), "64K" */
const char *om_fmt_limit(const struct om_task *t, char *buf, size_t len);
/* One event on one line, without a trailing newline. */
int om_fmt_event(char *buf, size_t len, const struct vo_event *e);

/* One JSON object on one line for the current interval. */
int render_json(FILE *f, const struct model *m, const struct om_env *env);
/* The node_exporter textfile format. */
int render_prom(FILE *f, const struct model *m, const struct om_env *env);
/* render_prom() into @path through a temporary file and rename(). */
int prom_write_file(const char *path, const struct model *m,
		    const struct om_env *env);

/* top -b style text for one interval. */
int render_batch(FILE *f, const struct model *m, const struct om_env *env,
		 int max_rows);

#endif
