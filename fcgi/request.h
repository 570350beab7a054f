/*
 * request.h - one FastCGI request as the handlers see it.
 *
 * A worker serves one request at a time, so a request owns fixed buffers and
 * nothing outlives it: the answer is built (status, headers) and written once
 * by resp_send() or resp_error(); req_release() frees what parsing allocated.
 *
 * A worker never waits on a client without a deadline: req_init() puts
 * read_timeout on the FastCGI connection (SO_RCVTIMEO) and req_read() holds
 * a body to upload_min_rate (request.c says how).
 */
#ifndef BERTH_REQUEST_H
#define BERTH_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <fcgiapp.h>

#include "fcgi/router.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"

struct req {
	FCGX_Request *fr;
	const struct config *cfg;
	struct store *store;
	const char *method;      /* REQUEST_METHOD */
	int head;                /* method is HEAD: headers only */
	char *path;              /* raw path of REQUEST_URI (owned) */
	char *query;             /* raw query string, "" if none (owned) */
	char base[512];          /* "https://host:port", for absolute Locations */
	int64_t content_length;  /* -1: not given (chunked body) */
	enum berr body_error;    /* why reading the body failed: BERR_TOO_SLOW (the
				  * client stalled or fell below the minimum rate) or
				  * BERR_BLOB_UPLOAD_INVALID (the stream broke); BERR_OK */
	struct route route;
	int auth_state;          /* 0 unchecked, 1 valid bearer token, -1 none/invalid */
	struct json_t *auth_claims; /* the verified token's claims (owned) */
	char auth_error[128];    /* why the token was refused */
	int sent;                /* an answer was written */
	char hdrs[4096];         /* extra response header lines */
	size_t hlen;
};

enum berr req_init(struct req *r, FCGX_Request *fr, const struct config *cfg, struct store *st);
void req_release(struct req *r);

/* A FastCGI parameter (HTTP_ACCEPT, CONTENT_TYPE…), or NULL. */
const char *req_param(struct req *r, const char *name);
/* Every value of a request header that may repeat (HTTP_ACCEPT), joined with
 * ", " into out.  Returns out ("" if none). */
char *req_param_all(struct req *r, const char *name, char *out, size_t outlen);
/* Query parameter `key`, percent-decoded into out.  1 found, 0 absent,
 * -1 too long or malformed (includes NUL). */
int req_query(struct req *r, const char *key, char *out, size_t outlen);

/* application/x-www-form-urlencoded / query strings: call fn for every
 * value of `key` (percent-decoded, '+' as space) until it returns nonzero.
 * 1 if fn stopped it, 0 at the end, -1 on a malformed or over-long value. */
int http_param_each(const char *s, const char *key,
		    int (*fn)(void *ctx, const char *value), void *ctx);
/* First value of `key`: 1 found, 0 absent, -1 malformed or too long. */
int http_param_get(const char *s, const char *key, char *out, size_t outlen);

/* Read up to n body bytes; 0 at the end; -1 on failure, with r->body_error
 * set.  Every read has a deadline: nothing for `read_timeout` seconds, or
 * fewer than upload_min_rate * upload_rate_window bytes in one window, is
 * BERR_TOO_SLOW with its detail set (berr_detail()); a broken stream sets no
 * detail: the caller names what ended early. */
ssize_t req_read(struct req *r, void *buf, size_t n);
/* Read the whole body into a malloc'd buffer of at most `max` bytes;
 * BERR_TOO_LARGE beyond it, BERR_TOO_SLOW as req_read().  */
enum berr req_read_all(struct req *r, size_t max, char **out, size_t *len);

void resp_header(struct req *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Location: base + path built from fmt. */
void resp_location(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write the answer: status, the collected headers, Content-Type (if ctype),
 * Content-Length (len, or `length` when body is NULL and length >= 0), body. */
void resp_send(struct req *r, int status, const char *ctype, const void *body,
	       size_t len);
void resp_send_length(struct req *r, int status, const char *ctype, int64_t length);
/* The spec's JSON error body for `code` with berr_detail() (fcgi/errors.c). */
void resp_error(struct req *r, enum berr code);

#endif
