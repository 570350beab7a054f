/*
 * err.c - the error table and the error contexts (see err.h).
 *
 * berr_sys() is where an errno becomes a code.  Almost all of them are the
 * registry's fault (500 UNKNOWN), but a full disk or an exhausted quota
 * (ENOSPC, EDQUOT) is the operator's business and the client's explanation:
 * BERR_STORAGE_FULL, 507 Insufficient Storage (RFC 4918), which docker,
 * podman and skopeo all print with its reason phrase ("507 Insufficient
 * Storage"), so a user can tell "the registry is full" from "the registry
 * is broken" without reading its log.  Both are logged at error.  Not a
 * 4xx: it would make docker print the JSON message, but it would blame the
 * client, and docker retries it all the same; the clients print only the
 * status line of a 5xx, so its reason phrase is what they show.  The code
 * is UNKNOWN: the distribution spec has none for a full registry.
 * (tests/integration/t151-disk-full.sh: a real full disk, the clients.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

/* The base context, and the current one (workers are single-threaded). */
static struct berr_ctx base;
static struct berr_ctx *cur = &base;

static const struct {
	const char *code;
	int status;
	const char *message;
} table[BERR__COUNT] = {
	[BERR_OK]                    = { "OK", 200, "ok" },
	[BERR_BLOB_UNKNOWN]          = { "BLOB_UNKNOWN", 404, "blob unknown to registry" },
	[BERR_BLOB_UPLOAD_INVALID]   = { "BLOB_UPLOAD_INVALID", 400, "blob upload invalid" },
	[BERR_BLOB_UPLOAD_UNKNOWN]   = { "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry" },
	[BERR_DIGEST_INVALID]        = { "DIGEST_INVALID", 400, "provided digest did not match uploaded content" },
	[BERR_MANIFEST_BLOB_UNKNOWN] = { "MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry" },
	[BERR_MANIFEST_INVALID]      = { "MANIFEST_INVALID", 400, "manifest invalid" },
	[BERR_MANIFEST_UNKNOWN]      = { "MANIFEST_UNKNOWN", 404, "manifest unknown to registry" },
	[BERR_NAME_INVALID]          = { "NAME_INVALID", 400, "invalid repository name" },
	[BERR_NAME_UNKNOWN]          = { "NAME_UNKNOWN", 404, "repository name not known to registry" },
	[BERR_SIZE_INVALID]          = { "SIZE_INVALID", 400, "provided length did not match content length" },
	[BERR_UNAUTHORIZED]          = { "UNAUTHORIZED", 401, "authentication required" },
	[BERR_DENIED]                = { "DENIED", 403, "requested access to the resource is denied" },
	[BERR_UNSUPPORTED]           = { "UNSUPPORTED", 405, "the operation is unsupported" },
	[BERR_TOOMANYREQUESTS]       = { "TOOMANYREQUESTS", 429, "too many requests" },
	[BERR_PAGINATION_INVALID]    = { "PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested" },
	[BERR_RANGE_INVALID]         = { "BLOB_UPLOAD_INVALID", 416, "requested range not satisfiable" },
	[BERR_TOO_LARGE]             = { "SIZE_INVALID", 413, "payload too large" },
	[BERR_BUSY]                  = { "BLOB_UPLOAD_INVALID", 409, "upload session is in use by another request" },
	[BERR_TOO_SLOW]              = { "BLOB_UPLOAD_INVALID", 408, "request body too slow" },
	[BERR_STORAGE_FULL]          = { "UNKNOWN", 507, "registry storage is full" },
	[BERR_INTERNAL]              = { "UNKNOWN", 500, "internal error" },
};

enum berr berr_set(enum berr code, const char *fmt, ...)
{
	char buf[BERR_DETAIL_MAX]; /* fmt's arguments may include berr_detail() */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(cur->detail, buf, sizeof(buf));
	cur->code = code;
	return code;
}

/* ENOSPC / EDQUOT: the store is full, not broken. */
static enum berr errno_code(int e)
{
	return e == ENOSPC || e == EDQUOT ? BERR_STORAGE_FULL : BERR_INTERNAL;
}

enum berr berr_sys(const char *what, const char *path)
{
	int e = errno;

	snprintf(cur->detail, sizeof(cur->detail), "%s %s: %s", what, path ? path : "",
		 strerror(e));
	cur->code = errno_code(e);
	log_err("%s", cur->detail);
	errno = e;
	return cur->code;
}

const char *berr_detail(void) { return cur->detail; }

const char *berr_detail_for(enum berr code)
{
	return code != BERR_OK && cur->code == code && cur->detail[0] ? cur->detail : NULL;
}

void berr_enter(struct berr_ctx *ctx)
{
	ctx->code = BERR_OK;
	ctx->detail[0] = '\0';
	ctx->outer = cur;
	cur = ctx;
}

void berr_leave(struct berr_ctx *ctx)
{
	/* leaving out of order would lose the contexts in between: keep the
	 * stack as it is rather than point at a dead frame */
	if (cur == ctx && ctx->outer)
		cur = ctx->outer;
}

enum berr berr_pass(struct berr_ctx *ctx, enum berr code)
{
	berr_leave(ctx);
	if (code != BERR_OK && ctx->code == code) {
		snprintf(cur->detail, sizeof(cur->detail), "%s", ctx->detail);
		cur->code = code;
	}
	return code;
}

static int valid(enum berr code) { return code >= 0 && code < BERR__COUNT; }

const char *berr_code(enum berr code) { return valid(code) ? table[code].code : "UNKNOWN"; }
int berr_status(enum berr code) { return valid(code) ? table[code].status : 500; }
const char *berr_message(enum berr code) { return valid(code) ? table[code].message : "internal error"; }
