/*
 * layout.c - every path of the store (layout.h; the tree is drawn in
 * store/store.h).
 *
 * Paths are made only of what was checked here: a repository name that
 * passes the spec's grammar (so no "..", no leading '/', no "_"
 * component that could meet the store's own directories), a tag of the tag
 * grammar, a digest of a known algorithm in lowercase hex, an upload id in
 * UUID form.  Every builder goes through fs_path(), which fails rather than
 * cut a path short.
 *
 * The reverse direction (a name found in a listing back to a digest) is
 * silent (the quiet predicates of oci/): a listing meets temporaries, dot
 * names and strays, and "this is not a digest" is an answer there, not a
 * failure to report, so it must neither show up in nor wipe the caller's
 * error detail.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oci/ref.h"
#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/mem.h"

const struct layout_sub_row layout_subs[LAYOUT_SUB_COUNT] = {
	[LAYOUT_TAGS]      = { "_tags",      LAYOUT_NAMED | LAYOUT_CONTENT },
	[LAYOUT_MANIFESTS] = { "_manifests", LAYOUT_LINKS | LAYOUT_NAMED | LAYOUT_CONTENT },
	[LAYOUT_REFERRERS] = { "_referrers", LAYOUT_ENTRIES | LAYOUT_CONTENT },
	[LAYOUT_PARENTS]   = { "_parents",   LAYOUT_ENTRIES | LAYOUT_CONTENT },
	[LAYOUT_BLOBS]     = { "_blobs",     LAYOUT_LINKS | LAYOUT_NAMED | LAYOUT_CONTENT },
	[LAYOUT_LOCKS]     = { "_locks",     0 },
};

const enum digest_alg layout_algs[LAYOUT_ALG_COUNT] = { DIGEST_SHA256, DIGEST_SHA512 };

/* ---- silent checks ---- */

int layout_is_tag(const char *name)
{
	return name && ref_tag_valid(name);
}

int layout_is_name(const char *name)
{
	return name && ref_name_valid(name);
}

static int parse_quiet(struct digest *d, const char *s)
{
	return digest_parse_quiet(d, s) ? 0 : -1;
}

int layout_entry_digest(const char *name, struct digest *d)
{
	char buf[DIGEST_STR_MAX + 8], *dash;

	if (name[0] == '.' || mem_strcpy(buf, sizeof(buf), name) != 0 ||
	    !(dash = strchr(buf, '-')))
		return -1;
	*dash = ':';
	return parse_quiet(d, buf);
}

int layout_link_digest(const char *alg, const char *name, struct digest *d)
{
	char buf[DIGEST_STR_MAX + 8];

	if (name[0] == '.' || snprintf(buf, sizeof(buf), "%s:%s", alg, name) >= (int)sizeof(buf))
		return -1;
	return parse_quiet(d, buf);
}

int layout_digest_sane(const struct digest *d)
{
	size_t i, n;

	if (d == NULL || (d->alg != DIGEST_SHA256 && d->alg != DIGEST_SHA512))
		return 0;
	n = digest_hex_len(d->alg);
	if (strnlen(d->hex, sizeof(d->hex)) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((d->hex[i] >= '0' && d->hex[i] <= '9') || (d->hex[i] >= 'a' && d->hex[i] <= 'f')))
			return 0;
	return 1;
}

static enum berr check_digest(const struct digest *d)
{
	return layout_digest_sane(d) ? BERR_OK : berr_set(BERR_DIGEST_INVALID, "malformed digest");
}

static enum berr check_name(const char *name)
{
	return layout_is_name(name) ? BERR_OK :
	       berr_set(BERR_NAME_INVALID, "invalid repository name");
}

enum berr layout_entry_name(const struct digest *d, char *out, size_t outlen)
{
	enum berr rc = check_digest(d);

	return rc ? rc : fs_path(out, outlen, "%s-%s", digest_alg_name(d->alg), d->hex);
}

/* ---- the top of the tree ---- */

enum berr layout_create(const char *root)
{
	static const char *const dirs[] = {
		"blobs", "blobs/sha256", "blobs/sha512", "repos", "uploads", "tmp",
	};
	char path[PATH_MAX];
	enum berr rc = BERR_OK;
	size_t i;

	for (i = 0; rc == BERR_OK && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		rc = fs_path(path, sizeof(path), "%s/%s", root, dirs[i]);
		if (rc == BERR_OK)
			rc = fs_mkdir_p(path);
	}
	return rc;
}

enum berr layout_blobs_dir(struct store *s, char *out, size_t outlen)
{
	return fs_path(out, outlen, "%s/blobs", s->root);
}

