/*
 * h_manifest.c - GET, HEAD and PUT /v2/<name>/manifests/<tag|digest>.
 *
 * The bytes served are exactly the bytes pushed, with the media type they
 * were pushed as (kept in the manifest's link, so a GET never parses JSON).
 * A tag is negotiated against the client's Accept; a digest names exact
 * content and is served whatever Accept says.
 *
 * A GET or HEAD whose reference can be no tag (".INVALID_MANIFEST_NAME")
 * asks for a manifest that cannot exist: 404 MANIFEST_UNKNOWN, as the spec
 * words it and as Distribution and zot answer (clients and the spec's
 * conformance suite expect it).  A PUT or DELETE with it stays 400
 * MANIFEST_INVALID: there the client names a tag it wants to write.  A
 * reference with a ':' is a digest, and a malformed digest stays 400
 * DIGEST_INVALID everywhere.
 *
 * PUT and DELETE check the administrators' locks (store/locks.c) after auth,
 * so only a caller allowed to push or delete learns that something is locked.
 *
 * A PUT is bounded before the store sees it: manifest_max_descriptors
 * descriptors at most (an index naming one child 20,000 times is 20,000),
 * and every descriptor's size must match its stored blob.
 */
#include <stdlib.h>
#include <string.h>

#include "fcgi/accesslog.h"
#include "fcgi/gate.h"
#include "fcgi/handlers.h"

/* A reference is a digest when it has a ':' (tags cannot). */
static enum berr parse_reference(const char *ref, struct digest *d, int *is_digest)
{
	*is_digest = strchr(ref, ':') != NULL;
	if (*is_digest)
		return digest_parse(d, ref);
	return ref_tag_check(ref);
}

/* An unknown repository answers NAME_UNKNOWN, an unknown manifest in a
 * known one MANIFEST_UNKNOWN; the repository is looked at only when the
 * manifest is missing, so a GET that succeeds costs no extra stat. */
static enum berr unknown(struct req *r, enum berr err)
{
	if (err == BERR_MANIFEST_UNKNOWN && !store_repo_exists(r->store, r->route.name))
		return berr_set(BERR_NAME_UNKNOWN, "repository %s is not known", r->route.name);
	return err;
}

/* GET, HEAD: a reference that is no tag names no manifest (see the top). */
static enum berr no_such_tag(struct req *r)
{
	const char *why = berr_detail_for(BERR_MANIFEST_INVALID);

	return berr_set(BERR_MANIFEST_UNKNOWN, "no manifest can be tagged \"%.140s\": %s",
			r->route.ref, why ? why : "invalid tag");
}

static enum berr resolve(struct req *r, struct digest *d, int *by_digest)
{
	enum berr err;

	if ((err = parse_reference(r->route.ref, d, by_digest)))
		return *by_digest ? err : no_such_tag(r);
	if ((err = gate_check(r, r->route.name, AUTH_PULL)))
		return err;
	/* checked by the caller's store_manifest_linked, which reads the type */
	if (!*by_digest)
		return unknown(r, store_tag_read(r->store, r->route.name, r->route.ref, d));
	return BERR_OK;
}

enum berr h_manifest_get(struct req *r)
{
	char mt[256], ds[DIGEST_STR_MAX], accept[2048];
	struct digest d;
	char *buf = NULL;
	size_t len = 0;
	int64_t size;
	int by_digest;
	enum berr err;

	if ((err = resolve(r, &d, &by_digest)))
		return err;
	if ((err = store_manifest_linked(r->store, r->route.name, &d, mt, sizeof(mt))))
		return unknown(r, err);
	req_param_all(r, "HTTP_ACCEPT", accept, sizeof(accept));
	if (!by_digest && !manifest_accept_allows(accept, mt))
		return berr_set(BERR_MANIFEST_UNKNOWN,
				"%s:%s is a %s, which the Accept header does not allow",
				r->route.name, r->route.ref, mt);
	digest_format(&d, ds);
	resp_header(r, "Docker-Content-Digest", "%s", ds);
	resp_header(r, "ETag", "\"%s\"", ds);
	if (r->head) {
		if ((err = store_blob_stat(r->store, &d, &size)))
			return berr_set(BERR_MANIFEST_UNKNOWN, "manifest %s is missing", ds);
		resp_send_length(r, 200, mt, size);
		return BERR_OK;
	}
	if ((err = store_blob_read(r->store, &d, (size_t)r->cfg->max_manifest, &buf, &len)))
		return err == BERR_BLOB_UNKNOWN ?
			berr_set(BERR_MANIFEST_UNKNOWN, "manifest %s is missing", ds) : err;
	resp_send(r, 200, mt, buf, len);
	free(buf);
	return BERR_OK;
}

