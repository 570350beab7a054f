/*
 * err.h - the one set of error codes in berth.
 *
 * Every function that can fail returns an `enum berr`: BERR_OK (0) on success,
 * otherwise a code that maps 1:1 to an OCI distribution-spec error code and an
 * HTTP status (see fcgi/errors.c, the only place that turns them into answers).
 * The human-readable detail of a failure lives in an error context (struct
 * berr_ctx) owned by whoever will answer for it: a request carries its own
 * (fcgi/request.h), berthctl and start-up use the process's base context.
 * berr_set() and berr_sys() write into the current context; berr_enter()
 * makes another context current for a stretch of code (a request, a clean-up
 * whose failures must not replace the one being reported, a probe whose
 * failure is an answer, not an error) and berr_leave() returns to the outer
 * one.  The detail is recorded with its code, so a reader asks for the
 * detail of the code it was handed (berr_detail_for) and never shows a stale
 * one.  A caller that merely passes an error up must not overwrite the
 * detail a lower level wrote.
 */
#ifndef BERTH_ERR_H
#define BERTH_ERR_H

#include <stdarg.h>

enum berr {
	BERR_OK = 0,
	BERR_BLOB_UNKNOWN,          /* 404 */
	BERR_BLOB_UPLOAD_INVALID,   /* 400 */
	BERR_BLOB_UPLOAD_UNKNOWN,   /* 404 */
	BERR_DIGEST_INVALID,        /* 400 */
	BERR_MANIFEST_BLOB_UNKNOWN, /* 400 */
	BERR_MANIFEST_INVALID,      /* 400 */
	BERR_MANIFEST_UNKNOWN,      /* 404 */
	BERR_NAME_INVALID,          /* 400 */
	BERR_NAME_UNKNOWN,          /* 404 */
	BERR_SIZE_INVALID,          /* 400 */
	BERR_UNAUTHORIZED,          /* 401 */
	BERR_DENIED,                /* 403 */
	BERR_UNSUPPORTED,           /* 405 */
	BERR_TOOMANYREQUESTS,       /* 429 */
	BERR_PAGINATION_INVALID,    /* 400, code PAGINATION_NUMBER_INVALID */
	BERR_RANGE_INVALID,         /* 416, code BLOB_UPLOAD_INVALID */
	BERR_TOO_LARGE,             /* 413, code SIZE_INVALID */
	BERR_BUSY,                  /* 409, code BLOB_UPLOAD_INVALID: session in use */
	BERR_TOO_SLOW,              /* 408, code BLOB_UPLOAD_INVALID: body too slow or stalled */
	BERR_STORAGE_FULL,          /* 507, code UNKNOWN: the store's disk is full */
	BERR_INTERNAL,              /* 500, code UNKNOWN */
	BERR__COUNT
};

/* Record `code` with a printf-style detail and return `code`. */
enum berr berr_set(enum berr code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Record an internal error from errno: "<what> <path>: strerror(errno)".
 * Logs it too (internal errors are for the operator, not the client). */
enum berr berr_sys(const char *what, const char *path);
/* The detail of the current context's last failure ("" if none). */
const char *berr_detail(void);
/* That detail if the last failure recorded was `code`, else NULL: what an
 * answer for `code` may show. */
const char *berr_detail_for(enum berr code);

#define BERR_DETAIL_MAX 512
struct berr_ctx {
	enum berr code;              /* of the last berr_set / berr_sys */
	char detail[BERR_DETAIL_MAX];
	struct berr_ctx *outer;      /* current before berr_enter */
};
/* Make `ctx` (cleared) the current context until berr_leave(ctx). */
void berr_enter(struct berr_ctx *ctx);
/* Back to the context that was current before berr_enter(ctx); what ctx
 * recorded stays in it (the caller may read it, log it or pass it on). */
void berr_leave(struct berr_ctx *ctx);
/* berr_leave(ctx), then record ctx's failure in the outer context; returns
 * `code` so a caller can write `return berr_pass(&ctx, rc);`. */
enum berr berr_pass(struct berr_ctx *ctx, enum berr code);
/* Spec code string ("BLOB_UNKNOWN"), HTTP status, and default message. */
const char *berr_code(enum berr code);
int berr_status(enum berr code);
const char *berr_message(enum berr code);

#endif
