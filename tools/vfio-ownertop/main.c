// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-ownertop - who owns the DMA mappings of vfio type1 containers, and
 * what they cost in locked memory, live.
 *
 * Sources: the fdinfo of every container file, read at start and at every
 * interval, and the vfio_type1 trace events streamed by vfio_owner.bpf.c.
 * They feed one model (model.c); the views (batch text, JSON, Prometheus
 * textfile, curses) render it and "check" judges it (check.c, judge.c).
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "ownertop.h"
#include "source.h"

volatile sig_atomic_t ot_exiting;

const char *argp_program_version = "vfio-ownertop 1.0";
const char *argp_program_bug_address = "<devel@vfio-dma-owner.invalid>";
/* Usage errors exit with 2, as every other error of the command line. */
error_t argp_err_exit_status = OT_EXIT_ERROR;

static const char top_doc[] =
"Show who owns the DMA mappings of vfio type1 containers, the locked\n"
"memory charged for them, and every change of owner, as it happens.\n"
"\n"
"USAGE: vfio-ownertop [OPTIONS]\n"
"       vfio-ownertop check [--pid PID] [--follow CMD [ARG...]]\n"
"\n"
"Needs root and a kernel with the vfio_type1 tracepoints.  On a terminal\n"
"the view is interactive (press h for its keys); otherwise, or with -b,\n"
"it prints one report per interval.  Run \"vfio-ownertop check --help\"\n"
"for the check.\n"
"\n"
"EXAMPLES:\n"
"    vfio-ownertop                   # interactive, refresh every second\n"
"    vfio-ownertop -b -n 5 -d 2      # 5 text reports, 2 s apart\n"
"    vfio-ownertop -b --json -d 0.5  # one JSON object per line, 2 per s\n"
"    vfio-ownertop -p 4242           # containers pid 4242 owns or holds\n"
"    vfio-ownertop -s locked         # sort by locked pages\n"
"    vfio-ownertop -q --prometheus /var/lib/node_exporter/vfio.prom\n"
"    vfio-ownertop check --follow ./live-update-test\n"
"\n"
"OPTIONS:";

static const char check_doc[] =
"Check the accounting of vfio DMA mappings: every owner's VmLck covers\n"
"the pages vfio charged it (equals them when it has nothing mlock()ed),\n"
"no owner holds more than its RLIMIT_MEMLOCK without CAP_IPC_LOCK, and\n"
"only owners pin.  With --follow, run CMD, check at every event while it\n"
"runs, and at its end check that nothing stays pinned.\n"
"\n"
"USAGE: vfio-ownertop check [--pid PID] [--settle SEC] [--follow CMD [ARG...]]\n"
"\n"
"Exit status: 0 all checks pass; 1 a violation (or CMD failed);\n"
"2 usage or environment error.\n"
"\n"
"EXAMPLES:\n"
"    vfio-ownertop check                  # every container, now\n"
"    vfio-ownertop check --pid 4242       # the containers of pid 4242\n"
"    vfio-ownertop check --follow qemu-cpr-test --fast\n"
"\n"
"OPTIONS:";

enum {
	OPT_JSON = 0x100,
	OPT_PROMETHEUS,
	OPT_SETTLE,
	OPT_ATTACH,
};

static const struct argp_option top_opts[] = {
	{ "batch", 'b', NULL, 0, "Text reports, one per interval (as top -b)", 0 },
	{ "iterations", 'n', "N", 0, "Stop after N intervals", 0 },
	{ "delay", 'd', "SEC", 0, "Interval in seconds, default 1 (fractions allowed)", 0 },
	{ "json", OPT_JSON, NULL, 0, "One JSON object per interval, one per line", 0 },
	{ "prometheus", OPT_PROMETHEUS, "FILE", 0, "Write FILE for the node_exporter textfile collector at every interval", 0 },
	{ "quiet", 'q', NULL, 0, "No report on stdout (with --prometheus)", 0 },
	{ "pid", 'p', "PID", 0, "Only containers PID owns or holds; only events naming PID", 0 },
	{ "iommu", 'i', "ID", 0, "Only the container with this iommu id", 0 },
	{ "comm", 'c', "TEXT", 0, "Only containers whose owner or holder comm has TEXT", 0 },
	{ "sort", 's', "COL", 0, "Sort by id, owner, comm, mappings, bytes, locked, limit, staged, state, handoff or hold", 0 },
	{ "reverse", 'r', NULL, 0, "Reverse the sort order", 0 },
	{ "rows", 'm', "N", 0, "At most N rows in batch reports", 0 },
	{ "attach", OPT_ATTACH, "HOW", 0, "auto (default), tp_btf or tracepoint: which BPF programs to attach", 0 },
	{ "verbose", 'v', NULL, 0, "libbpf debug output", 0 },
	{},
};

