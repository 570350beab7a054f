/*
 * audit.c - see audit.h.  The writer is deliberately dumb: open with
 * O_APPEND, build the whole line in memory, one write(), fdatasync for the
 * audit log.  No buffering in the process, so a worker killed after a
 * request never takes records with it, and no lock, so hosts and processes
 * never wait on each other.  The reopen flag is a counter the signal
 * handler bumps; each sink remembers the count it opened under, so any
 * number of sinks in one process reopen once each.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/audit.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

static volatile sig_atomic_t reopen_gen;

static void on_reopen(int sig)
{
	(void)sig;
	reopen_gen++;
}

void audit_request_reopen(void)
{
	reopen_gen++;
}

void audit_catch_reopen(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_reopen;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

const char *audit_time_at(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&ts->tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ts->tv_nsec / 1000000) % 1000);
	return buf;
}

const char *audit_time(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return audit_time_at(&ts, buf, len);
}

void audit_sink_init(struct audit_sink *s, const char *path, int sync)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->sync = sync;
	s->on = path && *path && strcmp(path, "off") != 0;
	if (s->on && mem_strcpy(s->path, sizeof(s->path), path) < 0) {
		log_err("log file %s: path too long, not written", path);
		s->on = 0;
	}
}

void audit_sink_close(struct audit_sink *s)
{
	if (s->fd > STDERR_FILENO)
		close(s->fd);
	s->fd = -1;
}

/* A crash mid-write left a line without its newline: end it, so the next
 * record starts a line of its own (the torn one is skipped by readers). */
/* (read: the descriptor is O_RDWR for this one byte) */
static void end_torn_line(int fd)
{
	struct stat st;
	char last;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return;
	if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
		if (write(fd, "\n", 1) < 0) {
			/* the record written next reports the failure */
		}
}

static enum berr sink_open(struct audit_sink *s)
{
	char dir[sizeof(s->path)];
	char *slash;
	enum berr rc;

	audit_sink_close(s);
	s->gen = (unsigned)reopen_gen;
	if (strcmp(s->path, "stderr") == 0) {
		s->fd = STDERR_FILENO;
		return BERR_OK;
	}
	memcpy(dir, s->path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if ((rc = fs_mkdir_p(dir)))
			return rc;
	}
	/* created here: exactly AUDIT_FILE_MODE, whatever the umask; an
	 * existing file keeps the mode its administrator gave it */
	s->fd = open(s->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, AUDIT_FILE_MODE);
	if (s->fd >= 0)
		(void)fchmod(s->fd, AUDIT_FILE_MODE);
	else if (errno == EEXIST)
		s->fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (s->fd < 0)
		return berr_sys("open", s->path);
	return BERR_OK;
}

enum berr audit_sink_write(struct audit_sink *s, json_t *rec)
{
	enum berr rc = BERR_OK;
	char *line = NULL;
	size_t n;
	ssize_t w;

	if (!s->on)
		return BERR_OK;
	if ((s->fd < 0 || s->gen != (unsigned)reopen_gen) && (rc = sink_open(s)))
		return rc;
	if (!(line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		return berr_set(BERR_INTERNAL, "log record: out of memory");
	n = strlen(line);
	line[n++] = '\n'; /* json_dumps left room: the NUL */
	if (s->sync && s->fd > STDERR_FILENO)
		end_torn_line(s->fd); /* another process may have died mid-line */
	w = write(s->fd, line, n);
	if (w < 0)
		rc = berr_sys("write", s->path);
	else if ((size_t)w != n)
		rc = berr_set(BERR_INTERNAL, "write %s: short write", s->path);
	else if (s->sync && s->fd > STDERR_FILENO && fdatasync(s->fd) < 0)
		rc = berr_sys("fdatasync", s->path);
	free(line);
	return rc;
}

/* The process's audit log. */
static struct audit_sink audit_log;
static char host[256];

void audit_open(const char *path)
{
	audit_sink_close(&audit_log);
	audit_sink_init(&audit_log, path, 1);
	if (gethostname(host, sizeof(host)) < 0)
		mem_strcpy(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, json_string(v));
}

json_t *audit_record(const struct audit_event *ev, const char *time, const char *hostname)
{
	json_t *rec = json_object(), *actor = json_object();

	if (!rec || !actor) {
		json_decref(rec);
		json_decref(actor);
		return NULL;
	}
	set_str(rec, "time", time);
	set_str(rec, "host", hostname);
	set_str(rec, "action", ev->action);
	set_str(actor, "user", ev->actor.user);
	set_str(actor, "address", ev->actor.address);
	set_str(actor, "request_id", ev->actor.request_id);
	json_object_set_new(rec, "actor", actor);
	set_str(rec, "repository", ev->repository);
	set_str(rec, "tag", ev->tag);
	set_str(rec, "digest", ev->digest);
	set_str(rec, "detail", ev->detail);
	return rec;
}

void audit_event(const struct audit_event *ev)
{
	struct berr_ctx ctx;
	char now[AUDIT_TIME_MAX];
	json_t *rec;

	if (!audit_log.on)
		return;
	/* our failure must not replace the detail of the request's answer */
	berr_enter(&ctx);
	rec = audit_record(ev, audit_time(now, sizeof(now)), host);
	if (!rec || audit_sink_write(&audit_log, rec))
		log_err("audit log %s: record of %s %s lost: %s", audit_log.path, ev->action,
			ev->repository ? ev->repository : "", rec ? berr_detail() : "out of memory");
	json_decref(rec);
	berr_leave(&ctx);
}

/* ---- reading ---- */

time_t audit_parse_time(const char *s)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (strcmp(p, "Z") != 0)
		return -1;
	return timegm(&tm);
}

static const char *str_of(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

int audit_parse_line(const char *line, size_t len, struct audit_rec *out)
{
	json_t *actor;

	memset(out, 0, sizeof(*out));
	out->doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!out->doc || !json_is_object(out->doc) ||
	    !json_is_string(json_object_get(out->doc, "action"))) {
		json_decref(out->doc);
		out->doc = NULL;
		return -1;
	}
	actor = json_object_get(out->doc, "actor");
	out->time = str_of(out->doc, "time");
	out->host = str_of(out->doc, "host");
	out->action = str_of(out->doc, "action");
	out->user = str_of(actor, "user");
	out->address = str_of(actor, "address");
	out->request_id = str_of(actor, "request_id");
	out->repository = str_of(out->doc, "repository");
	out->tag = str_of(out->doc, "tag");
	out->digest = str_of(out->doc, "digest");
	out->detail = str_of(out->doc, "detail");
	out->when = audit_parse_time(out->time);
	return 0;
}

void audit_rec_release(struct audit_rec *r)
{
	json_decref(r->doc);
	r->doc = NULL;
}

int audit_match(const struct audit_rec *r, const struct audit_filter *f)
{
	if (f->since > 0 && (r->when < 0 || r->when < f->since))
		return 0;
	if (f->user && strcmp(r->user, f->user) != 0)
		return 0;
	if (f->repo && strcmp(r->repository, f->repo) != 0)
		return 0;
	return 1;
}
