/*
 * h_referrers.c - GET /v2/<name>/referrers/<digest>[?artifactType=]:
 * an OCI image index of the descriptors of every manifest in the repository
 * whose subject is <digest>.  An unknown subject is not an error: the answer
 * is an empty index.  The store keeps the list current on PUT and DELETE,
 * so this never scans the repository.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/gate.h"
#include "fcgi/handlers.h"

enum berr h_referrers(struct req *r)
{
	char at[256];
	struct digest d;
	json_t *list = NULL, *doc;
	char *body;
	int q;
	enum berr err;

	if ((err = digest_parse(&d, r->route.ref)))
		return err;
	if ((q = req_query(r, "artifactType", at, sizeof(at))) < 0)
		return berr_set(BERR_MANIFEST_INVALID, "artifactType is malformed or too long");
	if ((err = gate_check(r, r->route.name, AUTH_PULL)))
		return err;
	if ((err = store_referrers_list(r->store, r->route.name, &d, q > 0 && *at ? at : NULL,
					(struct json_t **)&list)))
		return err;
	doc = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX_S,
			"manifests", list);
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!body)
		return berr_set(BERR_INTERNAL, "out of memory");
	if (q > 0 && *at)
		resp_header(r, "OCI-Filters-Applied", "artifactType");
	resp_send(r, 200, MT_OCI_INDEX_S, body, strlen(body));
	free(body);
	return BERR_OK;
}
