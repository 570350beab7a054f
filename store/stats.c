/*
 * stats.c - the collector's report and the session count (stats.h).
 *
 * The report is JSON so that an operator can read it too (`jq .
 * store/gc/report.json`).  Two collectors never write it at once: only the
 * holder of gc/lock completes a run.  A report that cannot be read (a
 * hand-edited file) is logged and counted from zero: the figures are for
 * monitoring, never worth failing a collection or a scrape over.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "store/layout.h"
#include "store/stats.h"
#include "util/fs.h"
#include "util/log.h"

#define REPORT_MAX 4096

static uint64_t field(json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

enum berr store_gc_report_read(struct store *s, struct store_gc_report *out)
{
	char path[PATH_MAX], *buf = NULL;
	json_error_t jerr;
	json_t *doc;
	size_t len;
	enum berr rc;

	memset(out, 0, sizeof(*out));
	if ((rc = layout_gc(s, LAYOUT_GC_REPORT, path, sizeof(path))) ||
	    (rc = fs_read_small(path, REPORT_MAX, &buf, &len, BERR_NAME_UNKNOWN)))
		return rc == BERR_NAME_UNKNOWN ? BERR_OK : rc;
	doc = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return berr_set(BERR_INTERNAL, "%s: not a gc report: %s", path, jerr.text);
	}
	out->time = (int64_t)field(doc, "time");
	out->seconds = json_number_value(json_object_get(doc, "seconds"));
	out->bytes_freed = field(doc, "bytes_freed");
	out->blobs_removed = field(doc, "blobs_removed");
	out->blob_bytes = field(doc, "blob_bytes");
	out->blobs = field(doc, "blobs");
	out->runs = field(doc, "runs");
	out->bytes_freed_total = field(doc, "bytes_freed_total");
	json_decref(doc);
	return BERR_OK;
}

static json_t *report_json(const struct gc_stats *st, const struct store_gc_report *prev)
{
	return json_pack("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "time", (json_int_t)time(NULL), "seconds", st->seconds,
			 "bytes_freed", (json_int_t)st->bytes_freed,
			 "blobs_removed", (json_int_t)st->blobs_removed,
			 "blob_bytes", (json_int_t)st->bytes_kept, "blobs", (json_int_t)st->blobs_kept,
			 "runs", (json_int_t)(prev->runs + 1),
			 "bytes_freed_total", (json_int_t)(prev->bytes_freed_total +
							   (uint64_t)st->bytes_freed));
}

static enum berr report_publish(struct store *s, const struct gc_stats *st)
{
	char path[PATH_MAX], tmpdir[PATH_MAX], *text = NULL;
	struct store_gc_report prev;
	json_t *doc = NULL;
	enum berr rc;

	if (store_gc_report_read(s, &prev)) {
		log_warn("gc report: %s; counting from zero", berr_detail());
		memset(&prev, 0, sizeof(prev));
	}
	if ((rc = layout_gc(s, LAYOUT_GC_REPORT, path, sizeof(path))) ||
	    (rc = layout_tmp_dir(s, tmpdir, sizeof(tmpdir))))
		return rc;
	if (!(doc = report_json(st, &prev)) || !(text = json_dumps(doc, JSON_COMPACT))) {
		rc = berr_set(BERR_INTERNAL, "out of memory");
		goto out;
	}
	rc = fs_write_atomic(tmpdir, path, text, strlen(text));
out:
	free(text);
	json_decref(doc);
	return rc;
}

/* In an error context of its own: the collection's outcome and detail stay
 * what they were, a report that cannot be written is only logged. */
enum berr store_gc_report_write(struct store *s, const struct gc_stats *st)
{
	struct berr_ctx ctx;
	enum berr rc;

	berr_enter(&ctx);
	if ((rc = report_publish(s, st)))
		log_warn("gc report: %s", ctx.detail);
	berr_leave(&ctx);
	return rc;
}

enum berr store_upload_count(struct store *s, uint64_t *n)
{
	char dir[PATH_MAX];
	struct dirent *de;
	enum berr rc;
	DIR *dh;

	*n = 0;
	if ((rc = layout_uploads_dir(s, dir, sizeof(dir))))
		return rc;
	if (!(dh = opendir(dir)))
		return errno == ENOENT ? BERR_OK : berr_sys("opendir", dir);
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			(*n)++;
	closedir(dh);
	return BERR_OK;
}
