/*
 * h_metrics.c - GET/HEAD /metrics: the whole pool in one Prometheus scrape.
 *
 * Whichever API worker takes the scrape answers for every process: the
 * counters and histograms live in the memory the master shares with all
 * its workers (util/metrics.h).  What is state rather than events is read
 * now and set as gauges before rendering: busy and idle workers per pool
 * from the scoreboard, the upload sessions in the store (one readdir), and
 * the last garbage collection's figures from the report it left in the
 * store (store/stats.h), never a walk of the blobs.
 *
 * No token is asked for: nginx lets only loopback (and the hosts an
 * operator allows) reach /metrics, and the answer names no repository,
 * user or address.  A gauge whose source cannot be read keeps its last
 * value and the cause is logged: a scrape never fails over it.
 */
#include <stdlib.h>

#include "fcgi/handlers.h"
#include "fcgi/scoreboard.h"
#include "store/stats.h"
#include "util/log.h"
#include "util/metrics.h"

#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

static void set_workers(void)
{
	int busy, idle;

	for (unsigned p = METRICS_POOL_API; p <= METRICS_POOL_TOKEN; p++) {
		sb_count((int)p, &busy, &idle);
		metrics_set(METRICS_WORKERS, (uint64_t)busy, p, METRICS_BUSY, 0);
		metrics_set(METRICS_WORKERS, (uint64_t)idle, p, METRICS_IDLE, 0);
	}
}

static void set_gc(const struct store_gc_report *g)
{
	metrics_set(METRICS_GC_RUNS, g->runs, 0, 0, 0);
	metrics_set(METRICS_GC_FREED_BYTES, g->bytes_freed_total, 0, 0, 0);
	metrics_set(METRICS_GC_LAST_TIMESTAMP, g->time > 0 ? (uint64_t)g->time : 0, 0, 0, 0);
	metrics_set(METRICS_GC_LAST_SECONDS,
		    g->seconds > 0 ? (uint64_t)(g->seconds * (double)METRICS_NS) : 0, 0, 0, 0);
	metrics_set(METRICS_GC_LAST_FREED_BYTES, g->bytes_freed, 0, 0, 0);
	metrics_set(METRICS_STORE_BLOB_BYTES, g->blob_bytes, 0, 0, 0);
	metrics_set(METRICS_STORE_BLOBS, g->blobs, 0, 0, 0);
}

/* The store's gauges, in an error context of their own: a failure is
 * logged, never the request's error. */
static void set_store(struct store *st)
{
	struct store_gc_report g;
	struct berr_ctx ctx;
	uint64_t n;

	berr_enter(&ctx);
	if (store_upload_count(st, &n) == BERR_OK)
		metrics_set(METRICS_UPLOAD_SESSIONS, n, 0, 0, 0);
	else
		log_warn("metrics: upload sessions: %s", ctx.detail);
	if (store_gc_report_read(st, &g) == BERR_OK)
		set_gc(&g);
	else
		log_warn("metrics: %s", ctx.detail);
	berr_leave(&ctx);
}

enum berr h_metrics(struct req *r)
{
	char *text;
	size_t len;
	enum berr err;

	set_workers();
	set_store(r->store);
	if ((err = metrics_render(&text, &len)))
		return err;
	resp_header(r, "Cache-Control", "no-store");
	resp_send(r, 200, METRICS_CTYPE, text, len);
	free(text);
	return BERR_OK;
}
