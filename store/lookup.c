/*
 * lookup.c - is it in the repository?  The read side of repositories:
 * whether one exists, whether a blob or a manifest is linked in it, which
 * digest a tag names (store.h; the tree is spelled by store/layout.c).
 *
 * Lookups always confirm the target too (link present AND blob bytes
 * present): a collector that removes a blob before its links, or a crash
 * in the middle of anything, can then never make a dangling reference look
 * valid.  Everything that writes (store/repo.c, store/referrers.c,
 * store/delete.c) reads through here, which is why this file sits below
 * them and calls none of them.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"

int store_repo_exists(struct store *s, const char *name)
{
	char path[PATH_MAX];
	struct berr_ctx quiet;
	struct stat st;
	int found = 0;
	size_t i;

	berr_enter(&quiet);
	for (i = 0; !found && i < LAYOUT_SUB_COUNT; i++) {
		if (!(layout_subs[i].flags & LAYOUT_LINKS))
			continue;
		if (layout_repo_sub(s, name, (enum layout_sub)i, path, sizeof(path)) != BERR_OK)
			break;
		found = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	}
	berr_leave(&quiet);
	return found;
}

enum berr store_blob_linked(struct store *s, const char *name, const struct digest *d)
{
	return store_blob_linked_size(s, name, d, NULL);
}

enum berr store_blob_linked_size(struct store *s, const char *name, const struct digest *d,
				 int64_t *size)
{
	char path[PATH_MAX], dstr[DIGEST_STR_MAX];
	enum berr rc;

	rc = layout_link(s, name, LAYOUT_BLOBS, d, path, sizeof(path));
	if (rc)
		return rc;
	if (!fs_exists(path))
		return berr_set(BERR_BLOB_UNKNOWN, "blob %s is not in repository %s",
				digest_format(d, dstr), name);
	return store_blob_stat(s, d, size);
}

enum berr store_manifest_linked(struct store *s, const char *name,
				const struct digest *d, char *mt, size_t mtlen)
{
	char path[PATH_MAX], dstr[DIGEST_STR_MAX], buf[256];
	enum berr rc;
	size_t n;

	rc = layout_link(s, name, LAYOUT_MANIFESTS, d, path, sizeof(path));
	if (rc)
		return rc;
	rc = fs_read_str(path, buf, sizeof(buf), NULL, BERR_MANIFEST_UNKNOWN);
	if (rc == BERR_OK && store_blob_stat(s, d, NULL) != BERR_OK)
		rc = BERR_MANIFEST_UNKNOWN;
	if (rc == BERR_MANIFEST_UNKNOWN)
		return berr_set(rc, "manifest %s is not in repository %s",
				digest_format(d, dstr), name);
	if (rc)
		return rc;
	n = strcspn(buf, " \t\r\n");
	buf[n] = '\0';
	if (mt && mtlen) {
		if (n >= mtlen)
			return berr_set(BERR_INTERNAL, "%s: media type too long", path);
		memcpy(mt, buf, n + 1);
	}
	return BERR_OK;
}

enum berr store_tag_read(struct store *s, const char *name, const char *tag,
			 struct digest *out)
{
	char path[PATH_MAX], buf[DIGEST_STR_MAX + 8];
	enum berr rc;

	rc = layout_tag(s, name, tag, path, sizeof(path));
	if (rc)
		return rc;
	rc = fs_read_str(path, buf, sizeof(buf), NULL, BERR_MANIFEST_UNKNOWN);
	if (rc == BERR_MANIFEST_UNKNOWN)
		return berr_set(rc, "tag %s is not in repository %s", tag, name);
	if (rc)
		return rc;
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (digest_parse(out, buf) != BERR_OK)
		return berr_set(BERR_INTERNAL, "%s: damaged tag file", path);
	return BERR_OK;
}

enum berr store_tag_resolve(struct store *s, const char *name, const char *tag,
			    struct digest *out)
{
	struct digest d;
	enum berr rc;

	rc = store_tag_read(s, name, tag, &d);
	if (rc == BERR_OK)
		rc = store_manifest_linked(s, name, &d, NULL, 0);
	if (rc == BERR_OK && out)
		*out = d;
	return rc;
}

/* Non-dot names in `dir` (0 if it cannot be read). */
static long count_files(const char *dir)
{
	struct dirent *de;
	long n = 0;
	DIR *dh;

	if (!(dh = opendir(dir)))
		return 0;
	while ((de = readdir(dh)))
		n += de->d_name[0] != '.';
	closedir(dh);
	return n;
}

/* Files of one repository directory: per algorithm for link directories. */
static long count_sub(struct store *s, const char *name, enum layout_sub sub)
{
	char dir[PATH_MAX];
	long n = 0;
	size_t i;

	if (!(layout_subs[sub].flags & LAYOUT_LINKS))
		return layout_repo_sub(s, name, sub, dir, sizeof(dir)) == BERR_OK ?
		       count_files(dir) : 0;
	for (i = 0; i < LAYOUT_ALG_COUNT; i++)
		if (layout_alg_dir(s, name, sub, layout_algs[i], dir, sizeof(dir)) == BERR_OK)
			n += count_files(dir);
	return n;
}

enum berr store_repo_count(struct store *s, const char *name, struct store_repo_counts *c)
{
	char dir[PATH_MAX];
	enum berr rc;

	memset(c, 0, sizeof(*c));
	rc = layout_repo(s, name, dir, sizeof(dir));
	if (rc)
		return rc;
	c->tags = count_sub(s, name, LAYOUT_TAGS);
	c->manifests = count_sub(s, name, LAYOUT_MANIFESTS);
	c->blob_links = count_sub(s, name, LAYOUT_BLOBS);
	c->locks = count_sub(s, name, LAYOUT_LOCKS);
	return BERR_OK;
}
