/*
 * accesslog.c - see accesslog.h.  A worker serves one request at a time,
 * so the wrapper state lives in the worker's stack frame and the sinks are
 * per process, opened on first use from the request's configuration (a
 * worker's configuration never changes: a reload starts new workers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fcgi/accesslog.h"
#include "oci/digest.h"
#include "util/audit.h"
#include "util/log.h"

static struct audit_sink access_sink;
static int sinks_ready;

static void sinks_open(const struct config *cfg)
{
	if (sinks_ready)
		return;
	audit_sink_init(&access_sink, cfg->access_log, 0);
	audit_open(cfg->audit_log);
	sinks_ready = 1;
}

static int count_read(void *ctx, void *buf, int n, int *err)
{
	struct accesslog *a = ctx;
	int got = a->inner.read(a->inner.ctx, buf, n, err);

	if (got > 0)
		a->received += got;
	return got;
}

/* The first write of an answer is its whole head (request.c, send_head). */
static void count_write(void *ctx, const void *buf, size_t n)
{
	struct accesslog *a = ctx;

	if (!a->status) {
		const char *p = buf;
		size_t i;

		a->status = n > 11 && memcmp(p, "Status: ", 8) == 0 ? atoi(p + 8) : 500;
		for (i = 0; i + 20 <= n; i++)
			if (p[i] == '\n' && strncasecmp(p + i + 1, "X-Accel-Redirect:", 17) == 0)
				a->accel = 1;
	} else {
		a->sent += (int64_t)n;
	}
	a->inner.write(a->inner.ctx, buf, n);
}

void accesslog_begin(struct accesslog *a, struct req_io *io)
{
	memset(a, 0, sizeof(*a));
	clock_gettime(CLOCK_MONOTONIC, &a->start);
	clock_gettime(CLOCK_REALTIME, &a->wall);
	a->inner = *io;
	io->read = count_read;
	io->write = count_write;
	io->ctx = a;
}

static const char *claim_sub(struct req *r)
{
	return r->auth_claims ? json_string_value(json_object_get(r->auth_claims, "sub")) : NULL;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, json_string(v));
}

/* What nginx sent for a blob handed over with X-Accel-Redirect. */
static int64_t accel_size(struct req *r)
{
	struct berr_ctx ctx;
	struct digest d;
	int64_t size = 0;

	berr_enter(&ctx);
	if (digest_parse(&d, r->route.ref) ||
	    store_blob_linked_size(r->store, r->route.name, &d, &size))
		size = 0;
	berr_leave(&ctx);
	return size;
}

json_t *accesslog_record(const struct accesslog *a, struct req *r, int64_t duration_ms)
{
	json_t *rec = json_object();
	char t[AUDIT_TIME_MAX];

	if (!rec)
		return NULL;
	audit_time_at(&a->wall, t, sizeof(t));
	set_str(rec, "time", t);
	set_str(rec, "request_id", req_param(r, "BERTH_REQUEST_ID"));
	set_str(rec, "remote_addr", req_param(r, "REMOTE_ADDR"));
	set_str(rec, "user", claim_sub(r));
	set_str(rec, "method", r->method ? r->method : req_param(r, "REQUEST_METHOD"));
	set_str(rec, "route", route_kind_name(r->route.kind));
	set_str(rec, "repository", r->route.name);
	set_str(rec, "reference", r->route.kind == ROUTE_UPLOAD ? NULL : r->route.ref);
	json_object_set_new(rec, "status", json_integer(a->status ? a->status : 500));
	json_object_set_new(rec, "bytes_sent", json_integer(a->accel ? accel_size(r) : a->sent));
	json_object_set_new(rec, "bytes_received", json_integer(a->received));
	json_object_set_new(rec, "duration_ms", json_integer(duration_ms));
	return rec;
}

void accesslog_end(struct accesslog *a, struct req *r)
{
	struct berr_ctx ctx;
	struct timespec end;
	int64_t ms;
	json_t *rec;

	sinks_open(r->cfg);
	if (!access_sink.on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	ms = (int64_t)(end.tv_sec - a->start.tv_sec) * 1000 +
	     (end.tv_nsec - a->start.tv_nsec) / 1000000;
	berr_enter(&ctx);
	rec = accesslog_record(a, r, ms);
	if (!rec || audit_sink_write(&access_sink, rec))
		log_err("access log %s: line lost: %s", access_sink.path,
			rec ? berr_detail() : "out of memory");
	json_decref(rec);
	berr_leave(&ctx);
}

static void audit_as(struct req *r, const char *action, const char *user, const char *repo,
		     const char *tag, const char *digest, const char *detail)
{
	struct audit_event ev = {
		.action = action,
		.actor = { .user = user, .address = req_param(r, "REMOTE_ADDR"),
			   .request_id = req_param(r, "BERTH_REQUEST_ID") },
		.repository = repo, .tag = tag, .digest = digest, .detail = detail,
	};

	sinks_open(r->cfg);
	audit_event(&ev);
}

void accesslog_audit(struct req *r, const char *action, const char *tag, const char *digest,
		     const char *detail)
{
	audit_as(r, action, claim_sub(r), r->route.name, tag, digest, detail);
}

void accesslog_audit_login(struct req *r, const char *user, enum berr result)
{
	const char *why = result ? berr_detail_for(result) : NULL;

	if (!user || !*user)
		return;
	audit_as(r, result == BERR_OK ? "login_ok" :
		    result == BERR_TOOMANYREQUESTS ? "lockout" : "login_failed",
		 user, NULL, NULL, NULL, why && *why ? why : (result ? berr_message(result) : NULL));
}
