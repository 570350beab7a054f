/*
 * h_tags.c - GET /v2/<name>/tags/list with the spec's pagination:
 * ?n= limits the page, ?last= starts after a tag, and a Link header with
 * rel="next" says there is more.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "fcgi/handlers.h"

static enum berr page_params(struct req *r, long *n, char *last, size_t lastlen)
{
	char nv[32], *end;
	int q;

	*n = -1;
	q = req_query(r, "n", nv, sizeof(nv));
	if (q < 0)
		return berr_set(BERR_SIZE_INVALID, "n must be a non-negative integer");
	if (q > 0) {
		errno = 0;
		*n = strtol(nv, &end, 10);
		if (errno || end == nv || *end || *n < 0)
			return berr_set(BERR_SIZE_INVALID, "n must be a non-negative integer");
	}
	last[0] = '\0';
	q = req_query(r, "last", last, lastlen);
	if (q < 0 || (q > 0 && *last && ref_tag_check(last)))
		return berr_set(BERR_MANIFEST_INVALID, "last must be a tag");
	return BERR_OK;
}

enum berr h_tags_list(struct req *r)
{
	char last[REF_TAG_MAX + 2];
	char **tags = NULL;
	size_t count = 0;
	json_t *doc, *arr;
	char *body;
	int more = 0;
	long n;
	enum berr err;

	if ((err = page_params(r, &n, last, sizeof(last))))
		return err;
	if ((err = auth_check(r, r->route.name, AUTH_PULL)))
		return err;
	if ((err = store_tag_list(r->store, r->route.name, *last ? last : NULL, n,
				  &tags, &count, &more)))
		return err;
	arr = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(arr, json_string(tags[i]));
	doc = json_pack("{s:s, s:o}", "name", r->route.name, "tags", arr);
	body = json_dumps(doc, JSON_COMPACT);
	if (more && count)
		resp_header(r, "Link", "</v2/%s/tags/list?n=%ld&last=%s>; rel=\"next\"",
			    r->route.name, n, tags[count - 1]);
	resp_send(r, 200, "application/json", body, strlen(body));
	free(body);
	json_decref(doc);
	store_tag_list_free(tags, count);
	return BERR_OK;
}