static const struct argp_option check_opts[] = {
	{ "pid", 'p', "PID", 0, "Only the containers PID owns or holds, and their owners", 0 },
	{ "follow", 'f', NULL, 0, "Run the command given after the options and check while it runs", 0 },
	{ "settle", OPT_SETTLE, "SEC", 0, "How long the end of CMD may take to release its pins, default 5", 0 },
	{ "attach", OPT_ATTACH, "HOW", 0, "auto (default), tp_btf or tracepoint: which BPF programs to attach", 0 },
	{ "verbose", 'v', NULL, 0, "libbpf debug output", 0 },
	{},
};

/* A whole number in [min, max], or argp_error(). */
static long parse_long(struct argp_state *state, const char *what,
		       const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		argp_error(state, "invalid %s '%s': want a whole number from"
			   " %ld to %ld", what, arg, min, max);
	return v;
}

static double parse_seconds(struct argp_state *state, const char *what,
			    const char *arg, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < min || v > max)
		argp_error(state, "invalid %s '%s': want seconds from %g to %g",
			   what, arg, min, max);
	return v;
}

static enum ot_attach parse_attach(struct argp_state *state,
				   const char *arg)
{
	if (!strcmp(arg, "auto"))
		return OT_ATTACH_AUTO;
	if (!strcmp(arg, "tp_btf"))
		return OT_ATTACH_BTF;
	if (!strcmp(arg, "tracepoint"))
		return OT_ATTACH_TRACEPOINT;
	argp_error(state, "--attach wants auto, tp_btf or tracepoint, not"
		   " '%s'", arg);
	return OT_ATTACH_AUTO;
}

