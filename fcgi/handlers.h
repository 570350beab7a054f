/*
 * handlers.h - one function per endpoint, one file per API area.
 *
 * A handler returns BERR_OK after it has sent its answer, or an error code
 * (detail set) for dispatch() to send with resp_error(); a handler that must
 * add headers to an error answer (416 with Range) sends it itself.
 * Handlers stay thin: the logic lives in store/ and auth/.
 */
#ifndef BERTH_HANDLERS_H
#define BERTH_HANDLERS_H

#include "fcgi/request.h"

void dispatch(struct req *r);
/* Before an upload handler reads a body: this worker counts against the
 * client's (address and user) share of its pool, upload_client_workers;
 * over it, BERR_TOOMANYREQUESTS with Retry-After added (worker.c). */
enum berr pool_claim_upload(struct req *r);

enum berr h_base(struct req *r);                 /* h_base.c */
enum berr h_blob_get(struct req *r);             /* h_blob.c */
enum berr h_blob_delete(struct req *r);
enum berr h_upload_start(struct req *r);         /* h_upload.c */
enum berr h_upload_patch(struct req *r);
enum berr h_upload_put(struct req *r);
enum berr h_upload_status(struct req *r);
enum berr h_upload_cancel(struct req *r);
enum berr h_manifest_get(struct req *r);         /* h_manifest.c */
enum berr h_manifest_put(struct req *r);
enum berr h_manifest_delete(struct req *r);
enum berr h_tags_list(struct req *r);            /* h_tags.c */
enum berr h_catalog(struct req *r);
enum berr h_referrers(struct req *r);            /* h_referrers.c */
enum berr h_token(struct req *r);                /* h_token.c */
enum berr h_healthz(struct req *r);              /* h_health.c */
enum berr h_readyz(struct req *r);
enum berr h_metrics(struct req *r);              /* h_metrics.c */

/* DELETE is switched off by config: 405 UNSUPPORTED. */
enum berr h_check_delete_enabled(struct req *r);

#endif
