/*
 * tags.c - listing a repository's tags (store_tag_list in store.h).
 *
 * Tags are the names of the files in repos/<name>/_tags/ (store/layout.c).  A listing reads
 * the directory once and sorts it; temporaries being renamed into place
 * start with '.', which no tag can, and are skipped.  store_names_page()
 * cuts the n/last page out of a sorted listing; the catalog uses it too.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/layout.h"
#include "store/store.h"
#include "util/mem.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum berr read_tags(const char *dir, char ***out, size_t *count)
{
	size_t cap = 0, n = 0;
	char **v = NULL;
	struct dirent *de;
	enum berr rc;
	DIR *d;

	if (!(d = opendir(dir)))
		return errno == ENOENT ? BERR_OK : berr_sys("opendir", dir);
	while ((de = readdir(d))) {
		if (!layout_is_tag(de->d_name))
			continue;
		if ((rc = mem_grow(&v, &cap, n + 1, sizeof(*v), 64, "tags")))
			goto fail;
		if (!(v[n] = strdup(de->d_name))) {
			rc = berr_set(BERR_INTERNAL, "out of memory listing %s", dir);
			goto fail;
		}
		n++;
	}
	closedir(d);
	if (n > 1) /* qsort(NULL, 0) is undefined */
		qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	*count = n;
	return BERR_OK;
fail:
	closedir(d);
	store_tag_list_free(v, n);
	return rc;
}

void store_names_page(char **all, size_t total, const char *last, long n,
		      char ***out, size_t *count, int *more)
{
	size_t from = 0, take, i;

	if (last)
		while (from < total && strcmp(all[from], last) <= 0)
			from++;
	take = total - from;
	*more = 0;
	if (n >= 0 && (size_t)n < take) {
		take = (size_t)n;
		*more = 1;
	}
	for (i = 0; i < total; i++)
		if (i < from || i >= from + take)
			free(all[i]);
	if (take)
		memmove(all, all + from, take * sizeof(*all));
	*out = all;
	*count = take;
}

enum berr store_tag_list(struct store *s, const char *name, const char *last, long n,
			 char ***out, size_t *count, int *more)
{
	char dir[PATH_MAX];
	char **all = NULL;
	size_t total = 0;
	enum berr err;

	*out = NULL;
	*count = 0;
	*more = 0;
	if (!store_repo_exists(s, name))
		return berr_set(BERR_NAME_UNKNOWN, "repository %s is not known", name);
	if ((err = layout_repo_sub(s, name, LAYOUT_TAGS, dir, sizeof(dir))))
		return err;
	if ((err = read_tags(dir, &all, &total)))
		return err;
	store_names_page(all, total, last, n, out, count, more);
	return BERR_OK;
}

void store_tag_list_free(char **tags, size_t count)
{
	for (size_t i = 0; tags && i < count; i++)
		free(tags[i]);
	free(tags);
}
