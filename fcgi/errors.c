/*
 * errors.c - the one place where an error code becomes an HTTP answer:
 * the status of err.h's table and the spec's body
 *   {"errors":[{"code":"…","message":"…","detail":"…"}]}
 * Internal errors keep their detail in the log, not in the answer.
 * A full store (507, util/err.c) is no secret, but its detail names a path
 * of the store: the client reads what happened, the log says where.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/request.h"
#include "util/log.h"

void resp_error(struct req *r, enum berr code)
{
	const char *detail = berr_detail();
	const char *message = berr_message(code);
	json_t *doc, *e;
	char *body;
	int status = berr_status(code);

	if (code == BERR_INTERNAL) {
		log_err("%s %s: internal error: %s", r->method, r->path ? r->path : "", detail);
		detail = "see the registry's log";
	} else if (code == BERR_STORAGE_FULL) {
		log_err("%s %s: storage full: %s", r->method, r->path ? r->path : "", detail);
		detail = "the registry's disk is full or its quota exhausted: "
			 "nothing was stored; retry once space is freed";
	}
	/* docker shows only the code and message of a refusal: there the
	 * message says what was wrong */
	if ((code == BERR_UNAUTHORIZED || code == BERR_TOOMANYREQUESTS) &&
	    detail && *detail)
		message = detail;
	e = json_pack("{s:s, s:s, s:s}", "code", berr_code(code),
		      "message", message, "detail", detail ? detail : "");
	doc = json_pack("{s:[o]}", "errors", e);
	/* the token endpoint: docker's login prints a top-level "details" */
	if (doc && r->route.kind == ROUTE_TOKEN && detail && *detail)
		json_object_set_new(doc, "details", json_string(detail));
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!body)
		body = strdup("{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"internal error\"}]}");
	resp_send(r, status, "application/json", body, body ? strlen(body) : 0);
	free(body);
	json_decref(doc);
}
