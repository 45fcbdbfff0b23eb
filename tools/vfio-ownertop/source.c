// SPDX-License-Identifier: GPL-2.0
/*
 * source.c - read container fdinfo and process state from /proc.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "source.h"

uint64_t om_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * The value of "key:" at the start of a line of @text, up to the end of
 * the line and without leading blanks, into @val.  0, or -ENOENT.
 */
static int get_field(const char *text, const char *key, char *val,
		     size_t len)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			const char *v = p + klen + 1, *end;
			size_t n;

			if (!val)
				return 0;	/* only asked whether it is there */
			while (*v == ' ' || *v == '\t')
				v++;
			end = strchrnul(v, '\n');
			n = end - v;
			if (n >= len)
				n = len - 1;
			memcpy(val, v, n);
			val[n] = 0;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

/* A whole unsigned decimal number, checked; 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || (*end && !isspace((unsigned char)*end)))
		return -EINVAL;
	*out = v;
	return 0;
}

static int field_u64(const char *text, const char *key, uint64_t *out)
{
	char buf[64];

	if (get_field(text, key, buf, sizeof(buf)))
		return -EINVAL;
	return parse_u64(buf, out);
}

int om_parse_fdinfo(const char *text, struct om_fdinfo *fi)
{
	uint64_t v;

	memset(fi, 0, sizeof(*fi));
	if (get_field(text, "vfio-iommu", fi->driver, sizeof(fi->driver)))
		return -EINVAL;	/* not a container file */
	if (get_field(text, "iommu_id", NULL, 0) == -ENOENT)
		return 0;	/* no IOMMU set, or not type1 */

	if (field_u64(text, "iommu_id", &v) || !v || v > UINT32_MAX)
		return -EINVAL;
	fi->iommu_id = v;
	if (field_u64(text, "owner_tgid", &v) || v > INT_MAX)
		return -EINVAL;
	fi->owner_tgid = v;
	get_field(text, "owner_comm", fi->owner_comm, sizeof(fi->owner_comm));
	if (field_u64(text, "mappings", &v) || v > UINT32_MAX)
		return -EINVAL;
	fi->mappings = v;
	if (field_u64(text, "bytes_mapped", &fi->bytes) ||
	    field_u64(text, "locked_pages", &fi->locked_pages))
		return -EINVAL;
	if (field_u64(text, "staged_vaddrs", &v) || v > UINT32_MAX)
		return -EINVAL;
	fi->staged = v;
	get_field(text, "owner_tracker", fi->tracker, sizeof(fi->tracker));
	get_field(text, "extensions", fi->extensions, sizeof(fi->extensions));
	return 0;
}

int om_parse_status(const char *text, struct om_proc *p)
{
	char buf[64];
	uint64_t v;

	memset(p, 0, sizeof(*p));
	p->vmlck_kb = -1;
	if (get_field(text, "Name", p->comm, sizeof(p->comm)))
		return -EINVAL;
	if (!get_field(text, "State", buf, sizeof(buf)) &&
	    (buf[0] == 'Z' || buf[0] == 'X'))
		p->gone = true;
	/* "VmLck:	    3072 kB"; absent for zombies and kernel threads */
	if (!get_field(text, "VmLck", buf, sizeof(buf))) {
		char *sp = strchr(buf, ' ');

		if (sp)
			*sp = 0;
		if (parse_u64(buf, &v) || v > INT64_MAX)
			return -EINVAL;
		p->vmlck_kb = v;
	}
	if (!get_field(text, "CapEff", buf, sizeof(buf))) {
		unsigned long long caps;
		char *end;

		errno = 0;
		caps = strtoull(buf, &end, 16);
		if (errno || end == buf)
			return -EINVAL;
		p->cap_ipc_lock = caps & (1ull << 14);	/* CAP_IPC_LOCK */
	}
	return 0;
}

int om_parse_limits(const char *text, struct om_proc *p)
{
	const char *line = strstr(text, "Max locked memory");
	char soft[32];
	uint64_t v;

	if (!line || sscanf(line + strlen("Max locked memory"), " %31s",
			    soft) != 1)
		return -EINVAL;
	if (!strcmp(soft, "unlimited")) {
		p->memlock_unlimited = true;
		p->memlock_bytes = 0;
		return 0;
	}
	if (parse_u64(soft, &v))
		return -EINVAL;
	p->memlock_unlimited = false;
	p->memlock_bytes = v;
	return 0;
}