static error_t parse_top(int key, char *arg, struct argp_state *state)
{
	struct ot_opts *o = state->input;
	int s;

	switch (key) {
	case OPT_ATTACH:
		o->attach = parse_attach(state, arg);
		break;
	case 'b':
		o->batch = true;
		break;
	case 'n':
		o->iterations = parse_long(state, "iteration count", arg, 1,
					   LONG_MAX);
		break;
	case 'd':
		o->delay_s = parse_seconds(state, "delay", arg, 0.05, 86400);
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_PROMETHEUS:
		if (!*arg)
			argp_error(state, "--prometheus wants a file name");
		o->prom_path = arg;
		break;
	case 'q':
		o->quiet = true;
		break;
	case 'p':
		o->filter.pid = parse_long(state, "pid", arg, 1, INT_MAX);
		break;
	case 'i':
		o->filter.iommu_id = parse_long(state, "iommu id", arg, 1,
						UINT32_MAX);
		break;
	case 'c':
		if (strlen(arg) >= sizeof(o->filter.comm))
			argp_error(state, "comm '%s' is longer than %zu"
				   " characters", arg,
				   sizeof(o->filter.comm) - 1);
		snprintf(o->filter.comm, sizeof(o->filter.comm), "%s", arg);
		break;
	case 's':
		s = om_sort_parse(arg);
		if (s < 0)
			argp_error(state, "unknown sort column '%s'", arg);
		o->sort = s;
		break;
	case 'r':
		o->reverse = true;
		break;
	case 'm':
		o->rows = parse_long(state, "row count", arg, 1, INT_MAX);
		break;
	case 'v':
		o->verbose = true;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (o->quiet && !o->prom_path)
			argp_error(state, "-q leaves nothing to show without"
				   " --prometheus");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static error_t parse_check(int key, char *arg, struct argp_state *state)
{
	struct ot_opts *o = state->input;

	switch (key) {
	case OPT_ATTACH:
		o->attach = parse_attach(state, arg);
		break;
	case 'p':
		o->check_pid = parse_long(state, "pid", arg, 1, INT_MAX);
		break;
	case 'f':
		o->follow = true;
		break;
	case OPT_SETTLE:
		o->settle_s = parse_seconds(state, "settle time", arg, 0,
					    3600);
		break;
	case 'v':
		o->verbose = true;
		break;
	case ARGP_KEY_ARG:
		/* The command and its own options: stop parsing ours. */
		if (!o->follow)
			argp_error(state, "'%s': a command is only taken"
				   " with --follow", arg);
		o->cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (o->follow && !o->cmd)
			argp_error(state, "--follow wants a command");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void on_signal(int sig)
{
	(void)sig;
	ot_exiting = 1;
}

/* Every event, straight from the ring buffer. */
static void on_event(void *ctx, const struct vo_event *e)
{
	struct app *a = ctx;
	struct jd_finding f;

	model_apply(&a->m, e);
	if (a->o.check && jd_event(&a->m, a->o.check_pid, e, &f))
		check_report(a, &f);
}

int app_refresh(struct app *a, bool smaps)
{
	struct timespec wall;
	int n;

	ot_consume(&a->t);
	n = om_scan(&a->m, a->procdir);
	if (n < 0)
		return n;
	om_refresh_procs(&a->m, a->procdir, smaps);
	ot_read_maps(&a->t, &a->m);

	clock_gettime(CLOCK_REALTIME, &wall);
	a->env.wall = wall.tv_sec + wall.tv_nsec / 1e9;
	a->env.now_ns = om_now_ns();
	a->env.interval_s = (a->env.now_ns - a->m.interval_start_ns) / 1e9;
	return 0;
}

int app_emit_prometheus(struct app *a)
{
	int err;

	if (!a->o.prom_path)
		return 0;
	err = prom_write_file(a->o.prom_path, &a->m, &a->env);
	if (err)
		fprintf(stderr, "vfio-ownertop: cannot write %s: %s\n",
			a->o.prom_path, strerror(-err));
	return err;
}

enum view_kind { VIEW_CURSES, VIEW_BATCH, VIEW_JSON, VIEW_NONE };

/* One interval: read, render, and start the next. */
static int interval(struct app *a, enum view_kind view)
{
	int err = app_refresh(a, false);

	if (err) {
		fprintf(stderr, "vfio-ownertop: cannot read %s: %s\n",
			a->procdir, strerror(-err));
		return err;
	}
	a->env.seq++;
	switch (view) {
	case VIEW_CURSES:
		curses_draw(a);
		break;
	case VIEW_BATCH:
		err = render_batch(stdout, &a->m, &a->env, a->o.rows);
		break;
	case VIEW_JSON:
		err = render_json(stdout, &a->m, &a->env);
		break;
	case VIEW_NONE:
		break;
	}
	if (err)
		return -EIO;	/* stdout went away: stop */
	app_emit_prometheus(a);
	return model_tick(&a->m, a->env.now_ns);
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_RING, TAG_TIMER, TAG_INPUT };

static int run_top(struct app *a, enum view_kind view)
{
	struct itimerspec its = { 0 };
	struct epoll_event evs[4];
	int epfd, tfd = -1, err = 0, i, n;
	long done = 0;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (epfd < 0 || tfd < 0) {
		err = -errno;
		goto out;
	}
	its.it_value.tv_sec = (time_t)a->o.delay_s;
	its.it_value.tv_nsec = (long)((a->o.delay_s -
				       (double)its.it_value.tv_sec) * 1e9);
	its.it_interval = its.it_value;
	if (timerfd_settime(tfd, 0, &its, NULL) ||
	    epoll_add(epfd, ot_fd(&a->t), TAG_RING) ||
	    epoll_add(epfd, tfd, TAG_TIMER) ||
	    (view == VIEW_CURSES && epoll_add(epfd, STDIN_FILENO, TAG_INPUT))) {
		err = -errno;
		goto out;
	}

	/* The first report shows the state found at start. */
	err = interval(a, view);
	done++;
	while (!err && !ot_exiting &&
	       (!a->o.iterations || done < a->o.iterations)) {
		n = epoll_wait(epfd, evs, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (i = 0; i < n && !err; i++) {
			uint64_t ticks;

			switch (evs[i].data.u32) {
			case TAG_RING:
				if (ot_consume(&a->t) < 0)
					err = -EIO;
				break;
			case TAG_TIMER:
				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					break;
				err = interval(a, view);
				done++;
				break;
			case TAG_INPUT:
				switch (curses_key(a)) {
				case OT_KEY_QUIT:
					ot_exiting = 1;
					break;
				case OT_KEY_REDRAW:
					curses_draw(a);
					break;
				case OT_KEY_NONE:
					break;
				}
				break;
			}
		}
	}
out:
	if (tfd >= 0)
		close(tfd);
	if (epfd >= 0)
		close(epfd);
	return err;
}

static void app_env_init(struct app *a)
{
	struct utsname u;

	if (!uname(&u)) {
		snprintf(a->env.host, sizeof(a->env.host), "%s", u.nodename);
		snprintf(a->env.kernel, sizeof(a->env.kernel), "%s", u.release);
	}
	a->env.filter = a->o.filter;
	a->env.sort = a->o.sort;
	/* Counts read best from the largest; ids and names from the first. */
	a->env.descending = a->o.sort != OM_SORT_ID &&
			    a->o.sort != OM_SORT_COMM &&
			    a->o.sort != OM_SORT_OWNER;
	if (a->o.reverse)
		a->env.descending = !a->env.descending;
}

static int parse_args(int argc, char **argv, struct ot_opts *o)
{
	static const struct argp top_argp = {
		.options = top_opts,
		.parser = parse_top,
		.doc = top_doc,
	};
	static const struct argp check_argp = {
		.options = check_opts,
		.parser = parse_check,
		.doc = check_doc,
	};

	o->delay_s = 1.0;
	o->settle_s = 5.0;
	o->sort = OM_SORT_ID;
	if (argc > 1 && !strcmp(argv[1], "check")) {
		o->check = true;
		argv[1] = "vfio-ownertop check";
		return argp_parse(&check_argp, argc - 1, argv + 1,
				  ARGP_IN_ORDER, NULL, o);
	}
	return argp_parse(&top_argp, argc, argv, 0, NULL, o);
}

int main(int argc, char **argv)
{
	static struct app app;	/* large: not on the stack */
	struct app *a = &app;
	enum view_kind view;
	char missing[256];
	struct sigaction sa;
	bool btf, curses = false;
	int err, n, ret = OT_EXIT_ERROR;

	if (parse_args(argc, argv, &a->o))
		return OT_EXIT_ERROR;
	verbose = a->o.verbose;
	a->procdir = OM_PROCDIR;
	getrlimit(RLIMIT_MEMLOCK, &a->memlock);
	setlocale(LC_ALL, "");
	libbpf_set_print(libbpf_print);
	app_env_init(a);

	if (a->o.check)
		view = VIEW_NONE;
	else if (a->o.json)
		view = VIEW_JSON;
	else if (a->o.quiet)
		view = VIEW_NONE;
	else if (a->o.batch || !isatty(STDOUT_FILENO) ||
		 !isatty(STDIN_FILENO))
		view = VIEW_BATCH;
	else
		view = VIEW_CURSES;

	n = ot_missing_events(missing, sizeof(missing), &btf);
	if (n) {
		fprintf(stderr, "vfio-ownertop: kernel %s lacks %s of the"
			" vfio_type1 tracepoints (%s): it needs a kernel"
			" built with the vfio DMA owner patches"
			" (VFIO_CHANGE_DMA_OWNER, with vfio_type1 trace"
			" events) and CONFIG_VFIO_IOMMU_TYPE1.\n",
			a->env.kernel, n == OT_NR_EVENTS ? "all" : "some",
			missing);
		return OT_EXIT_ERROR;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL)) {
		fprintf(stderr, "vfio-ownertop: cannot set signal handlers:"
			" %s\n", strerror(errno));
		return OT_EXIT_ERROR;
	}

	err = model_init(&a->m, sysconf(_SC_PAGESIZE), om_now_ns());
	if (err)
		goto cleanup;
	/* Checks see everything: their scope is decided when judging. */
	err = ot_start(&a->t, a->o.check ? 0 : a->o.filter.pid,
		       a->o.check ? 0 : a->o.filter.iommu_id, a->o.attach, btf,
		       on_event, a);
	if (err) {
		fprintf(stderr, "vfio-ownertop: cannot load the BPF programs:"
			" %s%s\n", strerror(-err),
			err == -EPERM ? " (run as root: it needs CAP_BPF and"
			" CAP_PERFMON)" : "");
		goto cleanup;
	}
	a->env.probe = a->t.probe;

	if (a->o.check) {
		ret = check_run(a);
		goto cleanup;
	}
	if (view == VIEW_CURSES) {
		err = curses_init(a);
		if (err) {
			fprintf(stderr, "vfio-ownertop: cannot start the"
				" interactive view; use -b\n");
			goto cleanup;
		}
		curses = true;
	}
	err = run_top(a, view);
	if (curses) {
		curses_fini(a);
		curses = false;
	}
	if (err && err != -EIO)
		fprintf(stderr, "vfio-ownertop: %s\n", strerror(-err));
	ret = err && err != -EIO ? OT_EXIT_ERROR : OT_EXIT_OK;

cleanup:
	if (curses)
		curses_fini(a);
	ot_stop(&a->t);
	model_fini(&a->m);
	return ret;
}
