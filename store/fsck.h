/*
 * fsck.h - checking the whole store: every blob re-hashed, every link,
 * manifest reference and tag followed.  Read-only; used by `berthctl fsck`
 * and by the crash tests, which kill the pool mid-write and then ask it
 * whether anything corrupt or dangling became visible.
 */
#ifndef BERTH_FSCK_H
#define BERTH_FSCK_H

#include "store/store.h"

struct fsck_counts {
	long blobs, repos, blob_links, manifests, tags, problems;
	long long bytes;
};

/* Called once per problem: kind is "corrupt-blob", "misplaced-blob",
 * "missing-referrer-entry", "missing-parent-entry", "stale-tag" (reported,
 * not counted: it resolves to MANIFEST_UNKNOWN),
 * "dangling-blob-link", "dangling-manifest-link", "invalid-manifest",
 * "missing-reference", "dangling-tag" or "unreadable". */
typedef void (*fsck_report_fn)(void *ctx, const char *kind, const char *object,
			       const char *detail);

/* BERR_OK when the walk completed (problems are counted, not errors). */
enum berr store_fsck(struct store *s, int rehash, fsck_report_fn report, void *ctx,
		     struct fsck_counts *counts);

#endif
