// SPDX-License-Identifier: GPL-2.0
/*
 * view_curses.c - the interactive view: a header with the totals, one row
 * per container, and the latest events.
 *
 * It redraws at every interval and after a key, into curses' buffer: only
 * what changed reaches the terminal, so nothing flickers.  Colour is used
 * only when the terminal has it and NO_COLOR is unset or empty.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>

#include "ownertop.h"

enum { PAIR_HEAD = 1, PAIR_STAGING, PAIR_HANDOFF, PAIR_ORPHANED, PAIR_SORT };

struct cview {
	bool color;
	bool paused;
	bool help;
	bool events;		/* the event pane is shown */
	bool force;		/* draw even when paused */
	uint64_t since_seq;	/* the event pane starts here (after a reset) */
	char status[96];	/* a one-off message under the header */
};

/* Columns, in the order of enum om_sort, with the key that sorts by each. */
static const struct column {
	const char *title;
	int width;		/* negative: left-aligned */
	int key;
} columns[OM_SORT_MAX] = {
	[OM_SORT_ID] = { "IOMMU", 5, 'i' },
	[OM_SORT_OWNER] = { "OWNER", 7, 'o' },
	[OM_SORT_COMM] = { "COMM", -15, 'c' },
	[OM_SORT_MAPPINGS] = { "MAPS", 5, 'm' },
	[OM_SORT_BYTES] = { "BYTES", 7, 'b' },
	[OM_SORT_LOCKED] = { "LOCKED", 8, 'l' },
	[OM_SORT_LIMIT] = { "LIMIT", 9, 'L' },
	[OM_SORT_STAGED] = { "STAGED", 7, 's' },
	[OM_SORT_STATE] = { "STATE", -11, 'S' },
	[OM_SORT_HANDOFF] = { "HANDOFF", 9, 't' },
	[OM_SORT_HOLD] = { "HOLD", 8, 'd' },
};

static const char *const help_lines[] = {
	"vfio-ownertop keys",
	"",
	"  i o c m b l L s S t d   sort by iommu id, owner, comm, mappings,",
	"                          bytes, locked pages, limit, staged, state,",
	"                          last hand-off, its lock hold time",
	"  < >                     sort by the previous / next column",
	"  r                       reverse the sort order",
	"  f                       filter: a pid, or text in a comm",
	"  F                       clear the filter",
	"  space, p                pause / resume the display",
	"  z                       reset counters, hand-offs and events",
	"  e                       show / hide the event pane",
	"  h, ?                    this help (any key closes it)",
	"  q                       quit",
	"",
	"STATE: idle; staging (some new vaddrs staged); handing off (all",
	"staged, VFIO_CHANGE_DMA_OWNER due); orphaned (owner gone or closing).",
	"HANDOFF: time since the last change of owner; HOLD: how long it held",
	"the container lock.  LIMIT: the owner's RLIMIT_MEMLOCK, or cap.",
};

static struct cview *cv(struct app *a)
{
	return a->view;
}

int curses_init(struct app *a)
{
	const char *no_color = getenv("NO_COLOR");
	struct cview *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (!initscr()) {
		free(v);
		return -ENOTTY;
	}
	a->view = v;
	v->events = true;
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	v->color = has_colors() && !(no_color && no_color[0]);
	if (v->color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_HEAD, COLOR_CYAN, -1);
		init_pair(PAIR_STAGING, COLOR_YELLOW, -1);
		init_pair(PAIR_HANDOFF, COLOR_GREEN, -1);
		init_pair(PAIR_ORPHANED, COLOR_RED, -1);
		init_pair(PAIR_SORT, COLOR_BLACK, COLOR_CYAN);
	}
	return 0;
}

void curses_fini(struct app *a)
{
	endwin();
	free(a->view);
	a->view = NULL;
}

