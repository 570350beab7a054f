/*
 * accesslog.h - the access log (one JSON line per request) and the audit
 * records a request writes (util/audit.h), with the request's actor.
 *
 * Why the transport is wrapped: the status, the bytes sent and the bytes
 * received are what actually crossed the FastCGI connection, whatever path
 * the handler took to answer (resp_send, resp_error, a handler that sends
 * its own 416).  accesslog_begin() puts a counting req_io in front of the
 * worker's one before req_init(); accesslog_end() writes the line after the
 * answer and before req_release(), while the route and the token's claims
 * are still there.  The status comes from the "Status:" line of the head,
 * which request.c writes in one piece.  A blob download is sent by nginx
 * (X-Accel-Redirect); its bytes are the blob's size, looked up once more.
 *
 * The line is written with one write() on an O_APPEND descriptor (see
 * util/audit.h), so workers never interleave; it is not fsynced.
 */
#ifndef BERTH_ACCESSLOG_H
#define BERTH_ACCESSLOG_H

#include <stdint.h>
#include <time.h>

#include "fcgi/request.h"

struct accesslog {
	struct req_io inner;     /* the worker's transport */
	struct timespec start;   /* monotonic */
	struct timespec wall;    /* for the record's time */
	int status;              /* 0 until the head was written */
	int accel;               /* the answer was an X-Accel-Redirect */
	int64_t sent, received;  /* body bytes */
};

/* Start timing and wrap *io (changed in place: pass it to req_init). */
void accesslog_begin(struct accesslog *a, struct req_io *io);
/* Write the request's line (access_log in the config; "off": nothing). */
void accesslog_end(struct accesslog *a, struct req *r);

/* The JSON record accesslog_end() writes (for tests). */
struct json_t *accesslog_record(const struct accesslog *a, struct req *r, int64_t duration_ms);

/* Record a change this request made, in the audit log (audit_log): the
 * actor is the token's subject, the client address and the request id;
 * the repository is the route's.  Call it only after the change committed. */
void accesslog_audit(struct req *r, const char *action, const char *tag,
		     const char *digest, const char *detail);
/* A password login for `user` (NULL: none was attempted, nothing is
 * written) that ended with `result`: login_ok, lockout (the account or the
 * address is held back: BERR_TOOMANYREQUESTS) or login_failed. */
void accesslog_audit_login(struct req *r, const char *user, enum berr result);

#endif
