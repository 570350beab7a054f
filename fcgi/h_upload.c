/*
 * h_upload.c - blob uploads: POST (start, monolithic, mount), PATCH, PUT,
 * GET (status) and DELETE on /v2/<name>/blobs/uploads/[<id>].
 *
 * Bodies stream through one fixed buffer straight into the session's data
 * file while the session's saved SHA-256 state is fed; nothing about a
 * session lives in this process between requests, so any worker on any host
 * continues any upload.  A request that fails part-way rolls the session back
 * to its last committed offset: the client can retry the chunk.  That holds
 * for a client cut off as too slow or stalled too (request.c: 408
 * BLOB_UPLOAD_INVALID): GET on the session shows where to resume.
 *
 * A repository's no-write lock (store/locks.c) refuses a new session or
 * mount (POST) and the chunks and finish of a session begun before the
 * lock; cancelling a session stays possible.
 */
#include <stdlib.h>
#include <string.h>

#include "fcgi/accesslog.h"
#include "fcgi/gate.h"
#include "fcgi/handlers.h"
#include "fcgi/range.h"
#include "util/metrics.h"

#define BODY_BUF (64 * 1024) /* small: the socket keeps draining while a block is hashed and written */

static void session_headers(struct req *r, const struct upload *u)
{
	char range[64];

	range_format_session(u->offset + u->pending, range, sizeof(range));
	resp_location(r, "/v2/%s/blobs/uploads/%s", u->repo, u->id);
	resp_header(r, "Range", "%s", range);
	resp_header(r, "Docker-Upload-UUID", "%s", u->id);
}

static void blob_created(struct req *r, const struct digest *d)
{
	char ds[DIGEST_STR_MAX];

	digest_format(d, ds);
	resp_location(r, "/v2/%s/blobs/%s", r->route.name, ds);
	resp_header(r, "Docker-Content-Digest", "%s", ds);
	resp_send(r, 201, NULL, NULL, 0);
}

/* A body read failed after `got` bytes: too slow (req_read() said how) or
 * the stream broke. */
static enum berr body_error(struct req *r, int64_t got)
{
	if (r->body_error == BERR_TOO_SLOW)
		return BERR_TOO_SLOW;
	return berr_set(BERR_BLOB_UPLOAD_INVALID, "the request body ended early (after %lld bytes)",
			(long long)got);
}

/* Append the whole request body to the session, read straight into the
 * stage's buffer (store/stage.c), so that a byte crosses user space once.
 * `buf` is only for a session that cannot stage: append then says why. */
static enum berr stream_body(struct req *r, struct upload *u, int64_t *got)
{
	static char *buf;
	enum berr err;
	size_t cap;
	ssize_t n;
	char *dst;

	*got = 0;
	if (!buf && !(buf = malloc(BODY_BUF)))
		return berr_set(BERR_INTERNAL, "out of memory");
	for (;;) {
		if (!(dst = store_upload_space(u, &cap)))
			dst = buf, cap = BODY_BUF;
		if ((n = req_read(r, dst, cap < BODY_BUF ? cap : BODY_BUF)) < 0)
			return body_error(r, *got);
		if (n == 0)
			break;
		if ((err = store_upload_append(u, dst, (size_t)n)))
			return err;
		*got += n;
		metrics_add(METRICS_UPLOAD_BYTES, (uint64_t)n, 0, 0, 0);
	}
	if (r->content_length >= 0 && *got != r->content_length)
		return berr_set(BERR_SIZE_INVALID, "received %lld bytes, Content-Length said %lld",
				(long long)*got, (long long)r->content_length);
	return BERR_OK;
}

/* Checks a chunk's Content-Range (if any) against the session; on a
 * mismatch answers 416 with the session's current Range itself.
 * *expect: bytes the chunk must carry, -1 when no range was given. */
static enum berr check_range(struct req *r, struct upload *u, int64_t *expect)
{
	const char *cr = req_param(r, "HTTP_CONTENT_RANGE");
	int64_t start, end;
	enum berr err;

	*expect = -1;
	if (!cr || !*cr)
		return BERR_OK;
	err = range_parse_content_range(cr, &start, &end);
	if (!err && start != u->offset)
		err = berr_set(BERR_RANGE_INVALID, "chunk starts at %lld but the session has %lld bytes",
			       (long long)start, (long long)u->offset);
	if (!err && r->content_length >= 0 && r->content_length != end - start + 1)
		err = berr_set(BERR_RANGE_INVALID, "Content-Range covers %lld bytes, Content-Length is %lld",
			       (long long)(end - start + 1), (long long)r->content_length);
	if (err) {
		session_headers(r, u);
		resp_error(r, err);
		return err;
	}
	*expect = end - start + 1;
	return BERR_OK;
}

/* Content-Range check, then the body into the session. */
static enum berr receive_chunk(struct req *r, struct upload *u)
{
	int64_t expect, got;
	enum berr err;

	if ((err = check_range(r, u, &expect)))
		return err;
	err = stream_body(r, u, &got);
	if (!err && expect >= 0 && got != expect)
		err = berr_set(BERR_SIZE_INVALID, "received %lld bytes, Content-Range said %lld",
			       (long long)got, (long long)expect);
	if (err)
		store_upload_rollback(u);
	return err;
}

static enum berr query_digest(struct req *r, struct digest *d, int *present)
{
	char v[DIGEST_STR_MAX + 8];
	int q = req_query(r, "digest", v, sizeof(v));

	*present = q != 0;
	if (q < 0)
		return berr_set(BERR_DIGEST_INVALID, "malformed digest parameter");
	return q ? digest_parse(d, v) : BERR_OK;
}

