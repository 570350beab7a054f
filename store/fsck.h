/*
 * fsck.h - checking the whole store: every blob re-hashed, every link,
 * manifest reference and tag followed.  Read-only; used by `berthctl fsck`
 * and by the crash tests, which kill the pool mid-write and then ask it
 * whether anything corrupt or dangling became visible.
 *
 * Each problem is a typed record: its kind, and what it is about (a
 * repository, a digest, a tag, or a file as such), so that a caller acts
 * on it (berthctl fsck --repair) without parsing text back.
 */
#ifndef BERTH_FSCK_H
#define BERTH_FSCK_H

#include "store/store.h"

struct fsck_counts {
	long blobs, repos, blob_links, manifests, tags, problems;
	long long bytes;
};

enum fsck_kind {
	FSCK_CORRUPT_BLOB,            /* digest: content hashes to something else */
	FSCK_MISPLACED_BLOB,          /* path: a file of blobs/ that is no blob there */
	FSCK_MISSING_REFERRER_ENTRY,  /* repo, digest: its subject does not list it */
	FSCK_MISSING_PARENT_ENTRY,    /* repo, digest: a child does not name it */
	FSCK_STALE_TAG,               /* repo, tag: names an unlinked manifest (reported,
				       * not counted: it resolves as MANIFEST_UNKNOWN) */
	FSCK_DANGLING_BLOB_LINK,      /* repo, digest */
	FSCK_DANGLING_MANIFEST_LINK,  /* repo, digest */
	FSCK_INVALID_MANIFEST,        /* repo, digest */
	FSCK_MISSING_REFERENCE,       /* repo, digest */
	FSCK_DANGLING_TAG,            /* repo, tag */
	FSCK_UNREADABLE,              /* digest (a blob) or path */
	FSCK_KIND_COUNT
};

struct fsck_problem {
	enum fsck_kind kind;
	const char *repo;       /* "" when it is not about a repository */
	struct digest digest;   /* alg DIGEST_NONE when it is not about one */
	const char *tag;        /* "" unless it is about a tag */
	const char *path;       /* "" unless it is about a file or directory as such */
	const char *detail;     /* one line for people */
};

/* "corrupt-blob", "misplaced-blob", ... */
const char *fsck_kind_name(enum fsck_kind kind);
/* What the problem is about, as people read it: "repo@alg:hex",
 * "repo:tag", "alg:hex" or the path. */
char *fsck_problem_object(const struct fsck_problem *p, char *out, size_t outlen);

/* Called once per problem; the record lives for the call only. */
typedef void (*fsck_report_fn)(void *ctx, const struct fsck_problem *p);

/* BERR_OK when the walk completed (problems are counted, not errors). */
enum berr store_fsck(struct store *s, int rehash, fsck_report_fn report, void *ctx,
		     struct fsck_counts *counts);

#endif