/* Content-Type without parameters, or NULL. */
static const char *content_type(struct req *r)
{
	const char *ct = req_param(r, "CONTENT_TYPE");

	return (ct && *ct) ? ct : NULL;
}

/* Before anything is written: at most manifest_max_descriptors descriptors
 * (repeats counted: each would cost the store a check), and each size
 * right, or every client pulling the manifest would fail on that blob. */
static enum berr check_descriptors(struct req *r, const struct manifest *m)
{
	long max = r->cfg->manifest_max_descriptors;

	if (max > 0 && m->ndescriptors > (size_t)max)
		return berr_set(BERR_MANIFEST_INVALID, "manifest invalid: %zu descriptors, "
				"at most %ld allowed (manifest_max_descriptors)",
				m->ndescriptors, max);
	return store_manifest_check_sizes(r->store, r->route.name, m);
}

enum berr h_manifest_put(struct req *r)
{
	struct manifest m = { 0 };
	struct digest want, got;
	char ds[DIGEST_STR_MAX];
	char *buf = NULL;
	size_t len;
	int by_digest;
	enum berr err;

	if ((err = parse_reference(r->route.ref, &want, &by_digest)))
		return err;
	if ((err = gate_check(r, r->route.name, AUTH_PUSH)))
		return err;
	if ((err = store_lock_check_write(r->store, r->route.name, by_digest ? NULL : r->route.ref)))
		return err;
	if ((err = req_read_all(r, (size_t)r->cfg->max_manifest, &buf, &len)))
		goto out;
	if ((err = manifest_parse(&m, content_type(r), buf, len)))
		goto out;
	if ((err = check_descriptors(r, &m)))
		goto out;
	err = store_manifest_put(r->store, r->route.name, &m, manifest_type_name(m.type),
				 buf, len, by_digest ? &want : NULL,
				 by_digest ? NULL : r->route.ref, &got);
	if (err)
		goto out;
	digest_format(&got, ds);
	resp_location(r, "/v2/%s/manifests/%s", r->route.name, ds);
	resp_header(r, "Docker-Content-Digest", "%s", ds);
	if (m.has_subject) {
		char ss[DIGEST_STR_MAX];
		resp_header(r, "OCI-Subject", "%s", digest_format(&m.subject.digest, ss));
	}
	accesslog_audit(r, "push", by_digest ? NULL : r->route.ref, ds, manifest_type_name(m.type));
	resp_send(r, 201, NULL, NULL, 0);
out:
	manifest_release(&m);
	free(buf);
	return err;
}

/* By digest: the manifest and every tag naming it.  By tag: only the tag. */
enum berr h_manifest_delete(struct req *r)
{
	const char *name = r->route.name;
	struct digest d;
	int by_digest;
	enum berr err;

	if ((err = h_check_delete_enabled(r)))
		return err;
	if ((err = parse_reference(r->route.ref, &d, &by_digest)))
		return err;
	if ((err = gate_check(r, name, AUTH_DELETE)))
		return err;
	if (!store_repo_exists(r->store, name))
		return berr_set(BERR_NAME_UNKNOWN, "repository %s is not known", name);
	if ((err = store_lock_check_delete(r->store, name, by_digest ? NULL : r->route.ref,
					   by_digest ? &d : NULL)))
		return err;
	if (by_digest)
		err = store_manifest_delete(r->store, name, &d, r->cfg->delete_force);
	else
		err = store_tag_delete(r->store, name, r->route.ref);
	if (err)
		return err;
	accesslog_audit(r, by_digest ? "delete_manifest" : "delete_tag", by_digest ? NULL : r->route.ref,
			by_digest ? r->route.ref : NULL, NULL);
	resp_send(r, 202, NULL, NULL, 0);
	return BERR_OK;
}
