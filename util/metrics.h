/*
 * metrics.h - the pool's counters and histograms, for one /metrics scrape
 * that covers every process.
 *
 * The workers are separate processes and any of them may answer a scrape,
 * so the numbers cannot live in a process: the master maps one anonymous
 * MAP_SHARED region (metrics_create) before it forks anything, and every
 * worker, the directory client in the token workers and the master itself
 * add into the same pages with __atomic adds.  No lock: each cell is one
 * 64-bit word, and a scrape that reads a histogram while a request lands in
 * it may see the bucket before the sum (never a _count that disagrees with
 * its +Inf bucket: the count is the buckets' total).
 *
 * The set is fixed at compile time: an enum and a table (metrics.c) of name,
 * help, type and label values.  Every label takes its values from a closed
 * list (a value outside it counts as the list's last entry, "other"), so
 * the number of series is bounded and no repository name, user or address
 * ever becomes a label.
 *
 * In a process without the region (berthctl, the unit tests that do not
 * create it, a worker of a master that failed to map it) every update is a
 * no-op and metrics_render() shows zeros.
 *
 * Values that are not events (busy and idle workers, open upload sessions,
 * the last gc's figures) are gauges set just before rendering by the
 * scrape (fcgi/h_metrics.c).
 */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"

enum metrics_id {
	METRICS_REQUESTS,            /* counter {route, method, code} */
	METRICS_REQUEST_SECONDS,     /* histogram {route} */
	METRICS_UPLOAD_BYTES,        /* counter: request bodies stored in upload sessions */
	METRICS_BLOB_REDIRECT_BYTES, /* counter: blob sizes handed to nginx (X-Accel-Redirect) */
	METRICS_UPLOAD_SESSIONS,     /* gauge: sessions in the store's uploads/ */
	METRICS_WORKERS,             /* gauge {pool, state} */
	METRICS_WORKER_RESTARTS,     /* counter {pool} */
	METRICS_LOGINS,              /* counter {source, result} */
	METRICS_TOKENS_ISSUED,       /* counter {type} */
	METRICS_DIRECTORY_REQUESTS,  /* counter {result} */
	METRICS_DIRECTORY_SECONDS,   /* histogram */
	METRICS_GC_RUNS,             /* counter, from the last gc's report */
	METRICS_GC_FREED_BYTES,      /* counter, from the last gc's report */
	METRICS_GC_LAST_TIMESTAMP,   /* gauge */
	METRICS_GC_LAST_SECONDS,     /* gauge */
	METRICS_GC_LAST_FREED_BYTES, /* gauge */
	METRICS_STORE_BLOB_BYTES,    /* gauge, as the last gc counted */
	METRICS_STORE_BLOBS,         /* gauge, as the last gc counted */
	METRICS_BUILD_INFO,          /* gauge {version, commit} = 1 */
	METRICS_COUNT
};

/* Label values the hooks name by number (the table spells them). */
/* The same numbers as fcgi/berthd.c's pools and the scoreboard's `pool`. */
enum metrics_pool { METRICS_POOL_API, METRICS_POOL_UPLOAD, METRICS_POOL_TOKEN };
enum metrics_worker_state { METRICS_BUSY, METRICS_IDLE };
enum metrics_login_source {
	METRICS_SRC_LOCAL, METRICS_SRC_DIRECTORY, METRICS_SRC_TOKEN,
	METRICS_SRC_NONE /* refused before any credential was looked at (throttled) */
};
enum metrics_token_type { METRICS_TOKEN_ACCESS, METRICS_TOKEN_REFRESH };

/* Fixed histogram buckets, seconds (Prometheus's defaults). */
#define METRICS_BUCKETS 11
#define METRICS_LABELS_MAX 3
#define METRICS_NS 1000000000ull

/* Master, before the first fork: map the shared region (again: a no-op). */
enum berr metrics_create(void);
/* Tests: unmap it (updates become no-ops again). */
void metrics_destroy(void);

/* A monotonic clock in nanoseconds, for the durations below. */
uint64_t metrics_clock(void);

/* Add v to a counter series; labels are indices into the metric's label
 * value lists, unused ones 0.  Out-of-range indices are clamped to the
 * list's last value. */
void metrics_add(enum metrics_id id, uint64_t v, unsigned l0, unsigned l1, unsigned l2);
/* Set a gauge series (or a counter kept elsewhere, such as the gc report's). */
void metrics_set(enum metrics_id id, uint64_t v, unsigned l0, unsigned l1, unsigned l2);
/* One observation of `ns` nanoseconds into a histogram series. */
void metrics_observe(enum metrics_id id, uint64_t ns, unsigned l0, unsigned l1, unsigned l2);
/* A series' value (a histogram's: its count); for tests and gauges. */
uint64_t metrics_get(enum metrics_id id, unsigned l0, unsigned l1, unsigned l2);
/* The index of `value` in label `dim` of `id`: the last entry ("other")
 * when it is not listed. */
unsigned metrics_label(enum metrics_id id, unsigned dim, const char *value);

/* The hooks, one call each where the event happens. */
/* A request ended: its route (fcgi's route_kind_name), method and status,
 * and when it started (CLOCK_MONOTONIC, as metrics_clock). */
void metrics_request(const char *route, const char *method, int status,
		     const struct timespec *start);
/* A password login ended with `err` (BERR_OK, BERR_UNAUTHORIZED,
 * BERR_TOOMANYREQUESTS, ...); dir_down: it failed because the directory
 * did not answer. */
void metrics_login(enum metrics_login_source src, enum berr err, int dir_down);
/* The token service answered: an access token, and a refresh token too. */
void metrics_tokens(int with_refresh);
/* A call to the directory process ended with reply kind `reply` ('o' ok,
 * 'b' bad credentials, 'u' unavailable, other: error), started at t0. */
void metrics_directory(char reply, uint64_t t0);

/* The Prometheus text exposition (format 0.0.4) of every metric, in a
 * malloc'd, NUL-terminated buffer. */
enum berr metrics_render(char **out, size_t *len);

/* What the Makefile passed (BERTH_VERSION, BERTH_COMMIT), "unknown" else. */
const char *metrics_version(void);
const char *metrics_commit(void);

#endif
