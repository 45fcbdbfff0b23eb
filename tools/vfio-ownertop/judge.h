/* SPDX-License-Identifier: GPL-2.0 */
/*
 * judge.h - the rules "vfio-ownertop check" holds the model to.
 *
 * Pure functions of the model (and of one event): they read nothing and
 * print nothing, so the unit tests can hold them to their word.  The
 * caller decides when the model is settled enough to judge.
 */
#ifndef OWNERTOP_JUDGE_H
#define OWNERTOP_JUDGE_H

#include <stdint.h>
#include <sys/types.h>

#include "model.h"

enum jd_rule {
	JD_VMLCK_SHORT,		/* VmLck below the pages vfio charged */
	JD_VMLCK_EXTRA,		/* VmLck above them with nothing mlock()ed */
	JD_MEMLOCK,		/* vfio locked memory over RLIMIT_MEMLOCK */
	JD_FOREIGN_PIN,		/* a map by a process that is not the owner */
	JD_DENIED_SUCCEEDED,	/* a refused pin that reports success */
	JD_MOVE_OVER_LIMIT,	/* a change of owner charged over the limit */
	JD_ORPHAN_PINNED,	/* locked pages in a container without owner */
	JD_PINS_LEAKED,		/* FOLL_PIN pages still pinned at the end */
	JD_RULE_MAX,
};

struct jd_finding {
	enum jd_rule rule;
	uint32_t iommu_id;	/* 0: not about one container */
	pid_t tgid;		/* 0: not about one process */
	char msg[384];		/* names the container, the pid and numbers */
};

/*
 * The state rules (VmLck, RLIMIT_MEMLOCK) for every container, or for
 * those @pid owns or has open.  Fills up to @max findings in @out and
 * returns how many there are in all.
 */
int jd_state(const struct model *m, pid_t pid, struct jd_finding *out,
	     int max);
/* The rules an event alone breaks; 1 and @f filled when it breaks one. */
int jd_event(const struct model *m, pid_t pid, const struct vo_event *e,
	     struct jd_finding *f);
/*
 * The rules for the end of a followed command: containers without an
 * owner hold no locked pages, and the system-wide pin count is back to
 * @pins_before.
 */
int jd_end(const struct model *m, pid_t pid, int64_t pins_before,
	   int64_t pins_after, struct jd_finding *out, int max);

const char *jd_rule_name(enum jd_rule r);

#endif