enum berr layout_blob_alg_dir(struct store *s, enum digest_alg alg, char *out, size_t outlen)
{
	if (alg != DIGEST_SHA256 && alg != DIGEST_SHA512)
		return berr_set(BERR_DIGEST_INVALID, "unsupported digest algorithm");
	return fs_path(out, outlen, "%s/blobs/%s", s->root, digest_alg_name(alg));
}

enum berr layout_repos_dir(struct store *s, char *out, size_t outlen)
{
	return fs_path(out, outlen, "%s/repos", s->root);
}

enum berr layout_uploads_dir(struct store *s, char *out, size_t outlen)
{
	return fs_path(out, outlen, "%s/uploads", s->root);
}

enum berr layout_tmp_dir(struct store *s, char *out, size_t outlen)
{
	return fs_path(out, outlen, "%s/tmp", s->root);
}

enum berr layout_tmp(struct store *s, const char *prefix, const char *rest, char *out,
		     size_t outlen)
{
	if (strchr(prefix, '/') || strchr(rest, '/') || rest[0] == '\0')
		return berr_set(BERR_INTERNAL, "temporary name %s.%s", prefix, rest);
	return fs_path(out, outlen, "%s/tmp/%s.%s", s->root, prefix, rest);
}

enum berr layout_quarantine_dir(struct store *s, char *out, size_t outlen)
{
	return fs_path(out, outlen, "%s/quarantine", s->root);
}

enum berr layout_quarantine(struct store *s, const char *base, const char *rnd, char *out,
			    size_t outlen)
{
	if (base[0] == '\0' || base[0] == '.' || strchr(base, '/') || strchr(rnd, '/'))
		return berr_set(BERR_INTERNAL, "cannot quarantine as %s", base);
	return fs_path(out, outlen, "%s/quarantine/%s.%s", s->root, base, rnd);
}

int layout_in_blobs(struct store *s, const char *path)
{
	char dir[PATH_MAX];
	size_t n;

	if (layout_blobs_dir(s, dir, sizeof(dir)) != BERR_OK)
		return 0;
	n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/' && !strstr(path + n, "/.") &&
	       path[strlen(path) - 1] != '/';
}

enum berr layout_gc(struct store *s, enum layout_gc which, char *out, size_t outlen)
{
	static const char *const files[] = {
		[LAYOUT_GC_DIR] = "", [LAYOUT_GC_LOCK] = "/lock",
		[LAYOUT_GC_EPOCH] = "/epoch", [LAYOUT_GC_TRASH] = "/trash", [LAYOUT_GC_REPORT] = "/report.json",
	};

	return fs_path(out, outlen, "%s/gc%s", s->root, files[which]);
}

/* ---- blobs ---- */

enum berr layout_blob(struct store *s, const struct digest *d, char *out, size_t outlen)
{
	if (!layout_digest_sane(d)) {
		if (outlen)
			out[0] = '\0';
		return check_digest(d);
	}
	return fs_path(out, outlen, "%s/blobs/%s/%.2s/%s", s->root,
		       digest_alg_name(d->alg), d->hex, d->hex);
}

void layout_blob_rel(const struct digest *d, char *out, size_t outlen)
{
	struct berr_ctx quiet;

	berr_enter(&quiet);
	if (!layout_digest_sane(d) ||
	    fs_path(out, outlen, "%s/%.2s/%s", digest_alg_name(d->alg), d->hex, d->hex) != BERR_OK) {
		if (outlen)
			out[0] = '\0';
	}
	berr_leave(&quiet);
}

/* ---- a repository ---- */

enum berr layout_repo(struct store *s, const char *name, char *out, size_t outlen)
{
	enum berr rc = check_name(name);

	return rc ? rc : fs_path(out, outlen, "%s/repos/%s", s->root, name);
}

enum berr layout_repo_sub(struct store *s, const char *name, enum layout_sub sub, char *out,
			  size_t outlen)
{
	enum berr rc = check_name(name);

	return rc ? rc : fs_path(out, outlen, "%s/repos/%s/%s", s->root, name,
				 layout_subs[sub].dir);
}

enum berr layout_alg_dir(struct store *s, const char *name, enum layout_sub sub,
			 enum digest_alg alg, char *out, size_t outlen)
{
	enum berr rc = check_name(name);

	if (rc == BERR_OK && alg != DIGEST_SHA256 && alg != DIGEST_SHA512)
		rc = berr_set(BERR_DIGEST_INVALID, "unsupported digest algorithm");
	return rc ? rc : fs_path(out, outlen, "%s/repos/%s/%s/%s", s->root, name,
				 layout_subs[sub].dir, digest_alg_name(alg));
}

