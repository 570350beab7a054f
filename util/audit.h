/*
 * audit.h - append-only JSON-lines logs: the audit log (one record per
 * change, fsynced) and the sink the access log writes through.
 *
 * Why one write() per record, O_APPEND, and no lock: every worker of the
 * pool (and berthctl) appends to the same file.  O_APPEND makes each
 * write() land whole at the end, so records from different processes never
 * interleave as long as each is one write(); records are far below a page.
 * The audit log is fsynced (fdatasync) after each record: an auditor's
 * question is answered by what the disk kept, not by what a crash lost.
 *
 * Why a file per host: several hosts may share one store over NFS, where
 * O_APPEND is not atomic across clients.  The audit log therefore lives
 * outside the store (`audit_log` in berth.conf, a local path) and every
 * record names the host that wrote it.
 *
 * A crash in the middle of a write leaves a torn last line.  The reader
 * skips a line that does not parse; the audit writer, when the file's last
 * byte is not a newline before it appends (one pread, cheap beside the
 * fdatasync), ends that line first, so the next record is not glued to the
 * torn one.
 *
 * Rotation: logrotate renames the file and sends SIGUSR1; berthd forwards
 * it to the workers.  audit_catch_reopen() installs the handler, which only
 * raises a flag; the next record written by this process reopens the path
 * first (a worker writes between requests), so new records go to the new file.
 *
 * A failed audit write is logged at error and never fails the change it
 * records: the change has already committed (records are written after it).
 */
#ifndef BERTH_AUDIT_H
#define BERTH_AUDIT_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "util/err.h"

#define AUDIT_FILE_MODE 0640

/* One JSON-lines file.  path NULL or "off": nothing is written; "stderr":
 * records go to standard error (shared with the pool's log). */
struct audit_sink {
	char path[4096];
	int fd;            /* -1: closed */
	int sync;          /* fdatasync after each record */
	int on;
	unsigned gen;      /* the reopen generation this fd was opened in */
};

/* Set up `s` for `path` (not opened until the first record). */
void audit_sink_init(struct audit_sink *s, const char *path, int sync);
/* Append `rec` (compact JSON + "\n") in one write(); reopens first after
 * SIGUSR1.  BERR_INTERNAL on failure (logged). */
enum berr audit_sink_write(struct audit_sink *s, json_t *rec);
void audit_sink_close(struct audit_sink *s);

/* Install the SIGUSR1 handler that asks every sink to reopen. */
void audit_catch_reopen(void);
/* What that handler does (also for tests): sinks reopen before their next record. */
void audit_request_reopen(void);

/* "2026-12-08T00:50:00.123Z" (RFC 3339, UTC, milliseconds): now, or ts. */
#define AUDIT_TIME_MAX 64
const char *audit_time(char *buf, size_t len);
const char *audit_time_at(const struct timespec *ts, char *buf, size_t len);

/* Who made a change. */
struct audit_actor {
	const char *user;        /* NULL: unknown (auth = none, a signal) */
	const char *address;     /* client address, NULL for berthctl */
	const char *request_id;  /* nginx's $request_id, NULL for berthctl */
};

/* One change.  action: push, tag, delete_manifest, delete_tag,
 * delete_blob, mount, lock, unlock, user_add, user_rm, passwd, token_add,
 * token_rm, policy_loaded, policy_change, login_ok, login_failed, lockout, repo_rm,
 * gc_removed.  Any other field may be NULL. */
struct audit_event {
	const char *action;
	struct audit_actor actor;
	const char *repository;
	const char *tag;
	const char *digest;
	const char *detail;
};

/* The process's audit log: `path` from the config (NULL/""/"off": none). */
void audit_open(const char *path);
/* Append ev to the audit log (time and host added), fsynced.  Failures are
 * logged at error and otherwise ignored (see above). */
void audit_event(const struct audit_event *ev);
/* The record audit_event() writes, for tests and other sinks. */
json_t *audit_record(const struct audit_event *ev, const char *time, const char *host);

/* Reading (berthctl audit).  A record as parsed; the strings point into
 * `doc` (owned) and are "" when absent. */
struct audit_rec {
	json_t *doc;
	const char *time, *host, *action, *user, *address, *request_id;
	const char *repository, *tag, *digest, *detail;
	time_t when;             /* -1 when the time does not parse */
};

/* Parse one line (without its newline).  0, or -1 when it is not a record
 * (a torn line, garbage): the caller skips it. */
int audit_parse_line(const char *line, size_t len, struct audit_rec *out);
void audit_rec_release(struct audit_rec *r);

/* Which records berthctl audit shows: since 0 = all; user/repo NULL = any. */
struct audit_filter {
	time_t since;
	const char *user;
	const char *repo;
};
int audit_match(const struct audit_rec *r, const struct audit_filter *f);

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fff]Z" to seconds; -1 if malformed. */
time_t audit_parse_time(const char *s);

#endif