static attr_t state_attr(const struct cview *v, enum om_state s)
{
	if (!v->color)
		return s == OM_ORPHANED ? A_BOLD : A_NORMAL;
	switch (s) {
	case OM_STAGING:
		return COLOR_PAIR(PAIR_STAGING);
	case OM_HANDING_OFF:
		return COLOR_PAIR(PAIR_HANDOFF) | A_BOLD;
	case OM_ORPHANED:
		return COLOR_PAIR(PAIR_ORPHANED) | A_BOLD;
	default:
		return A_NORMAL;
	}
}

static void draw_header(struct app *a, struct cview *v, int *y)
{
	const struct model *m = &a->m;
	const struct om_task *tight = NULL;
	char ts[16], b1[16], b2[16];
	struct om_totals t;
	time_t now = (time_t)a->env.wall;
	uint64_t charged = 0;
	double worst = -1;
	struct tm tm;
	size_t i;

	model_totals(m, &t);
	/* The owner closest to its RLIMIT_MEMLOCK. */
	for (i = 0; i < m->ntasks; i++) {
		const struct om_task *tk = &m->tasks[i];
		double use;

		if (!tk->owned)
			continue;
		charged += tk->vfio_pages;
		if (!tk->have_proc || tk->proc.cap_ipc_lock ||
		    tk->proc.memlock_unlimited)
			use = 0;
		else
			use = tk->proc.memlock_bytes ?
			      (double)tk->vfio_pages * m->page_size /
			      tk->proc.memlock_bytes : 1e9;
		if (use > worst) {
			worst = use;
			tight = tk;
		}
	}
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);

	attron(A_BOLD);
	mvprintw((*y)++, 0, "vfio-ownertop - %s  host %s  kernel %s  via %s%s",
		 ts, a->env.host, a->env.kernel, a->env.probe,
		 v->paused ? "  [paused]" : "");
	attroff(A_BOLD);
	mvprintw((*y)++, 0, "Containers: %u (%u owned, %u staging, %u handing"
		 " off, %u orphaned)  mappings: %" PRIu64 "  pinned: %s"
		 " (%" PRIu64 " pages)", t.containers, t.owned,
		 t.states[OM_STAGING], t.states[OM_HANDING_OFF],
		 t.states[OM_ORPHANED], t.mappings,
		 om_fmt_bytes(t.bytes, b1, sizeof(b1)), t.locked_pages);
	if (tight && worst <= 0)
		mvprintw((*y)++, 0, "locked_vm charged: %s to %u owner%s;"
			 " no RLIMIT_MEMLOCK applies (unlimited or"
			 " CAP_IPC_LOCK)",
			 om_fmt_bytes(charged * m->page_size, b1, sizeof(b1)),
			 t.owners, t.owners == 1 ? "" : "s");
	else if (tight)
		mvprintw((*y)++, 0, "locked_vm charged: %s to %u owner%s;"
			 " closest to its limit: %s[%d] %s of %s",
			 om_fmt_bytes(charged * m->page_size, b1, sizeof(b1)),
			 t.owners, t.owners == 1 ? "" : "s", tight->comm,
			 tight->tgid,
			 om_fmt_bytes(tight->vfio_pages * m->page_size, b2,
				      sizeof(b2)),
			 om_fmt_limit(tight, ts, sizeof(ts)));
	else
		mvprintw((*y)++, 0, "locked_vm charged: 0 (no owner)");
	mvprintw((*y)++, 0, "events: %" PRIu64 " (+%" PRIu64 ")  lost: %"
		 PRIu64 "  sort: %s%s  filter: ", m->nevents,
		 model_interval_events(m), m->lost,
		 om_sort_name(a->env.sort), a->env.descending ? " (desc)" : "");
	if (a->env.filter.pid)
		printw("pid %d", a->env.filter.pid);
	else if (a->env.filter.comm[0])
		printw("comm ~ '%s'", a->env.filter.comm);
	else
		printw("none");
	printw("   h: help");
	if (v->status[0])
		mvprintw((*y)++, 0, "%s", v->status);
}