enum berr layout_link(struct store *s, const char *name, enum layout_sub sub,
		      const struct digest *d, char *out, size_t outlen)
{
	enum berr rc = check_name(name);

	if (rc == BERR_OK)
		rc = check_digest(d);
	return rc ? rc : fs_path(out, outlen, "%s/repos/%s/%s/%s/%s", s->root, name,
				 layout_subs[sub].dir, digest_alg_name(d->alg), d->hex);
}

enum berr layout_entry(struct store *s, const char *name, enum layout_sub sub,
		       const struct digest *key, const struct digest *d, char *out,
		       size_t outlen)
{
	enum berr rc = check_name(name);

	if (rc == BERR_OK)
		rc = check_digest(key);
	if (rc == BERR_OK && d)
		rc = check_digest(d);
	if (rc)
		return rc;
	if (d == NULL)
		return layout_link(s, name, sub, key, out, outlen);
	return fs_path(out, outlen, "%s/repos/%s/%s/%s/%s/%s-%s", s->root, name,
		       layout_subs[sub].dir, digest_alg_name(key->alg), key->hex,
		       digest_alg_name(d->alg), d->hex); /* the name: layout_entry_name */
}

enum berr layout_tag(struct store *s, const char *name, const char *tag, char *out,
		     size_t outlen)
{
	enum berr rc = check_name(name);

	if (rc)
		return rc;
	if (!layout_is_tag(tag))
		return berr_set(BERR_MANIFEST_INVALID, "invalid tag");
	return fs_path(out, outlen, "%s/repos/%s/_tags/%s", s->root, name, tag);
}

enum berr layout_lock(struct store *s, const char *name, const char *tag,
		      const struct digest *d, char *out, size_t outlen)
{
	enum berr rc = check_name(name);

	if (rc == BERR_OK && tag && *tag && !layout_is_tag(tag))
		rc = berr_set(BERR_MANIFEST_INVALID, "invalid tag");
	if (rc == BERR_OK && d && d->alg != DIGEST_NONE && !layout_digest_sane(d))
		rc = berr_set(BERR_DIGEST_INVALID, "invalid digest");
	if (rc)
		return rc;
	if (d && d->alg != DIGEST_NONE)
		return fs_path(out, outlen, "%s/repos/%s/_locks/%s-%s", s->root, name,
			       digest_alg_name(d->alg), d->hex);
	if (tag && *tag)
		return fs_path(out, outlen, "%s/repos/%s/_locks/tag-%s", s->root, name, tag);
	return fs_path(out, outlen, "%s/repos/%s/_locks/repo", s->root, name);
}

int layout_lock_name(const char *file, char *tag, size_t taglen, struct digest *d)
{
	tag[0] = '\0';
	memset(d, 0, sizeof(*d));
	if (strcmp(file, "repo") == 0)
		return 0;
	if (strncmp(file, "tag-", 4) == 0)
		return layout_is_tag(file + 4) && mem_strcpy(tag, taglen, file + 4) == 0 ? 0 : -1;
	return layout_entry_digest(file, d);
}

int layout_repo_rmdir(struct store *s, const char *name)
{
	char dir[PATH_MAX], up[REF_NAME_MAX + 1], *slash;
	struct berr_ctx quiet;
	int gone;

	berr_enter(&quiet);
	if (layout_repo(s, name, dir, sizeof(dir)) != BERR_OK) {
		berr_leave(&quiet);
		return 0;
	}
	gone = rmdir(dir) == 0 || errno == ENOENT;
	if (gone && mem_strcpy(up, sizeof(up), name) == 0) {
		while ((slash = strrchr(up, '/'))) {
			*slash = '\0';
			if (layout_repo(s, up, dir, sizeof(dir)) || rmdir(dir) != 0)
				break;
		}
	}
	berr_leave(&quiet);
	return gone;
}

/* ---- upload sessions ---- */

const char *layout_upload_file(enum layout_upload which)
{
	static const char *const files[] = {
		[LAYOUT_UPLOAD_DIR] = "", [LAYOUT_UPLOAD_STATE] = "state",
		[LAYOUT_UPLOAD_DATA] = "data", [LAYOUT_UPLOAD_LOCK] = "lock",
	};

	return files[which];
}

enum berr layout_upload(struct store *s, const char *id, enum layout_upload which, char *out,
			size_t outlen)
{
	enum berr rc = ref_upload_id_check(id);

	if (rc)
		return rc;
	if (which == LAYOUT_UPLOAD_DIR)
		return fs_path(out, outlen, "%s/uploads/%s", s->root, id);
	return fs_path(out, outlen, "%s/uploads/%s/%s", s->root, id, layout_upload_file(which));
}
