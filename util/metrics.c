/*
 * metrics.c - the metric table, the shared cells and the text exposition
 * (metrics.h).
 *
 * Layout of the shared region: the metrics one after the other, in table
 * order; a metric holds one slot per combination of its label values (the
 * product of the lists' lengths, first label slowest), and a slot is one
 * 64-bit cell for a counter or gauge, or METRICS_BUCKETS + 2 cells for a
 * histogram: the count of observations in each bucket alone (not
 * cumulative: one atomic add per observation), the count above the last
 * bound, and the sum in nanoseconds.  Cumulative bucket counts, _count and
 * the sum in seconds are made at rendering time.  Offsets are computed from
 * the table, so adding a metric is one enum entry and one table row.
 *
 * Series of the big request metrics (route x method x status class) are
 * shown only once they have counted something ("sparse"): most
 * combinations can never happen (PATCH of the catalog), and a scrape of
 * hundreds of zeros helps nobody.  Every other series is always shown, so
 * a rate over it starts at its first increment.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "util/mem.h"
#include "util/metrics.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "unknown"
#endif
#ifndef BERTH_COMMIT
#define BERTH_COMMIT "unknown"
#endif

enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM };

struct mlabel {
	const char *name;
	const char *const *values; /* NULL-terminated; the last one catches the rest */
};

struct mdef {
	const char *name;          /* without the berth_ prefix */
	const char *help;
	enum mtype type;
	struct mlabel labels[METRICS_LABELS_MAX];
	int scale_ns;              /* the cell holds nanoseconds; shown in seconds */
	int sparse;                /* hide series that are still 0 */
};

