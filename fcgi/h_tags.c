/*
 * h_tags.c - GET /v2/<name>/tags/list and GET /v2/_catalog, both in lexical
 * order with the spec's pagination (fcgi/paginate.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/gate.h"
#include "fcgi/handlers.h"
#include "fcgi/paginate.h"

static void send_list(struct req *r, json_t *doc)
{
	char *body = json_dumps(doc, JSON_COMPACT);

	resp_send(r, 200, "application/json", body, body ? strlen(body) : 0);
	free(body);
	json_decref(doc);
}

static json_t *string_array(char **v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	return arr;
}

enum berr h_tags_list(struct req *r)
{
	char path[REF_NAME_MAX + 32];
	struct page p;
	char **tags = NULL;
	size_t count = 0;
	int more = 0;
	enum berr err;

	if ((err = page_parse(r, &p)))
		return err;
	if ((err = gate_check(r, r->route.name, AUTH_PULL)))
		return err;
	if ((err = store_tag_list(r->store, r->route.name, *p.last ? p.last : NULL, p.n,
				  &tags, &count, &more)))
		return err;
	snprintf(path, sizeof(path), "/v2/%s/tags/list", r->route.name);
	page_link(r, path, &p, more, count ? tags[count - 1] : NULL);
	send_list(r, json_pack("{s:s, s:o}", "name", r->route.name, "tags",
			       string_array(tags, count)));
	store_tag_list_free(tags, count);
	return BERR_OK;
}

/* Keep the entries of all[0..count) the caller may pull; returns how many.
 * A repository that cannot be judged is left out, quietly: its failure is
 * not the answer's, so it runs in a context of its own. */
static size_t visible_only(struct req *r, char **all, size_t count)
{
	struct berr_ctx quiet;
	size_t kept = 0;

	berr_enter(&quiet);
	for (size_t i = 0; i < count; i++) {
		if (gate_visible(r, all[i]))
			all[kept++] = all[i];
		else
			free(all[i]);
	}
	berr_leave(&quiet);
	return kept;
}

/* The catalog lists only what the caller may pull: filter, then page. */
enum berr h_catalog(struct req *r)
{
	struct page p;
	char **all = NULL;
	size_t count = 0, kept = 0, from = 0;
	int more = 0;
	enum berr err;

	if ((err = page_parse(r, &p)))
		return err;
	if ((err = gate_check(r, NULL, AUTH_CATALOG)))
		return err;
	if ((err = store_catalog(r->store, *p.last ? p.last : NULL, -1, &all, &count, &more)))
		return err;
	kept = visible_only(r, all, count);
	more = p.n >= 0 && kept > (size_t)p.n;
	if (more) {
		for (size_t i = (size_t)p.n; i < kept; i++)
			free(all[i]);
		kept = (size_t)p.n;
	}
	page_link(r, "/v2/_catalog", &p, more, kept ? all[kept - 1] : NULL);
	send_list(r, json_pack("{s:o}", "repositories", string_array(all + from, kept)));
	store_tag_list_free(all, kept);
	return BERR_OK;
}