uint64_t om_parse_smaps_mlocked_kb(const char *text)
{
	uint64_t size_kb = 0, total = 0;
	const char *p = text;

	while (p && *p) {
		unsigned long long kb;

		if (sscanf(p, "Size: %llu kB", &kb) == 1) {
			size_kb = kb;
		} else if (!strncmp(p, "VmFlags:", 8)) {
			const char *end = strchrnul(p, '\n');
			const char *f = p + 8;

			/* two-letter flags separated by spaces; "lo": mlock */
			for (; f + 1 < end; f++)
				if (f[0] == 'l' && f[1] == 'o' &&
				    f[-1] == ' ' &&
				    (f + 2 == end || f[2] == ' '))
					total += size_kb;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return total;
}

int om_parse_vmstat_pins(const char *text, int64_t *pinned)
{
	const char *a = strstr(text, "nr_foll_pin_acquired ");
	const char *r = strstr(text, "nr_foll_pin_released ");
	unsigned long long acq, rel;

	if (!a || !r ||
	    sscanf(a, "nr_foll_pin_acquired %llu", &acq) != 1 ||
	    sscanf(r, "nr_foll_pin_released %llu", &rel) != 1)
		return -EINVAL;
	*pinned = (int64_t)(acq - rel);
	return 0;
}

char *om_read_text(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nbuf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !buf) {
		int err = fd < 0 ? errno : ENOMEM;

		if (fd >= 0)
			close(fd);
		free(buf);
		errno = err;
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				n = -1;
				errno = ENOMEM;
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	if (n < 0) {
		int err = errno;

		close(fd);
		free(buf);
		errno = err;
		return NULL;
	}
	close(fd);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Sync the container files among PROCDIR/PID/fd into the model. */
static int scan_pid(struct model *m, const char *procdir, pid_t pid)
{
	char path[PATH_MAX], link[64];
	struct om_fdinfo fi;
	struct dirent *de;
	int found = 0, err = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%d/fd", procdir, pid);
	d = opendir(path);
	if (!d)
		return 0;	/* gone, or not ours to look at */
	while ((de = readdir(d))) {
		uint64_t before, after;
		ssize_t n;
		char *text;

		if (!all_digits(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%d/fd/%s", procdir, pid,
			 de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strcmp(link, OM_VFIO_DEV))
			continue;

		snprintf(path, sizeof(path), "%s/%d/fdinfo/%s", procdir, pid,
			 de->d_name);
		before = om_now_ns();
		text = om_read_text(path, NULL);
		after = om_now_ns();
		if (!text)
			continue;	/* closed meanwhile */
		if (!om_parse_fdinfo(text, &fi)) {
			err = model_sync(m, &fi, pid, before, after);
			found++;
		}
		free(text);
		if (err)
			break;
	}
	closedir(d);
	return err ? err : found;
}

int om_scan(struct model *m, const char *procdir)
{
	struct dirent *de;
	int found = 0, n;
	DIR *d;

	d = opendir(procdir);
	if (!d)
		return -errno;
	model_scan_begin(m);
	while ((de = readdir(d))) {
		if (!all_digits(de->d_name))
			continue;
		n = scan_pid(m, procdir, atoi(de->d_name));
		if (n < 0) {
			closedir(d);
			return n;
		}
		found += n;
	}
	closedir(d);
	model_scan_end(m, om_now_ns());
	n = model_tasks_update(m);
	return n < 0 ? n : found;
}

int om_read_proc(const char *procdir, pid_t pid, bool smaps,
		 struct om_proc *p)
{
	char path[PATH_MAX];
	char *text;
	int err;

	snprintf(path, sizeof(path), "%s/%d/status", procdir, pid);
	text = om_read_text(path, NULL);
	if (!text) {
		memset(p, 0, sizeof(*p));
		p->vmlck_kb = -1;
		p->gone = true;
		return 0;
	}
	err = om_parse_status(text, p);
	free(text);
	if (err)
		return err;
	if (p->gone)
		return 0;

	snprintf(path, sizeof(path), "%s/%d/limits", procdir, pid);
	text = om_read_text(path, NULL);
	if (text) {
		err = om_parse_limits(text, p);
		free(text);
		if (err)
			return err;
	}
	if (smaps) {
		snprintf(path, sizeof(path), "%s/%d/smaps", procdir, pid);
		text = om_read_text(path, NULL);
		if (text) {
			p->mlocked_kb = om_parse_smaps_mlocked_kb(text);
			free(text);
		}
	}
	return 0;
}

void om_refresh_procs(struct model *m, const char *procdir, bool smaps)
{
	struct om_proc p;
	size_t i;

	for (i = 0; i < m->ntasks; i++) {
		pid_t tgid = m->tasks[i].tgid;

		if (om_read_proc(procdir, tgid, smaps, &p))
			continue;
		model_set_proc(m, tgid, &p);
	}
}

int om_pinned_pages(const char *procdir, bool refresh, int64_t *pinned)
{
	char path[PATH_MAX];
	char *text;
	int err;

	if (refresh) {
		int fd;

		snprintf(path, sizeof(path), "%s/sys/vm/stat_refresh",
			 procdir);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			/* EINVAL can come back while the work still ran */
			if (write(fd, "1\n", 2) < 0 && errno == EPERM) {
				close(fd);
				return -EPERM;
			}
			close(fd);
		}
	}
	snprintf(path, sizeof(path), "%s/vmstat", procdir);
	text = om_read_text(path, NULL);
	if (!text)
		return -errno;
	err = om_parse_vmstat_pins(text, pinned);
	free(text);
	return err;
}
