/*
 * dispatch.c - route a request to its handler and answer its error.
 *
 * Methods an endpoint does not support answer 405 UNSUPPORTED with an Allow
 * header; paths outside the API answer 404.
 */
#include <string.h>

#include "fcgi/handlers.h"

typedef enum berr (*handler_fn)(struct req *r);

struct method_map {
	const char *method;
	handler_fn fn;
};

struct endpoint {
	enum route_kind kind;
	const char *allow;
	struct method_map methods[5];
};

static const struct endpoint endpoints[] = {
	{ ROUTE_BASE, "GET, HEAD", { { "GET", h_base }, { "HEAD", h_base } } },
	{ ROUTE_TOKEN, "GET, POST", { { "GET", h_token }, { "POST", h_token } } },
	{ ROUTE_HEALTHZ, "GET, HEAD", { { "GET", h_healthz }, { "HEAD", h_healthz } } },
	{ ROUTE_READYZ, "GET, HEAD", { { "GET", h_readyz }, { "HEAD", h_readyz } } },
	{ ROUTE_METRICS, "GET, HEAD", { { "GET", h_metrics }, { "HEAD", h_metrics } } },
	{ ROUTE_CATALOG, "GET", { { "GET", h_catalog } } },
	{ ROUTE_TAGS, "GET", { { "GET", h_tags_list } } },
	{ ROUTE_REFERRERS, "GET", { { "GET", h_referrers } } },
	{ ROUTE_MANIFEST, "GET, HEAD, PUT, DELETE",
	  { { "GET", h_manifest_get }, { "HEAD", h_manifest_get }, { "PUT", h_manifest_put },
	    { "DELETE", h_manifest_delete } } },
	{ ROUTE_BLOB, "GET, HEAD, DELETE",
	  { { "GET", h_blob_get }, { "HEAD", h_blob_get }, { "DELETE", h_blob_delete } } },
	{ ROUTE_UPLOAD_START, "POST", { { "POST", h_upload_start } } },
	{ ROUTE_UPLOAD, "GET, PATCH, PUT, DELETE",
	  { { "GET", h_upload_status }, { "PATCH", h_upload_patch },
	    { "PUT", h_upload_put }, { "DELETE", h_upload_cancel } } },
};

static enum berr dispatch_route(struct req *r)
{
	const struct endpoint *ep = NULL;
	size_t i;

	for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
		if (endpoints[i].kind == r->route.kind)
			ep = &endpoints[i];
	if (!ep)
		return berr_set(BERR_NAME_UNKNOWN, "no such endpoint: %s", r->path);
	for (i = 0; i < 5 && ep->methods[i].method; i++)
		if (strcmp(ep->methods[i].method, r->method) == 0)
			return ep->methods[i].fn(r);
	resp_header(r, "Allow", "%s", ep->allow);
	return berr_set(BERR_UNSUPPORTED, "%s is not supported on %s", r->method,
			route_kind_name(r->route.kind));
}

enum berr h_check_delete_enabled(struct req *r)
{
	if (r->cfg->delete_enabled)
		return BERR_OK;
	resp_header(r, "Allow", "GET, HEAD");
	return berr_set(BERR_UNSUPPORTED, "deletion is disabled on this registry (delete_enabled = false)");
}

void dispatch(struct req *r)
{
	enum berr err;

	err = route_parse(r->path, &r->route);
	if (!err)
		err = dispatch_route(r);
	if (err && !r->sent)
		resp_error(r, err);
}
