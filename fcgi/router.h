/*
 * router.h - maps a raw request path to an API endpoint.
 *
 * Routing works on the raw (still percent-encoded) path: a repository name
 * may never contain '%', so "%2F" or "%00" fail the name grammar instead of
 * being decoded into something that could reach the disk.  The endpoint is
 * recognised from the right, because the name itself may contain components
 * like "blobs" or "manifests" ("a/blobs/manifests/latest" is the manifest
 * "latest" of the repository "a/blobs").
 */
#ifndef BERTH_ROUTER_H
#define BERTH_ROUTER_H

#include "oci/ref.h"
#include "util/err.h"

enum route_kind {
	ROUTE_NONE = 0,
	ROUTE_BASE,         /* /v2/ */
	ROUTE_CATALOG,      /* /v2/_catalog */
	ROUTE_TAGS,         /* /v2/<name>/tags/list */
	ROUTE_MANIFEST,     /* /v2/<name>/manifests/<reference> */
	ROUTE_BLOB,         /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOAD_START, /* /v2/<name>/blobs/uploads/ */
	ROUTE_UPLOAD,       /* /v2/<name>/blobs/uploads/<id> */
	ROUTE_REFERRERS,    /* /v2/<name>/referrers/<digest> */
	ROUTE_TOKEN,        /* /token */
	ROUTE_HEALTHZ,      /* /healthz */
	ROUTE_READYZ,       /* /readyz */
	ROUTE_METRICS,      /* /metrics */
};

struct route {
	enum route_kind kind;
	char name[REF_NAME_MAX + 1];
	char ref[160];           /* tag, digest or upload id, as sent */
};

/* ROUTE_NONE with BERR_OK when nothing matches (the caller answers 404);
 * BERR_NAME_INVALID when the endpoint matched but the name is bad;
 * BERR_MANIFEST_INVALID / BERR_DIGEST_INVALID / BERR_BLOB_UPLOAD_UNKNOWN when
 * the last component is too long to be a reference. */
enum berr route_parse(const char *path, struct route *out);
const char *route_kind_name(enum route_kind k);

#endif