static int may_pull(void *ctx, const char *repo)
{
	return gate_visible(ctx, repo);
}

/* The mount itself: 0 when the blob is linked into r's repository. */
static int mount(struct req *r, struct digest *d)
{
	char from[REF_NAME_MAX + 2], dv[DIGEST_STR_MAX + 8];
	int has_from;

	if (req_query(r, "mount", dv, sizeof(dv)) != 1 || digest_parse(d, dv))
		return -1;
	has_from = req_query(r, "from", from, sizeof(from));
	if (has_from < 0 || (has_from && (ref_name_check(from) ||
					  gate_check(r, from, AUTH_PULL) != BERR_OK ||
					  store_blob_linked(r->store, from, d))))
		return -1;
	if (!has_from && store_blob_find_repo(r->store, d, may_pull, r, from, sizeof(from)))
		return -1;
	if (store_blob_link(r->store, r->route.name, d))
		return -1;
	accesslog_audit(r, "mount", NULL, dv, from); /* detail: the source repository */
	return 0;
}

/* POST ?mount=<digest>[&from=<repo>]: link a blob another repository has
 * (any repository the caller may pull, when `from` is absent).  1 if
 * mounted; 0 and the caller falls back to an upload session otherwise.
 * A mount that cannot be done is no error: it runs in an error context of
 * its own, and what it added to the answer (a refused source's challenge)
 * is taken back, so the 202 of the session carries none of it. */
static int try_mount(struct req *r)
{
	struct berr_ctx quiet;
	struct digest d;
	size_t mark = resp_mark(r);
	int rc;

	berr_enter(&quiet);
	rc = mount(r, &d);
	berr_leave(&quiet);
	if (rc) {
		resp_rollback(r, mark);
		return 0;
	}
	blob_created(r, &d);
	return 1;
}

enum berr h_upload_start(struct req *r)
{
	struct upload u = { .datafd = -1 };
	struct digest want;
	int64_t got;
	int monolithic;
	enum berr err;

	if ((err = gate_check(r, r->route.name, AUTH_PUSH)))
		return err;
	if ((err = store_lock_check_write(r->store, r->route.name, NULL)))
		return err;
	if ((err = query_digest(r, &want, &monolithic)))
		return err;
	if (!monolithic && try_mount(r))
		return BERR_OK;
	if (!monolithic && r->content_length > 0)
		return berr_set(BERR_DIGEST_INVALID, "a POST with a body needs ?digest=");
	if (monolithic && (err = pool_claim_upload(r)))
		return err;
	if ((err = store_upload_create(r->store, r->route.name, &u)))
		return err;
	if (monolithic) {
		err = stream_body(r, &u, &got);
		if (!err)
			err = store_upload_finish(&u, &want);
		if (err)
			store_upload_cancel(&u);
		else
			blob_created(r, &want);
	} else {
		session_headers(r, &u);
		resp_send(r, 202, NULL, NULL, 0);
	}
	store_upload_close(&u);
	return err;
}

/* `writing`: the request adds data (PATCH, PUT), which a lock refuses. */
static enum berr open_session(struct req *r, struct upload *u, int writing)
{
	enum berr err;

	if ((err = gate_check(r, r->route.name, AUTH_PUSH)))
		return err;
	if ((err = ref_upload_id_check(r->route.ref)))
		return err;
	if (writing && (err = store_lock_check_write(r->store, r->route.name, NULL)))
		return err;
	if (writing && (err = pool_claim_upload(r)))
		return err;
	return store_upload_open(r->store, r->route.name, r->route.ref, u);
}

enum berr h_upload_patch(struct req *r)
{
	struct upload u = { .datafd = -1 };
	enum berr err;

	if ((err = open_session(r, &u, 1)))
		return err;
	if (!(err = receive_chunk(r, &u)) && !(err = store_upload_commit(&u))) {
		session_headers(r, &u);
		resp_send(r, 202, NULL, NULL, 0);
	}
	store_upload_close(&u);
	return err;
}

enum berr h_upload_put(struct req *r)
{
	struct upload u = { .datafd = -1 };
	struct digest want;
	int present;
	enum berr err;

	if ((err = query_digest(r, &want, &present)))
		return err;
	if (!present)
		return berr_set(BERR_DIGEST_INVALID, "the digest query parameter is required");
	if ((err = open_session(r, &u, 1)))
		return err;
	if (!(err = receive_chunk(r, &u))) {
		if ((err = store_upload_finish(&u, &want)))
			store_upload_rollback(&u);
		else
			blob_created(r, &want);
	}
	store_upload_close(&u);
	return err;
}

enum berr h_upload_status(struct req *r)
{
	struct upload u = { .datafd = -1 };
	enum berr err;

	if ((err = gate_check(r, r->route.name, AUTH_PUSH)))
		return err;
	if ((err = ref_upload_id_check(r->route.ref)))
		return err;
	if ((err = store_upload_peek(r->store, r->route.name, r->route.ref, &u)))
		return err;
	session_headers(r, &u);
	resp_send(r, 204, NULL, NULL, 0);
	store_upload_close(&u);
	return BERR_OK;
}

enum berr h_upload_cancel(struct req *r)
{
	struct upload u = { .datafd = -1 };
	enum berr err;

	if ((err = open_session(r, &u, 0)))
		return err;
	if (!(err = store_upload_cancel(&u)))
		resp_send(r, 204, NULL, NULL, 0);
	store_upload_close(&u);
	return err;
}
