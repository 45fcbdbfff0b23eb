/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Processes of a multi-process test report "key value" lines through a
 * pipe to the test, which judges them once all processes are done.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REPORT_MAX	64

struct report {
	int n;
	char key[REPORT_MAX][48];
	long val[REPORT_MAX];
};

/* One line, written atomically (shorter than PIPE_BUF). */
static inline void report(int fd, const char *key, long val)
{
	char line[96];
	int len;

	len = snprintf(line, sizeof(line), "%s %ld\n", key, val);
	if (write(fd, line, len) != len)
		perror("report");
}

/* Read lines until every writer has closed the pipe. */
static inline void report_collect(int fd, struct report *r)
{
	char buf[8192], *p, *line;
	size_t used = 0;
	ssize_t n;

	r->n = 0;
	while (used < sizeof(buf) - 1 &&
	       (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += n;
	buf[used] = 0;
	for (line = strtok_r(buf, "\n", &p); line && r->n < REPORT_MAX;
	     line = strtok_r(NULL, "\n", &p)) {
		if (sscanf(line, "%47s %ld", r->key[r->n], &r->val[r->n]) == 2)
			r->n++;
	}
}

/* The value reported for @key, or @missing if none was. */
static inline long report_get(struct report *r, const char *key, long missing)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->key[i], key))
			return r->val[i];
	return missing;
}

#endif