static void draw_table(struct app *a, struct cview *v, int *y, int last)
{
	const struct model *m = &a->m;
	struct om_row *rows = calloc(m->cur.n + 1, sizeof(*rows));
	char b1[16], b2[16], staged[24], ago[16], hold[16];
	size_t i, n;
	int k, x = 0;

	(*y)++;
	move(*y, 0);
	for (k = 0; k < OM_SORT_MAX; k++) {
		const struct column *c = &columns[k];
		attr_t at = k == (int)a->env.sort ?
			    (v->color ? COLOR_PAIR(PAIR_SORT) : A_REVERSE) :
			    A_BOLD;

		attron(at);
		mvprintw(*y, x, "%*s", c->width, c->title);
		attroff(at);
		x += abs(c->width) + 1;
	}
	(*y)++;
	if (!rows) {
		mvprintw((*y)++, 0, "out of memory");
		return;
	}
	n = model_rows(m, &a->env.filter, rows);
	model_sort(rows, n, a->env.sort, a->env.descending);
	for (i = 0; i < n && *y < last; i++, (*y)++) {
		const struct om_container *c = rows[i].c;
		const struct om_handoff *h = &c->last_handoff;

		snprintf(staged, sizeof(staged), "%u/%u", c->staged,
			 c->mappings);
		snprintf(ago, sizeof(ago), "-");
		snprintf(hold, sizeof(hold), "-");
		if (h->ts_ns) {
			om_fmt_ns(a->env.now_ns > h->ts_ns ?
				  a->env.now_ns - h->ts_ns : 0, ago,
				  sizeof(ago));
			om_fmt_ns(h->hold_ns, hold, sizeof(hold));
		}
		mvprintw(*y, 0, "%5u %7d %-15.15s %5u %7s %8" PRIu64 " %9s"
			 " %7s ", c->iommu_id, c->owner_tgid,
			 c->owner_comm[0] ? c->owner_comm : "-", c->mappings,
			 om_fmt_bytes(c->bytes, b1, sizeof(b1)),
			 c->locked_pages,
			 om_fmt_limit(rows[i].owner, b2, sizeof(b2)), staged);
		attron(state_attr(v, rows[i].state));
		printw("%-11s", om_state_name(rows[i].state));
		attroff(state_attr(v, rows[i].state));
		printw(" %9s %8s", ago, hold);
	}
	if (!n)
		mvprintw((*y)++, 0, a->m.cur.n ? "(no container matches the"
			 " filter)" : "(no vfio type1 container)");
	free(rows);
}

static void draw_events(struct app *a, struct cview *v, int y, int rows)
{
	const struct model *m = &a->m;
	uint64_t first, seq;
	char line[256];

	if (rows < 2)
		return;
	if (v->color)
		attron(COLOR_PAIR(PAIR_HEAD));
	mvhline(y, 0, ACS_HLINE, COLS);
	mvprintw(y, 2, " events ");
	if (v->color)
		attroff(COLOR_PAIR(PAIR_HEAD));
	y++;
	rows--;
	first = m->nevents > (uint64_t)rows ? m->nevents - rows : 0;
	if (first < v->since_seq)
		first = v->since_seq;
	for (seq = first; seq < m->nevents; seq++, y++) {
		const struct vo_event *e = model_event(m, seq);

		if (!e)
			continue;
		om_fmt_event(line, sizeof(line), e);
		mvprintw(y, 0, "%10.3f %.*s",
			 e->ts_ns > m->start_ns ?
			 (e->ts_ns - m->start_ns) / 1e9 : 0.0,
			 COLS > 12 ? COLS - 12 : 0, line);
	}
}

static void draw_help(void)
{
	size_t i;

	for (i = 0; i < sizeof(help_lines) / sizeof(help_lines[0]); i++)
		mvprintw(i + 1, 2, "%s", help_lines[i]);
}

