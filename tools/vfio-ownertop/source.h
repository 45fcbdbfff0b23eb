/* SPDX-License-Identifier: GPL-2.0 */
/*
 * source.h - what vfio-ownertop reads from /proc: container fdinfo, the
 * status and limits of processes, and the system-wide pin counters.
 *
 * The parsers take the text of a file, so that the unit tests can feed
 * them; the readers take the /proc directory, so that the tests can point
 * them at a tree of their own.
 */
#ifndef OWNERTOP_SOURCE_H
#define OWNERTOP_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model.h"

#define OM_PROCDIR	"/proc"
#define OM_VFIO_DEV	"/dev/vfio/vfio"	/* what a container fd links to */

uint64_t om_now_ns(void);	/* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */

/*
 * Parsers: 0 on success, -EINVAL when the text is not what they expect.
 * om_parse_fdinfo() succeeds with fi->iommu_id 0 for a container file
 * whose IOMMU is not set yet, and fails for any other file.
 */
int om_parse_fdinfo(const char *text, struct om_fdinfo *fi);
int om_parse_status(const char *text, struct om_proc *p);
int om_parse_limits(const char *text, struct om_proc *p);
uint64_t om_parse_smaps_mlocked_kb(const char *text);
int om_parse_vmstat_pins(const char *text, int64_t *pinned);

/*
 * Read a whole file into a malloc()ed, NUL-terminated buffer; NULL with
 * errno set on failure.
 */
char *om_read_text(const char *path, size_t *len);

/*
 * Walk PROCDIR/PID/fd for container files and sync each one's fdinfo into
 * the model (model_scan_begin/model_sync/model_scan_end, then the task
 * table).  Returns the number of container files read, or -errno.
 */
int om_scan(struct model *m, const char *procdir);
/* Read PROCDIR/PID/{status,limits,smaps}; p->gone when it has exited. */
int om_read_proc(const char *procdir, pid_t pid, bool smaps,
		 struct om_proc *p);
/* om_read_proc() every task of the model and attach the result. */
void om_refresh_procs(struct model *m, const char *procdir, bool smaps);
/*
 * FOLL_PIN pages pinned system-wide: nr_foll_pin_acquired minus
 * nr_foll_pin_released.  @refresh first folds the per-CPU counters in by
 * writing /proc/sys/vm/stat_refresh (needs root).
 */
int om_pinned_pages(const char *procdir, bool refresh, int64_t *pinned);

#endif
