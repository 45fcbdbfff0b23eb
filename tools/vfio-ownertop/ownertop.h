/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ownertop.h - what main.c, the views and the check share: the options,
 * and the application that ties the sources, the model and the views.
 */
#ifndef OWNERTOP_H
#define OWNERTOP_H

#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>

#include "judge.h"
#include "model.h"
#include "render.h"
#include "trace.h"

/* Exit statuses, as documented in vfio-ownertop(8). */
#define OT_EXIT_OK		0
#define OT_EXIT_VIOLATION	1
#define OT_EXIT_ERROR		2

struct ot_opts {
	bool batch;		/* -b: text, no terminal control */
	bool json;		/* --json: one object per interval */
	bool quiet;		/* -q: no output besides --prometheus */
	bool verbose;		/* -v: libbpf debug output */
	enum ot_attach attach;	/* --attach */
	long iterations;	/* -n: intervals to show; 0: until stopped */
	double delay_s;		/* -d: the interval */
	const char *prom_path;	/* --prometheus FILE */
	int rows;		/* -m: rows of the batch table; 0: all */
	struct om_filter filter;	/* -p, -i, -c */
	enum om_sort sort;	/* -s */
	bool reverse;		/* -r: ascending where the default is not */
	/* check */
	bool check;		/* the "check" command */
	bool follow;		/* --follow CMD... */
	pid_t check_pid;	/* --pid */
	char **cmd;		/* the command to follow */
	double settle_s;	/* --settle: how long the end may take */
};

struct app {
	struct ot_opts o;
	struct model m;
	struct ot_trace t;
	struct om_env env;
	const char *procdir;
	struct rlimit memlock;	/* as we started, for the followed command */
	/* check: what was reported already, so that it is said once */
	int violations;
	int nreported;
	struct jd_finding reported[64];
	uint64_t rounds;	/* state judgements made */
	/* views */
	void *view;		/* the view's own state */
};

extern volatile sig_atomic_t ot_exiting;

/* Read every source into the model and bring env up to date. */
int app_refresh(struct app *a, bool smaps);
/* The end of an interval: render the view and the Prometheus file. */
int app_emit_prometheus(struct app *a);

/* check.c */
int check_run(struct app *a);
void check_report(struct app *a, const struct jd_finding *f);

/* view_curses.c: init, one redraw, a key, fini */
enum ot_key_result {
	OT_KEY_NONE,		/* nothing to do */
	OT_KEY_REDRAW,		/* view state changed: draw again */
	OT_KEY_QUIT,
};
int curses_init(struct app *a);
void curses_draw(struct app *a);
enum ot_key_result curses_key(struct app *a);
void curses_fini(struct app *a);

#endif