void curses_draw(struct app *a)
{
	struct cview *v = cv(a);
	int y = 0, pane, table_end;

	if (!v || (v->paused && !v->force))
		return;
	v->force = false;
	erase();
	if (v->help) {
		draw_help();
		refresh();
		return;
	}
	draw_header(a, v, &y);
	pane = v->events ? LINES / 3 : 0;
	table_end = LINES - pane;
	draw_table(a, v, &y, table_end);
	if (pane)
		draw_events(a, v, table_end, pane);
	refresh();
}

/* Ask for a filter on the bottom line; blocks until Enter or Escape. */
static void prompt_filter(struct app *a, struct cview *v)
{
	struct om_filter *f = &a->env.filter;
	char buf[32] = "";
	char *end;
	long pid;

	move(LINES - 1, 0);
	clrtoeol();
	printw("filter (pid or comm text, empty: none): ");
	echo();
	curs_set(1);
	nodelay(stdscr, FALSE);
	getnstr(buf, sizeof(buf) - 1);
	nodelay(stdscr, TRUE);
	curs_set(0);
	noecho();

	f->pid = 0;
	f->comm[0] = 0;
	v->status[0] = 0;
	if (!buf[0])
		return;
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (!errno && !*end && pid > 0 && pid <= INT_MAX)
		f->pid = pid;
	else if (strlen(buf) < sizeof(f->comm))
		snprintf(f->comm, sizeof(f->comm), "%s", buf);
	else
		snprintf(v->status, sizeof(v->status), "filter '%s' is"
			 " longer than a comm; not applied", buf);
}

static void set_sort(struct app *a, enum om_sort s)
{
	if (a->env.sort == s) {
		a->env.descending = !a->env.descending;
		return;
	}
	a->env.sort = s;
	a->env.descending = s != OM_SORT_ID && s != OM_SORT_COMM &&
			    s != OM_SORT_OWNER;
}

static enum ot_key_result one_key(struct app *a, struct cview *v, int ch)
{
	int k;

	if (v->help) {
		v->help = false;
		return OT_KEY_REDRAW;
	}
	for (k = 0; k < OM_SORT_MAX; k++)
		if (ch == columns[k].key) {
			set_sort(a, k);
			return OT_KEY_REDRAW;
		}
	switch (ch) {
	case 'q':
	case 'Q':
		return OT_KEY_QUIT;
	case 'h':
	case '?':
		v->help = true;
		return OT_KEY_REDRAW;
	case ' ':
	case 'p':
		v->paused = !v->paused;
		return OT_KEY_REDRAW;
	case '<':
		set_sort(a, (a->env.sort + OM_SORT_MAX - 1) % OM_SORT_MAX);
		return OT_KEY_REDRAW;
	case '>':
		set_sort(a, (a->env.sort + 1) % OM_SORT_MAX);
		return OT_KEY_REDRAW;
	case 'r':
		a->env.descending = !a->env.descending;
		return OT_KEY_REDRAW;
	case 'f':
		prompt_filter(a, v);
		return OT_KEY_REDRAW;
	case 'F':
		a->env.filter.pid = 0;
		a->env.filter.comm[0] = 0;
		return OT_KEY_REDRAW;
	case 'z':
		model_reset(&a->m, a->env.now_ns);
		v->since_seq = a->m.nevents;
		return OT_KEY_REDRAW;
	case 'e':
		v->events = !v->events;
		return OT_KEY_REDRAW;
	case KEY_RESIZE:
		return OT_KEY_REDRAW;
	default:
		return OT_KEY_NONE;
	}
}

enum ot_key_result curses_key(struct app *a)
{
	enum ot_key_result res = OT_KEY_NONE, r;
	struct cview *v = cv(a);
	int ch;

	while ((ch = getch()) != ERR) {
		r = one_key(a, v, ch);
		if (r == OT_KEY_QUIT)
			return r;
		if (r == OT_KEY_REDRAW)
			res = r;
	}
	if (res == OT_KEY_REDRAW)
		v->force = true;
	return res;
}
