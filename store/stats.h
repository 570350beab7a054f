/*
 * stats.h - what /metrics reads from the store, cheaply.
 *
 * A scrape must not walk the blobs (a store holds millions of them, maybe
 * over NFS), and the collector runs in another process (berthctl gc, a
 * timer), possibly on another host.  So each completed collection leaves
 * its figures in the store, gc/report.json, published whole (fs_write_atomic):
 * the store's size and blob count as that run counted them, what it freed,
 * when, and running totals of runs and freed bytes carried from the
 * previous report.  Every pool sharing the store shows the same figures.
 *
 * Open upload sessions are counted at scrape time: one readdir of uploads/,
 * which holds one directory per session and nothing else.
 */
#ifndef BERTH_STATS_H
#define BERTH_STATS_H

#include <stdint.h>

#include "store/gc.h"

struct store_gc_report {
	int64_t time;            /* Unix time the collection ended; 0: none yet */
	double seconds;          /* how long it ran */
	uint64_t bytes_freed, blobs_removed;
	uint64_t blob_bytes, blobs;   /* the store's blobs after it (kept ones) */
	uint64_t runs, bytes_freed_total;  /* across every completed run */
};

/* After a completed, real (not dry) run: publish gc/report.json from `st`,
 * adding to the previous report's totals.  A failure is logged and
 * returned; the caller's error context is left as it was. */
enum berr store_gc_report_write(struct store *s, const struct gc_stats *st);
/* The last report; all zero (BERR_OK) when no collection completed yet. */
enum berr store_gc_report_read(struct store *s, struct store_gc_report *out);
/* Entries of uploads/ (sessions; dot names skipped). */
enum berr store_upload_count(struct store *s, uint64_t *n);

#endif
