/*
 * errors.c - the one place where an error code becomes an HTTP answer:
 * the status of err.h's table and the spec's body
 *   {"errors":[{"code":"…","message":"…","detail":"…"}]}
 *
 * The detail is the one recorded in the request's error context for this
 * very code (berr_detail_for): a detail left by a probe that failed quietly,
 * or by another code, is never shown; without one the answer has the
 * table's message and an empty detail.
 * Internal errors keep their detail in the log, not in the answer.
 * A full store (507, util/err.c) is no secret, but its detail names a path
 * of the store: the client reads what happened, the log says where.
 *
 * Headers collected before the failure were meant for a success (the ETag
 * and Docker-Content-Digest of a manifest that then could not be read, the
 * Link of a page): an error answer keeps only the headers its code needs,
 * as nginx clears the success headers before it sends an error page.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/request.h"
#include "util/log.h"

/* The headers an error answer carries beyond those of every answer. */
static const char *const *error_headers(enum berr code)
{
	static const char *const challenge[] = { "WWW-Authenticate", NULL };
	static const char *const allow[] = { "Allow", NULL };
	static const char *const retry[] = { "Retry-After", NULL };
	/* a chunk refused for its range: where the session stands (h_upload.c) */
	static const char *const session[] = { "Location", "Range", "Docker-Upload-UUID", NULL };

	switch (code) {
	case BERR_UNAUTHORIZED: return challenge;
	case BERR_UNSUPPORTED: return allow;
	case BERR_TOOMANYREQUESTS: return retry;
	case BERR_RANGE_INVALID: return session;
	default: return NULL;
	}
}

static const char *shown_detail(struct req *r, enum berr code)
{
	const char *detail = berr_detail_for(code);

	if (code == BERR_INTERNAL) {
		log_err("%s %s: internal error: %s", r->method, r->path ? r->path : "",
			detail ? detail : "(no detail recorded)");
		return "see the registry's log";
	}
	if (code == BERR_STORAGE_FULL) {
		log_err("%s %s: storage full: %s", r->method, r->path ? r->path : "",
			detail ? detail : "(no detail recorded)");
		return "the registry's disk is full or its quota exhausted: "
		       "nothing was stored; retry once space is freed";
	}
	return detail ? detail : "";
}

void resp_error(struct req *r, enum berr code)
{
	const char *detail = shown_detail(r, code);
	const char *message = berr_message(code);
	json_t *doc, *e;
	char *body;
	int status = berr_status(code);

	/* docker shows only the code and message of a refusal: there the
	 * message says what was wrong */
	if ((code == BERR_UNAUTHORIZED || code == BERR_TOOMANYREQUESTS) && *detail)
		message = detail;
	e = json_pack("{s:s, s:s, s:s}", "code", berr_code(code),
		      "message", message, "detail", detail);
	doc = json_pack("{s:[o]}", "errors", e);
	/* the token endpoint: docker's login prints a top-level "details" */
	if (doc && r->route.kind == ROUTE_TOKEN && *detail)
		json_object_set_new(doc, "details", json_string(detail));
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!body)
		body = strdup("{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"internal error\"}]}");
	resp_headers_keep(r, error_headers(code));
	resp_send(r, status, "application/json", body, body ? strlen(body) : 0);
	free(body);
	json_decref(doc);
}
