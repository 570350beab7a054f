/*
 * h_blob.c - HEAD and GET /v2/<name>/blobs/<digest>.
 *
 * The worker only decides: is the digest valid, may the caller pull, is the
 * blob in this repository.  GET then hands the transfer to nginx with
 * X-Accel-Redirect to the internal location over the blob store, so bytes go
 * out by sendfile, Range requests are nginx's, and no worker is held while a
 * layer downloads.  HEAD is answered here: it needs only the size.
 * DELETE is refused while the repository has a no-delete lock
 * (store/locks.c).
 */
#include "fcgi/accesslog.h"
#include "fcgi/gate.h"
#include "fcgi/handlers.h"
#include "util/metrics.h"

enum berr h_blob_get(struct req *r)
{
	char ds[DIGEST_STR_MAX], rel[DIGEST_STR_MAX + 16];
	struct digest d;
	int64_t size;
	enum berr err;

	if ((err = digest_parse(&d, r->route.ref)))
		return err;
	if ((err = gate_check(r, r->route.name, AUTH_PULL)))
		return err;
	if ((err = store_blob_linked_size(r->store, r->route.name, &d, &size)))
		return err;
	digest_format(&d, ds);
	resp_header(r, "Docker-Content-Digest", "%s", ds);
	if (r->head) {
		resp_header(r, "Accept-Ranges", "bytes");
		resp_header(r, "ETag", "\"%s\"", ds);
		resp_send_length(r, 200, "application/octet-stream", size);
		return BERR_OK;
	}
	store_blob_relpath(&d, rel, sizeof(rel));
	resp_header(r, "X-Accel-Redirect", "%s%s", r->cfg->blob_location, rel);
	metrics_add(METRICS_BLOB_REDIRECT_BYTES, (uint64_t)size, 0, 0, 0);
	resp_send_length(r, 200, "application/octet-stream", -1);
	return BERR_OK;
}

enum berr h_blob_delete(struct req *r)
{
	char ds[DIGEST_STR_MAX];
	struct digest d;
	enum berr err;

	if ((err = h_check_delete_enabled(r)))
		return err;
	if ((err = digest_parse(&d, r->route.ref)))
		return err;
	if ((err = gate_check(r, r->route.name, AUTH_DELETE)))
		return err;
	if ((err = store_lock_check_delete(r->store, r->route.name, NULL, NULL)))
		return err;
	if ((err = store_blob_unlink(r->store, r->route.name, &d)))
		return err;
	resp_header(r, "Docker-Content-Digest", "%s", digest_format(&d, ds));
	accesslog_audit(r, "delete_blob", NULL, ds, NULL);
	resp_send(r, 202, NULL, NULL, 0);
	return BERR_OK;
}
