/*
 * gc.h - the online garbage collector (store/gc.c has the protocol).
 *
 * store_gc() marks every blob reachable from every manifest linked in any
 * repository and sweeps the rest, while pools on any number of hosts go on
 * pushing and pulling.  One collector at a time: a second one gets
 * BERR_BUSY with "another gc is running on HOST pid N since ..." in the
 * detail.
 */
#ifndef BERTH_GC_H
#define BERTH_GC_H

#include "store/store.h"

struct gc_options {
	int dry_run;          /* remove nothing, report what would go */
	int untagged;         /* also delete manifests no tag and no kept index reaches */
	long older_than;      /* --untagged: only those whose link is older (seconds) */
	long grace;           /* unreferenced things younger than this stay (seconds) */
	/* Called for everything removed (or, dry run, that would be): kind is
	 * "blob", "manifest", "link", "entry", "repository"; may be NULL. */
	void (*item)(void *ctx, const char *kind, const char *object, long long bytes);
	/* Called now and then: phase ("recover", "mark", "sweep"), items seen. */
	void (*progress)(void *ctx, const char *phase, long done);
	void *ctx;
};

struct gc_stats {
	long repos, repos_removed;
	long manifests_kept, manifests_removed, manifests_dangling;
	long blobs_kept, blobs_removed;
	long blobs_recent;       /* unreferenced but younger than the grace: kept */
	long blobs_raced;        /* touched by a writer while being removed: put back */
	long long bytes_kept, bytes_freed;
	long links_removed, entries_removed, uploads_removed;
	long trash_recovered;    /* left in gc/ trash by a collector that died */
	double seconds;
	long long epoch;         /* T0: the epoch file's mtime (seconds) */
};

/* Run one collection.  BERR_BUSY while another runs.  Blobs are swept only
 * after the whole mark succeeded: a manifest that cannot be read or parsed
 * stops the run (BERR_INTERNAL naming it) before any blob is removed; what
 * was already swept per repository (unused links, --untagged manifests) was
 * decided on that repository alone and stays correct. */
enum berr store_gc(struct store *s, const struct gc_options *o, struct gc_stats *st);

/* "7d", "12h", "30m", "45s", "2w" or plain seconds -> seconds; -1 if bad. */
long gc_parse_duration(const char *s);

#endif
