/*
 * request.h - one FastCGI request as the handlers see it.
 *
 * A worker serves one request at a time, so a request owns fixed buffers and
 * nothing outlives it: the answer is built (status, headers) and written once
 * by resp_send() or resp_error(); req_release() frees what parsing allocated.
 *
 * The request sits on a small transport seam, struct req_io: the FastCGI
 * environment (NAME=value strings), a body reader and an answer writer.
 * fcgi/worker.c adapts libfcgi to it; the unit tests and the fuzz targets
 * give their own environment and body, so request parsing and the handlers
 * run in-process without a socket.  The reader and writer move bytes
 * straight between the caller's buffer and the transport: a blob's body is
 * copied no more often than with libfcgi alone.
 *
 * The error detail belongs to the request: req_init() makes the request's
 * error context (util/err.h) current and req_release() leaves it, so what
 * one request recorded can never be shown in another's answer, and an
 * answer shows only the detail recorded for the code it answers.
 *
 * Headers collected before a failure are the success's: an error answer
 * keeps only those the error itself needs (errors.c says which), so a
 * 404 never carries the ETag of what was about to be served.
 *
 * A worker never waits on a client without a deadline: req_init() puts
 * read_timeout on the connection (SO_RCVTIMEO on req_io.fd) and req_read()
 * holds a body to upload_min_rate (request.c says how).
 */
#ifndef BERTH_REQUEST_H
#define BERTH_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fcgi/router.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"

/* The transport under a request.  read() and write() get `ctx`. */
struct req_io {
	char **env;              /* "NAME=value" strings, NULL-terminated */
	int fd;                  /* the connection, for the read deadline; -1: none */
	/* Read n body bytes into buf, waiting until all n came or the body
	 * ended (as FCGX_GetStr).  Returns the count; when it is short, *err
	 * is 0 at the end of the body, else the errno that stopped the read. */
	int (*read)(void *ctx, void *buf, int n, int *err);
	/* Write n bytes of the answer.  A client that went away is the
	 * transport's business, not the request's: no failure to report. */
	void (*write)(void *ctx, const void *buf, size_t n);
	void *ctx;
};

struct req {
	const struct req_io *io;
	struct berr_ctx err;     /* this request's error detail (current while it runs) */
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

/* Parse the environment of `io` (which must outlive r) and make r's error
 * context current; on failure r is still good for resp_error(). */
enum berr req_init(struct req *r, const struct req_io *io, const struct config *cfg,
		   struct store *st);
/* Free what req_init() allocated and leave r's error context. */
void req_release(struct req *r);

/* A FastCGI parameter (HTTP_ACCEPT, CONTENT_TYPE…), or NULL. */
const char *req_param(struct req *r, const char *name);
/* Every value of a request header that may repeat (HTTP_ACCEPT), joined with
 * ", " into out, as many whole values as fit.  Returns out ("" if none). */
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
 * BERR_TOO_SLOW with its detail set; a broken stream sets no
 * detail: the caller names what ended early. */
ssize_t req_read(struct req *r, void *buf, size_t n);
/* Read the whole body into a malloc'd buffer of at most `max` bytes;
 * BERR_TOO_LARGE beyond it, BERR_TOO_SLOW as req_read().  */
enum berr req_read_all(struct req *r, size_t max, char **out, size_t *len);

/* Add "name: value" to the answer; a header that does not fit in what is
 * left of r->hdrs is dropped whole (and logged), never cut. */
void resp_header(struct req *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Headers added since resp_mark() are taken back by resp_rollback(): for a
 * step that may add headers and then be abandoned (a mount that falls back
 * to an upload session must not carry the mount's challenge). */
size_t resp_mark(const struct req *r);
void resp_rollback(struct req *r, size_t mark);
/* Drop every collected header whose name (any case) is not in `keep`
 * (NULL-terminated; NULL drops all): what an error answer does. */
void resp_headers_keep(struct req *r, const char *const *keep);
/* Location: base + path built from fmt. */
void resp_location(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write the answer: status, the collected headers, Content-Type (if ctype),
 * Content-Length (len, or `length` when body is NULL and length >= 0), body. */
void resp_send(struct req *r, int status, const char *ctype, const void *body,
	       size_t len);
void resp_send_length(struct req *r, int status, const char *ctype, int64_t length);
/* The spec's JSON error answer for `code`, with the detail recorded for that
 * code (berr_detail_for) and only the headers the error needs (errors.c). */
void resp_error(struct req *r, enum berr code);

#endif
