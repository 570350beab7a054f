/*
 * router.c - see router.h.  The path is split at its last components and the
 * endpoint decided by them; whatever precedes is the repository name, which
 * must pass the grammar before the request goes any further.
 */
#include <string.h>

#include "fcgi/router.h"

struct suffix {
	enum route_kind kind;
	const char *tail;   /* literal components after the name, "*" = reference */
};

/* Order matters: the longest literal tails first. */
static const struct suffix suffixes[] = {
	{ ROUTE_UPLOAD_START, "/blobs/uploads/" },
	{ ROUTE_UPLOAD_START, "/blobs/uploads" },
	{ ROUTE_TAGS,         "/tags/list" },
	{ ROUTE_UPLOAD,       "/blobs/uploads/*" },
	{ ROUTE_MANIFEST,     "/manifests/*" },
	{ ROUTE_BLOB,         "/blobs/*" },
	{ ROUTE_REFERRERS,    "/referrers/*" },
};

/* Does `path` (len bytes) end with `tail`?  On success *name_len is the
 * length before the tail and *ref / *ref_len the reference ("*"). */
static int match_tail(const char *path, size_t len, const char *tail,
		      size_t *name_len, const char **ref, size_t *ref_len)
{
	size_t tl = strlen(tail);
	const char *slash;

	*ref = NULL;
	*ref_len = 0;
	if (tail[tl - 1] != '*') {
		if (len <= tl || memcmp(path + len - tl, tail, tl) != 0)
			return 0;
		*name_len = len - tl;
		return 1;
	}
	/* reference = last component, must be non-empty */
	slash = memrchr(path, '/', len);
	if (!slash || slash == path + len - 1)
		return 0;
	*ref = slash + 1;
	*ref_len = (size_t)(path + len - *ref);
	tl -= 1; /* literal part, ends with '/' */
	if ((size_t)(slash + 1 - path) <= tl ||
	    memcmp(slash + 1 - tl, tail, tl) != 0)
		return 0;
	*name_len = (size_t)(slash + 1 - tl - path);
	return 1;
}

static enum berr ref_too_long(enum route_kind k)
{
	switch (k) {
	case ROUTE_UPLOAD:
		return berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "upload id too long");
	case ROUTE_MANIFEST:
		return berr_set(BERR_MANIFEST_INVALID, "reference too long");
	default:
		return berr_set(BERR_DIGEST_INVALID, "digest too long");
	}
}

enum berr route_parse(const char *path, struct route *out)
{
	const char *rest, *ref;
	size_t len, name_len, ref_len, i;
	enum berr err;

	memset(out, 0, sizeof(*out));
	if (strcmp(path, "/token") == 0) {
		out->kind = ROUTE_TOKEN;
		return BERR_OK;
	}
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
		out->kind = path[1] == 'h' ? ROUTE_HEALTHZ : ROUTE_READYZ;
		return BERR_OK;
	}
	if (strcmp(path, "/metrics") == 0) {
		out->kind = ROUTE_METRICS;
		return BERR_OK;
	}
	if (strcmp(path, "/v2/") == 0 || strcmp(path, "/v2") == 0) {
		out->kind = ROUTE_BASE;
		return BERR_OK;
	}
	if (strcmp(path, "/v2/_catalog") == 0) {
		out->kind = ROUTE_CATALOG;
		return BERR_OK;
	}
	if (strncmp(path, "/v2/", 4) != 0)
		return BERR_OK;
	rest = path + 4;
	len = strlen(rest);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (!match_tail(rest, len, suffixes[i].tail, &name_len, &ref, &ref_len))
			continue;
		out->kind = suffixes[i].kind;
		if ((err = ref_name_check_n(rest, name_len)))
			return err;
		memcpy(out->name, rest, name_len);
		out->name[name_len] = '\0';
		if (ref) {
			if (ref_len >= sizeof(out->ref))
				return ref_too_long(out->kind);
			memcpy(out->ref, ref, ref_len);
			out->ref[ref_len] = '\0';
		}
		return BERR_OK;
	}
	return BERR_OK;
}

const char *route_kind_name(enum route_kind k)
{
	static const char *names[] = {
		"none", "base", "catalog", "tags", "manifest", "blob",
		"upload-start", "upload", "referrers", "token", "healthz", "readyz", "metrics",
	};
	return (k >= 0 && (size_t)k < sizeof(names) / sizeof(names[0])) ? names[k] : "?";
}
