/*
 * catalog.c - the list of repositories (store_catalog) and the search for a
 * repository holding a blob (store_blob_find_repo, for a mount without
 * "from").
 *
 * Repositories are directories under root/repos/, possibly nested: "a" and
 * "a/b" are repos/a/ (holding _blobs, _manifests, _tags) and repos/a/b/.  A
 * directory counts as a repository when it holds one of those three (the
 * LAYOUT_NAMED rows of store/layout.c's table); one
 * holding only nested repositories ("team" for "team/app") does not.  The
 * walk skips "_*" entries (the store's own directories can never be name
 * components) and dot entries, and only descends into names that pass the
 * name grammar, so nothing else under repos/ can leak into an answer.
 * The whole tree is read and sorted per request: cheap for the few thousand
 * repositories of a private registry, and it needs no index to keep right.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oci/ref.h"
#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/mem.h"

struct walk {
	char **v;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum berr walk_add(struct walk *w, const char *name)
{
	enum berr rc = mem_grow(&w->v, &w->cap, w->n + 1, sizeof(*w->v), 64, "repositories");

	if (rc)
		return rc;
	if (!(w->v[w->n] = strdup(name)))
		return berr_set(BERR_INTERNAL, "out of memory listing repositories");
	w->n++;
	return BERR_OK;
}

static int is_subdir(const char *dir, const struct dirent *de)
{
	char path[PATH_MAX];
	struct stat st;

	if (de->d_type == DT_DIR)
		return 1;
	if (de->d_type != DT_UNKNOWN) /* NFS may not fill d_type */
		return 0;
	if (fs_path(path, sizeof(path), "%s/%s", dir, de->d_name) != BERR_OK)
		return 0;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Does the store's directory `sub` make its parent a repository? */
static int names_repo(const char *sub)
{
	size_t i;

	for (i = 0; i < LAYOUT_SUB_COUNT; i++)
		if ((layout_subs[i].flags & LAYOUT_NAMED) && strcmp(sub, layout_subs[i].dir) == 0)
			return 1;
	return 0;
}

/* Adds `name` (directory `dir`) if it is a repository, then its nested ones. */
static enum berr walk_dir(struct walk *w, const char *dir, const char *name)
{
	char sub[PATH_MAX], child[REF_NAME_MAX + 2];
	struct dirent *de;
	enum berr rc = BERR_OK;
	int is_repo = 0;
	DIR *dh;

	if (!(dh = opendir(dir)))
		return errno == ENOENT || errno == ENOTDIR ? BERR_OK : berr_sys("opendir", dir);
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (de->d_name[0] == '_') {
			is_repo |= names_repo(de->d_name);
			continue;
		}
		if (de->d_name[0] == '.' || !is_subdir(dir, de))
			continue;
		if (snprintf(child, sizeof(child), "%s%s%s", name, *name ? "/" : "",
			     de->d_name) >= (int)sizeof(child) || !layout_is_name(child))
			continue; /* not something a client could have created */
		rc = fs_path(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (rc == BERR_OK)
			rc = walk_dir(w, sub, child);
	}
	closedir(dh);
	if (rc == BERR_OK && is_repo && *name)
		rc = walk_add(w, name);
	return rc;
}

/* Every repository, sorted; *names owned by the caller. */
static enum berr catalog_all(struct store *s, char ***names, size_t *count)
{
	char dir[PATH_MAX];
	struct walk w = { 0 };
	enum berr rc;

	*names = NULL;
	*count = 0;
	rc = layout_repos_dir(s, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = walk_dir(&w, dir, "");
	if (rc) {
		store_tag_list_free(w.v, w.n);
		return rc;
	}
	if (w.n > 1)
		qsort(w.v, w.n, sizeof(*w.v), cmp_str);
	*names = w.v;
	*count = w.n;
	return BERR_OK;
}

enum berr store_catalog(struct store *s, const char *last, long n, char ***out,
			size_t *count, int *more)
{
	char **all = NULL;
	size_t total = 0;
	enum berr rc;

	*out = NULL;
	*count = 0;
	*more = 0;
	rc = catalog_all(s, &all, &total);
	if (rc)
		return rc;
	store_names_page(all, total, last, n, out, count, more);
	return BERR_OK;
}

enum berr store_blob_find_repo(struct store *s, const struct digest *d,
			       int (*may_pull)(void *ctx, const char *repo), void *ctx,
			       char *out, size_t outlen)
{
	char **all = NULL, ds[DIGEST_STR_MAX], check[PATH_MAX];
	struct berr_ctx probe;
	size_t total = 0, i;
	enum berr rc;
	int linked;

	rc = store_blob_path(s, d, check, sizeof(check)); /* validates d */
	if (rc == BERR_OK)
		rc = store_blob_stat(s, d, NULL);
	if (rc == BERR_BLOB_UNKNOWN)
		return rc; /* not in the store at all: no walk needed */
	if (rc == BERR_OK)
		rc = catalog_all(s, &all, &total);
	if (rc)
		return rc;
	rc = BERR_BLOB_UNKNOWN;
	for (i = 0; i < total && rc == BERR_BLOB_UNKNOWN; i++) {
		berr_enter(&probe);
		linked = store_blob_linked(s, all[i], d) == BERR_OK;
		berr_leave(&probe);
		if (!linked)
			continue;
		if (may_pull && !may_pull(ctx, all[i]))
			continue;
		if (snprintf(out, outlen, "%s", all[i]) >= (int)outlen)
			rc = berr_set(BERR_INTERNAL, "repository name %s does not fit in %zu bytes",
				      all[i], outlen);
		else
			rc = BERR_OK;
	}
	store_tag_list_free(all, total);
	if (rc == BERR_BLOB_UNKNOWN)
		rc = berr_set(rc, "blob %s is in no repository you may pull from",
			      digest_format(d, ds));
	return rc;
}
