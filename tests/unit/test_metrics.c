/*
 * test_metrics.c - util/metrics.c and store/stats.c: what a scrape shows.
 *
 *  - without the shared region every update is a no-op and the rendering
 *    still lists every metric, at zero;
 *  - the exposition is the text format 0.0.4: one HELP and one TYPE per
 *    metric before its samples, cumulative _bucket lines ending in +Inf,
 *    _sum in seconds, _count equal to the +Inf bucket, label values from
 *    the closed lists (an unknown one becomes "other"), no repeated series;
 *  - counts made by fork()ed children, concurrently, all land (the atomic
 *    adds on the MAP_SHARED pages);
 *  - the hooks' mapping: logins by source and result, tokens, directory
 *    replies, the status class of a request;
 *  - the gc report: written after a run, read back, totals carried over;
 *    upload sessions counted from the store.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/stats.h"
#include "util/metrics.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"

static char *render(void)
{
	char *text = NULL;
	size_t len = 0;

	CHECK(metrics_render(&text, &len) == BERR_OK);
	CHECK(text && strlen(text) == len);
	return text ? text : strdup("");
}

/* The value of the sample line that starts with `series` + ' ', or -1. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void without_region(void)
{
	char *t;

	metrics_add(METRICS_UPLOAD_BYTES, 5, 0, 0, 0);
	CHECK_INT(metrics_get(METRICS_UPLOAD_BYTES, 0, 0, 0), 0);
	t = render();
	CHECK(sample(t, "berth_upload_received_bytes_total") == 0);
	CHECK(strstr(t, "# TYPE berth_http_request_duration_seconds histogram\n") != NULL);
	CHECK(strstr(t, "berth_build_info{version=\"") != NULL);
	free(t);
}

/* Every line is a comment or "name[{labels}] value"; each sample follows
 * the TYPE of its metric; TYPE comes once per metric; no series repeats. */
static void check_format(const char *text)
{
	char *copy = strdup(text), *save = NULL, *line, typed[128] = "";
	char **keys = calloc(strlen(text) / 2 + 1, sizeof(*keys));
	int bad = 0, types = 0, dups = 0, nkeys = 0;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp, *end;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			snprintf(typed, sizeof(typed), "%.*s", (int)strcspn(line + 7, " "), line + 7);
			types++;
			continue;
		}
		if (line[0] == '#')
			continue;
		if (!(sp = strrchr(line, ' ')) || !typed[0] || strncmp(line, typed, strlen(typed)) != 0) {
			bad++;
			continue;
		}
		strtod(sp + 1, &end);
		if (end == sp + 1 || *end)
			bad++;
		*sp = '\0'; /* the series alone */
		for (int i = 0; i < nkeys; i++)
			dups += strcmp(keys[i], line) == 0;
		keys[nkeys++] = line;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(dups, 0);
	CHECK_INT(types, METRICS_COUNT);
	free(keys);
	free(copy);
}