static const char *const routes[] = {
	"base", "catalog", "tags", "manifest", "blob", "upload-start", "upload", "referrers",
	"token", "metrics", "healthz", "readyz", "none", "other", NULL
};
static const char *const methods[] = { "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "other", NULL };
static const char *const codes[] = { "1xx", "2xx", "3xx", "4xx", "5xx", NULL };
static const char *const pools[] = { "api", "upload", "token", NULL };
static const char *const states[] = { "busy", "idle", NULL };
static const char *const sources[] = { "local", "directory", "token", "none", NULL };
static const char *const login_results[] = { "success", "failure", "throttled", "unavailable",
					     "error", NULL };
static const char *const token_types[] = { "access", "refresh", NULL };
static const char *const dir_results[] = { "ok", "rejected", "unavailable", "error", NULL };

static const struct mdef defs[METRICS_COUNT] = {
	[METRICS_REQUESTS] = { "http_requests_total",
		"Requests answered by the pool, by route (endpoint kind), method and status class.",
		M_COUNTER, { { "route", routes }, { "method", methods }, { "code", codes } }, 0, 1 },
	[METRICS_REQUEST_SECONDS] = { "http_request_duration_seconds",
		"Time from a request's arrival in a worker to the end of its answer, by route.",
		M_HISTOGRAM, { { "route", routes } }, 1, 1 },
	[METRICS_UPLOAD_BYTES] = { "upload_received_bytes_total",
		"Request body bytes stored into upload sessions (PATCH and PUT).", M_COUNTER, { { 0 } }, 0, 0 },
	[METRICS_BLOB_REDIRECT_BYTES] = { "blob_redirect_bytes_total",
		"Sizes of the blobs handed to nginx to send (X-Accel-Redirect; a Range request counts the whole blob).",
		M_COUNTER, { { 0 } }, 0, 0 },
	[METRICS_UPLOAD_SESSIONS] = { "upload_sessions",
		"Upload sessions in the store (open, or abandoned and not yet swept), counted at scrape time.",
		M_GAUGE, { { 0 } }, 0, 0 },
	[METRICS_WORKERS] = { "workers",
		"Running workers by pool and state, from the scoreboard at scrape time.",
		M_GAUGE, { { "pool", pools }, { "state", states } }, 0, 0 },
	[METRICS_WORKER_RESTARTS] = { "worker_restarts_total",
		"Workers that died and were respawned by the master, by pool.",
		M_COUNTER, { { "pool", pools } }, 0, 0 },
	[METRICS_LOGINS] = { "logins_total",
		"Password logins at the token service, by source and result.",
		M_COUNTER, { { "source", sources }, { "result", login_results } }, 0, 0 },
	[METRICS_TOKENS_ISSUED] = { "tokens_issued_total",
		"Tokens issued by the token service, by type.", M_COUNTER, { { "type", token_types } }, 0, 0 },
	[METRICS_DIRECTORY_REQUESTS] = { "directory_requests_total",
		"Calls of the token workers to the directory process, by result (unavailable, error: the directory failed).",
		M_COUNTER, { { "result", dir_results } }, 0, 0 },
	[METRICS_DIRECTORY_SECONDS] = { "directory_request_duration_seconds",
		"Time a token worker waited for the directory process.", M_HISTOGRAM, { { 0 } }, 1, 0 },
	[METRICS_GC_RUNS] = { "gc_runs_total",
		"Completed garbage collections of the store (from the last gc's report in the store).",
		M_COUNTER, { { 0 } }, 0, 0 },
	[METRICS_GC_FREED_BYTES] = { "gc_freed_bytes_total",
		"Blob bytes freed by all completed garbage collections (from the last gc's report).",
		M_COUNTER, { { 0 } }, 0, 0 },
	[METRICS_GC_LAST_TIMESTAMP] = { "gc_last_run_timestamp_seconds",
		"When the last completed garbage collection ended, Unix time (0: none yet).",
		M_GAUGE, { { 0 } }, 0, 0 },
	[METRICS_GC_LAST_SECONDS] = { "gc_last_duration_seconds",
		"How long the last completed garbage collection ran.", M_GAUGE, { { 0 } }, 1, 0 },
	[METRICS_GC_LAST_FREED_BYTES] = { "gc_last_freed_bytes",
		"Blob bytes the last completed garbage collection freed.", M_GAUGE, { { 0 } }, 0, 0 },
	[METRICS_STORE_BLOB_BYTES] = { "store_blob_bytes",
		"Bytes of the blobs in the store, as the last completed garbage collection counted them.",
		M_GAUGE, { { 0 } }, 0, 0 },
	[METRICS_STORE_BLOBS] = { "store_blobs",
		"Blobs in the store, as the last completed garbage collection counted them.",
		M_GAUGE, { { 0 } }, 0, 0 },
	[METRICS_BUILD_INFO] = { "build_info",
		"The running berth's version and commit; always 1.", M_GAUGE, { { 0 } }, 0, 0 },
};

/* Bucket bounds in nanoseconds and as the le="" text, which must stay the
 * same string across scrapes. */
static const uint64_t bounds_ns[METRICS_BUCKETS] = {
	5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
	1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const bounds_text[METRICS_BUCKETS] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};

#define HIST_CELLS (METRICS_BUCKETS + 2) /* buckets, above the last, sum */

static uint64_t *cells;
static size_t ncells;
static size_t offset[METRICS_COUNT];

static unsigned nvalues(const struct mlabel *l)
{
	unsigned n = 0;

	if (!l->values)
		return 1;
	while (l->values[n])
		n++;
	return n;
}

static size_t series_count(enum metrics_id id)
{
	size_t n = 1;

	for (int d = 0; d < METRICS_LABELS_MAX; d++)
		n *= nvalues(&defs[id].labels[d]);
	return n;
}

static size_t slot_cells(enum metrics_id id)
{
	return defs[id].type == M_HISTOGRAM ? HIST_CELLS : 1;
}

static void layout(void)
{
	size_t at = 0;

	for (int id = 0; id < METRICS_COUNT; id++) {
		offset[id] = at;
		at += series_count(id) * slot_cells(id);
	}
	ncells = at;
}

enum berr metrics_create(void)
{
	void *p;

	if (cells)
		return BERR_OK;
	layout();
	p = mmap(NULL, ncells * sizeof(*cells), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return berr_sys("cannot map", "the metrics");
	cells = p;
	return BERR_OK;
}

void metrics_destroy(void)
{
	if (cells)
		munmap(cells, ncells * sizeof(*cells));
	cells = NULL;
}

uint64_t metrics_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * METRICS_NS + (uint64_t)ts.tv_nsec;
}

/* The first cell of a series; NULL without the region or a bad id. */
static uint64_t *slot(enum metrics_id id, unsigned l0, unsigned l1, unsigned l2)
{
	unsigned l[METRICS_LABELS_MAX] = { l0, l1, l2 };
	size_t index = 0;

	if (!cells || (unsigned)id >= METRICS_COUNT)
		return NULL;
	for (int d = 0; d < METRICS_LABELS_MAX; d++) {
		unsigned n = nvalues(&defs[id].labels[d]);
		index = index * n + (l[d] < n ? l[d] : n - 1);
	}
	return cells + offset[id] + index * slot_cells(id);
}

void metrics_add(enum metrics_id id, uint64_t v, unsigned l0, unsigned l1, unsigned l2)
{
	uint64_t *c = slot(id, l0, l1, l2);

	if (c && defs[id].type != M_HISTOGRAM)
		__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

void metrics_set(enum metrics_id id, uint64_t v, unsigned l0, unsigned l1, unsigned l2)
{
	uint64_t *c = slot(id, l0, l1, l2);

	if (c && defs[id].type != M_HISTOGRAM)
		__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

void metrics_observe(enum metrics_id id, uint64_t ns, unsigned l0, unsigned l1, unsigned l2)
{
	uint64_t *c = slot(id, l0, l1, l2);
	int b = 0;

	if (!c || defs[id].type != M_HISTOGRAM)
		return;
	while (b < METRICS_BUCKETS && ns > bounds_ns[b])
		b++;
	__atomic_fetch_add(&c[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c[METRICS_BUCKETS + 1], ns, __ATOMIC_RELAXED);
}

static uint64_t hist_count(const uint64_t *c)
{
	uint64_t n = 0;

	for (int b = 0; b <= METRICS_BUCKETS; b++)
		n += __atomic_load_n(&c[b], __ATOMIC_RELAXED);
	return n;
}

uint64_t metrics_get(enum metrics_id id, unsigned l0, unsigned l1, unsigned l2)
{
	uint64_t *c = slot(id, l0, l1, l2);

	if (!c)
		return 0;
	return defs[id].type == M_HISTOGRAM ? hist_count(c) : __atomic_load_n(c, __ATOMIC_RELAXED);
}

unsigned metrics_label(enum metrics_id id, unsigned dim, const char *value)
{
	const struct mlabel *l;
	unsigned n;

	if ((unsigned)id >= METRICS_COUNT || dim >= METRICS_LABELS_MAX)
		return 0;
	l = &defs[id].labels[dim];
	n = nvalues(l);
	for (unsigned i = 0; value && l->values && i < n; i++)
		if (strcmp(l->values[i], value) == 0)
			return i;
	return n - 1;
}

/* ---- the hooks ---- */

void metrics_request(const char *route, const char *method, int status,
		     const struct timespec *start)
{
	uint64_t t0 = (uint64_t)start->tv_sec * METRICS_NS + (uint64_t)start->tv_nsec;
	unsigned r = metrics_label(METRICS_REQUESTS, 0, route);
	unsigned code = status >= 100 && status < 600 ? (unsigned)(status / 100 - 1) : 4;

	metrics_add(METRICS_REQUESTS, 1, r, metrics_label(METRICS_REQUESTS, 1, method), code);
	metrics_observe(METRICS_REQUEST_SECONDS, metrics_clock() - t0, r, 0, 0);
}

void metrics_login(enum metrics_login_source src, enum berr err, int dir_down)
{
	unsigned res;

	switch (err) {
	case BERR_OK: res = 0; break;
	case BERR_UNAUTHORIZED: res = dir_down ? 3 : 1; break;
	case BERR_TOOMANYREQUESTS: res = 2; break;
	default: res = 4; break;
	}
	metrics_add(METRICS_LOGINS, 1, src, res, 0);
}

void metrics_tokens(int with_refresh)
{
	metrics_add(METRICS_TOKENS_ISSUED, 1, METRICS_TOKEN_ACCESS, 0, 0);
	if (with_refresh)
		metrics_add(METRICS_TOKENS_ISSUED, 1, METRICS_TOKEN_REFRESH, 0, 0);
}

void metrics_directory(char reply, uint64_t t0)
{
	unsigned res = reply == 'o' ? 0 : reply == 'b' ? 1 : reply == 'u' ? 2 : 3;

	metrics_add(METRICS_DIRECTORY_REQUESTS, 1, res, 0, 0);
	metrics_observe(METRICS_DIRECTORY_SECONDS, metrics_clock() - t0, 0, 0, 0);
}

const char *metrics_version(void)
{
	return BERTH_VERSION;
}

const char *metrics_commit(void)
{
	return BERTH_COMMIT;
}

/* ---- the exposition ---- */

struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	if (!o->buf && mem_grow(&o->buf, &o->cap, 16384, 1, 16384, "the metrics")) {
		o->failed = 1;
		return;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len)
			break;
		if (mem_grow(&o->buf, &o->cap, o->len + (size_t)n + 1, 1, 16384, "the metrics")) {
			o->failed = 1;
			return;
		}
	}
	o->len += (size_t)n;
}

/* A label value as the format wants it: \ " and newline escaped. */
static void put_escaped(struct out *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(o, "\\%c", *s);
		else if (*s == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *s);
	}
}

/* {name="value",...} of series `index` of `id`, with `extra` (le="...")
 * last; nothing when there are no labels at all. */
static void put_labels(struct out *o, enum metrics_id id, size_t index, const char *extra)
{
	const struct mdef *m = &defs[id];
	unsigned idx[METRICS_LABELS_MAX];
	int d, n = 0;

	for (d = METRICS_LABELS_MAX - 1; d >= 0; d--) {
		unsigned nv = nvalues(&m->labels[d]);
		idx[d] = (unsigned)(index % nv);
		index /= nv;
	}
	for (d = 0; d < METRICS_LABELS_MAX; d++) {
		if (!m->labels[d].name)
			continue;
		put(o, "%s%s=\"", n++ ? "," : "{", m->labels[d].name);
		put_escaped(o, m->labels[d].values[idx[d]]);
		put(o, "\"");
	}
	if (extra)
		put(o, "%s%s", n++ ? "," : "{", extra);
	if (n)
		put(o, "}");
}

static void put_value(struct out *o, const struct mdef *m, uint64_t v)
{
	if (m->scale_ns)
		put(o, " %llu.%09llu\n", (unsigned long long)(v / METRICS_NS),
		    (unsigned long long)(v % METRICS_NS));
	else
		put(o, " %llu\n", (unsigned long long)v);
}

static void render_histogram(struct out *o, enum metrics_id id, size_t index, const uint64_t *c)
{
	const struct mdef *m = &defs[id];
	char le[32];
	uint64_t cum = 0;

	for (int b = 0; b <= METRICS_BUCKETS; b++) {
		cum += __atomic_load_n(&c[b], __ATOMIC_RELAXED);
		snprintf(le, sizeof(le), "le=\"%s\"", b < METRICS_BUCKETS ? bounds_text[b] : "+Inf");
		put(o, "berth_%s_bucket", m->name);
		put_labels(o, id, index, le);
		put(o, " %llu\n", (unsigned long long)cum);
	}
	put(o, "berth_%s_sum", m->name);
	put_labels(o, id, index, NULL);
	put_value(o, m, __atomic_load_n(&c[METRICS_BUCKETS + 1], __ATOMIC_RELAXED));
	put(o, "berth_%s_count", m->name);
	put_labels(o, id, index, NULL);
	put(o, " %llu\n", (unsigned long long)cum);
}

static void render_build_info(struct out *o)
{
	put(o, "berth_build_info{version=\"");
	put_escaped(o, metrics_version());
	put(o, "\",commit=\"");
	put_escaped(o, metrics_commit());
	put(o, "\"} 1\n");
}

static void render_metric(struct out *o, enum metrics_id id)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	static const uint64_t zeros[HIST_CELLS];
	const struct mdef *m = &defs[id];
	size_t n = series_count(id);

	put(o, "# HELP berth_%s %s\n# TYPE berth_%s %s\n", m->name, m->help, m->name, types[m->type]);
	if (id == METRICS_BUILD_INFO) {
		render_build_info(o);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const uint64_t *c = cells ? cells + offset[id] + i * slot_cells(id) : zeros;
		if (m->type == M_HISTOGRAM) {
			if (!m->sparse || hist_count(c))
				render_histogram(o, id, i, c);
			continue;
		}
		uint64_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
		if (m->sparse && !v)
			continue;
		put(o, "berth_%s", m->name);
		put_labels(o, id, i, NULL);
		put_value(o, m, v);
	}
}

enum berr metrics_render(char **out, size_t *len)
{
	struct out o = { 0 };

	*out = NULL;
	*len = 0;
	if (!cells)
		layout();
	for (int id = 0; id < METRICS_COUNT; id++)
		render_metric(&o, id);
	if (o.failed) {
		free(o.buf);
		return berr_set(BERR_INTERNAL, "out of memory rendering the metrics");
	}
	*out = o.buf;
	*len = o.len;
	return BERR_OK;
}
