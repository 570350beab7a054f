/*
 * err.h - the one set of error codes in berth.
 *
 * Every function that can fail returns an `enum berr`: BERR_OK (0) on success,
 * otherwise a code that maps 1:1 to an OCI distribution-spec error code and an
 * HTTP status (see fcgi/errors.c, the only place that turns them into answers).
 * The human-readable detail of the most recent failure lives in a per-process
 * slot (workers are single-threaded): set it with berr_set(), read it with
 * berr_detail().  A caller that merely passes an error up must not overwrite
 * the detail a lower level wrote.
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
const char *berr_detail(void);
void berr_clear(void);
/* Spec code string ("BLOB_UNKNOWN"), HTTP status, and default message. */
const char *berr_code(enum berr code);
int berr_status(enum berr code);
const char *berr_message(enum berr code);

#endif