static void counters_and_labels(void)
{
	struct timespec now;
	char *t;

	CHECK(metrics_create() == BERR_OK);
	metrics_add(METRICS_UPLOAD_BYTES, 1000, 0, 0, 0);
	metrics_add(METRICS_UPLOAD_BYTES, 24, 0, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_request("manifest", "PUT", 201, &now);
	metrics_request("manifest", "PUT", 201, &now);
	metrics_request("manifest", "GET", 404, &now);
	metrics_request("no-such-route", "OPTIONS", 0, &now);  /* other, other, 5xx */
	metrics_add(METRICS_WORKER_RESTARTS, 1, METRICS_POOL_UPLOAD, 0, 0);
	metrics_add(METRICS_WORKER_RESTARTS, 1, 99, 0, 0);      /* clamped: the last pool */
	t = render();
	CHECK(sample(t, "berth_upload_received_bytes_total") == 1024);
	CHECK(sample(t, "berth_http_requests_total{route=\"manifest\",method=\"PUT\",code=\"2xx\"}") == 2);
	CHECK(sample(t, "berth_http_requests_total{route=\"manifest\",method=\"GET\",code=\"4xx\"}") == 1);
	CHECK(sample(t, "berth_http_requests_total{route=\"other\",method=\"other\",code=\"5xx\"}") == 1);
	/* sparse: a combination that never happened is not listed */
	CHECK(sample(t, "berth_http_requests_total{route=\"blob\",method=\"GET\",code=\"2xx\"}") < 0);
	CHECK(strstr(t, "route=\"blob\"") == NULL);
	/* dense: every pool is listed, counted or not */
	CHECK(sample(t, "berth_worker_restarts_total{pool=\"upload\"}") == 1);
	CHECK(sample(t, "berth_worker_restarts_total{pool=\"token\"}") == 1);
	CHECK(sample(t, "berth_worker_restarts_total{pool=\"api\"}") == 0);
	CHECK(strstr(t, "# HELP berth_logins_total ") != NULL);
	CHECK(strstr(t, "# TYPE berth_logins_total counter\n") != NULL);
	CHECK(strstr(t, "# TYPE berth_workers gauge\n") != NULL);
	check_format(t);
	free(t);
}

static void histogram(void)
{
	char *t;

	metrics_observe(METRICS_DIRECTORY_SECONDS, 3000000, 0, 0, 0);      /* 3 ms */
	metrics_observe(METRICS_DIRECTORY_SECONDS, 30000000, 0, 0, 0);     /* 30 ms */
	metrics_observe(METRICS_DIRECTORY_SECONDS, 5000000, 0, 0, 0);      /* on a bound: le */
	metrics_observe(METRICS_DIRECTORY_SECONDS, 20000000000ull, 0, 0, 0); /* 20 s: +Inf only */
	t = render();
	CHECK(sample(t, "berth_directory_request_duration_seconds_bucket{le=\"0.005\"}") == 2);
	CHECK(sample(t, "berth_directory_request_duration_seconds_bucket{le=\"0.025\"}") == 2);
	CHECK(sample(t, "berth_directory_request_duration_seconds_bucket{le=\"0.05\"}") == 3);
	CHECK(sample(t, "berth_directory_request_duration_seconds_bucket{le=\"10\"}") == 3);
	CHECK(sample(t, "berth_directory_request_duration_seconds_bucket{le=\"+Inf\"}") == 4);
	CHECK(sample(t, "berth_directory_request_duration_seconds_count") == 4);
	CHECK(strstr(t, "berth_directory_request_duration_seconds_sum 20.038000000\n") != NULL);
	/* a labelled histogram puts le last */
	CHECK(strstr(t, "berth_http_request_duration_seconds_bucket{route=\"manifest\",le=\"+Inf\"} 3\n") != NULL);
	CHECK_INT(metrics_get(METRICS_DIRECTORY_SECONDS, 0, 0, 0), 4);
	free(t);
}

static void hooks(void)
{
	metrics_login(METRICS_SRC_LOCAL, BERR_OK, 0);
	metrics_login(METRICS_SRC_DIRECTORY, BERR_UNAUTHORIZED, 1);
	metrics_login(METRICS_SRC_DIRECTORY, BERR_UNAUTHORIZED, 0);
	metrics_login(METRICS_SRC_NONE, BERR_TOOMANYREQUESTS, 0);
	metrics_login(METRICS_SRC_TOKEN, BERR_INTERNAL, 0);
	metrics_tokens(1);
	metrics_tokens(0);
	metrics_directory('o', metrics_clock());
	metrics_directory('u', metrics_clock());
	metrics_directory('e', metrics_clock());

	char *t = render();
	CHECK(sample(t, "berth_logins_total{source=\"local\",result=\"success\"}") == 1);
	CHECK(sample(t, "berth_logins_total{source=\"directory\",result=\"unavailable\"}") == 1);
	CHECK(sample(t, "berth_logins_total{source=\"directory\",result=\"failure\"}") == 1);
	CHECK(sample(t, "berth_logins_total{source=\"none\",result=\"throttled\"}") == 1);
	CHECK(sample(t, "berth_logins_total{source=\"token\",result=\"error\"}") == 1);
	CHECK(sample(t, "berth_logins_total{source=\"token\",result=\"success\"}") == 0);
	CHECK(sample(t, "berth_tokens_issued_total{type=\"access\"}") == 2);
	CHECK(sample(t, "berth_tokens_issued_total{type=\"refresh\"}") == 1);
	CHECK(sample(t, "berth_directory_requests_total{result=\"ok\"}") == 1);
	CHECK(sample(t, "berth_directory_requests_total{result=\"unavailable\"}") == 1);
	CHECK(sample(t, "berth_directory_requests_total{result=\"error\"}") == 1);
	CHECK(sample(t, "berth_directory_requests_total{result=\"rejected\"}") == 0);
	CHECK(sample(t, "berth_directory_request_duration_seconds_count") == 7);
	free(t);
}

#define CHILDREN 6
#define ROUNDS 20000

/* Children of the process that created the region add at once; the
 * parent sees every increment (the region is shared, the adds atomic). */
static void across_fork(void)
{
	uint64_t before = metrics_get(METRICS_BLOB_REDIRECT_BYTES, 0, 0, 0);
	uint64_t hist = metrics_get(METRICS_REQUEST_SECONDS, metrics_label(METRICS_REQUESTS, 0, "blob"), 0, 0);
	pid_t pids[CHILDREN];
	int ok = 1, status;

	for (int c = 0; c < CHILDREN; c++) {
		if ((pids[c] = fork()) == 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			for (int i = 0; i < ROUNDS; i++) {
				metrics_add(METRICS_BLOB_REDIRECT_BYTES, 3, 0, 0, 0);
				if (i % 10 == 0)
					metrics_request("blob", "GET", 200, &now);
			}
			_exit(0);
		}
		ok &= pids[c] > 0;
	}
	for (int c = 0; c < CHILDREN; c++)
		if (pids[c] > 0)
			ok &= waitpid(pids[c], &status, 0) == pids[c] && WIFEXITED(status) &&
			      WEXITSTATUS(status) == 0;
	CHECK(ok);
	CHECK_INT(metrics_get(METRICS_BLOB_REDIRECT_BYTES, 0, 0, 0) - before, 3ull * CHILDREN * ROUNDS);
	CHECK_INT(metrics_get(METRICS_REQUEST_SECONDS, metrics_label(METRICS_REQUESTS, 0, "blob"), 0, 0) - hist,
		  CHILDREN * ROUNDS / 10);
	char *t = render();
	CHECK(sample(t, "berth_http_requests_total{route=\"blob\",method=\"GET\",code=\"2xx\"}") ==
	      CHILDREN * ROUNDS / 10);
	check_format(t);
	free(t);
}

static void gc_report(void)
{
	struct store s;
	struct store_gc_report g;
	struct gc_stats st = { 0 };
	char path[PATH_MAX];
	uint64_t n = 99;

	store_fresh(&s);
	CHECK(store_gc_report_read(&s, &g) == BERR_OK);  /* none yet: zeros */
	CHECK_INT(g.runs, 0);
	CHECK_INT(g.time, 0);
	CHECK(store_upload_count(&s, &n) == BERR_OK);
	CHECK_INT(n, 0);

	snprintf(path, sizeof(path), "%s/gc", s.root);
	CHECK(mkdir(path, 0755) == 0);
	st.bytes_freed = 5000;
	st.blobs_removed = 2;
	st.bytes_kept = 123456789012ll;
	st.blobs_kept = 7;
	st.seconds = 1.5;
	CHECK(store_gc_report_write(&s, &st) == BERR_OK);
	st.bytes_freed = 100;
	CHECK(store_gc_report_write(&s, &st) == BERR_OK);
	CHECK(store_gc_report_read(&s, &g) == BERR_OK);
	CHECK_INT(g.runs, 2);
	CHECK_INT(g.bytes_freed, 100);
	CHECK_INT(g.bytes_freed_total, 5100);
	CHECK_INT(g.blob_bytes, 123456789012ll);
	CHECK_INT(g.blobs, 7);
	CHECK(g.seconds > 1.49 && g.seconds < 1.51);
	CHECK(g.time >= time(NULL) - 60 && g.time <= time(NULL));

	/* two sessions and a dot name */
	for (const char *d = "a1\0b2\0.tmp\0"; *d; d += strlen(d) + 1) {
		snprintf(path, sizeof(path), "%s/uploads/%s", s.root, d);
		CHECK(mkdir(path, 0755) == 0);
	}
	CHECK(store_upload_count(&s, &n) == BERR_OK);
	CHECK_INT(n, 2);

	/* a report that is not JSON: an error to read, and the next run
	 * counts from zero */
	snprintf(path, sizeof(path), "%s/gc/report.json", s.root);
	FILE *f = fopen(path, "we");
	CHECK(f != NULL);
	if (f) {
		fputs("not json", f);
		fclose(f);
	}
	CHECK(store_gc_report_read(&s, &g) == BERR_INTERNAL);
	CHECK(store_gc_report_write(&s, &st) == BERR_OK);
	CHECK(store_gc_report_read(&s, &g) == BERR_OK);
	CHECK_INT(g.runs, 1);
	store_close(&s);
}

int main(void)
{
	char cmd[600];

	snprintf(base, sizeof(base), "%s/berth-metrics-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(base))
		return 2;
	without_region();
	counters_and_labels();
	histogram();
	hooks();
	across_fork();
	gc_report();
	metrics_destroy();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	return unit_done();
}
