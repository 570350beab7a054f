/*
 * test_store_referrers.c - the referrers index (store/referrers.c): entries
 * recorded by manifest PUTs with a subject, listed in digest order with the
 * descriptor the distribution-spec asks for, filtered by artifactType, kept
 * across unrelated deletes, dropped with the referrer, robust against stale
 * entries and concurrent writers; and fsck's view of it.  Also the parent
 * index of an index (one entry per distinct child, however often it is
 * named) and the size check of a PUT's descriptors.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "util/fs.h"
#include "store/fsck.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"

#define EMPTY_MT "application/vnd.oci.empty.v1+json"
#define SIG_T "application/vnd.example.signature.v1"
#define SBOM_CFG_T "application/vnd.example.sbom.config.v1+json"



/* Parse `doc` as its own media type and store it in `name`. */

/* An image manifest whose config is the blob `cfg` (linked into `name`). */
static void image_doc(char *out, size_t len, const struct digest *cfg, const char *cfg_mt,
		      const char *extra)
{
	char ds[DIGEST_STR_MAX];

	snprintf(out, len, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST_S "\","
		 "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},"
		 "\"layers\":[]%s}", cfg_mt, digest_format(cfg, ds), extra ? extra : "");
}

/* A referrer of `subject`: artifactType `at` (NULL: none, the config's
 * media type `cfg_mt` then counts), `extra` JSON members appended. */
static void referrer_doc(char *out, size_t len, const struct digest *cfg, const char *cfg_mt,
			 const char *at, const struct digest *subject, const char *extra)
{
	char more[1536], ds[DIGEST_STR_MAX], atm[256] = "";

	if (at)
		snprintf(atm, sizeof(atm), ",\"artifactType\":\"%s\"", at);
	snprintf(more, sizeof(more), "%s,\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST_S "\","
		 "\"digest\":\"%s\",\"size\":123}%s", atm, digest_format(subject, ds),
		 extra ? extra : "");
	image_doc(out, len, cfg, cfg_mt, more);
}

static void setup(struct store *s, const char *name, struct digest *cfg, struct digest *subject)
{
	char doc[1024];

	CHECK_INT(store_blob_put_buf(s, DIGEST_SHA256, "{}", 2, cfg), BERR_OK);
	CHECK_INT(store_blob_link(s, name, cfg), BERR_OK);
	image_doc(doc, sizeof(doc), cfg, "application/vnd.oci.image.config.v1+json", NULL);
	CHECK_INT(push(s, name, doc, "v1", subject), BERR_OK);
}

static json_t *list(struct store *s, const char *name, const struct digest *subject,
		    const char *at)
{
	json_t *arr = NULL;

	CHECK_INT(store_referrers_list(s, name, subject, at, &arr), BERR_OK);
	CHECK(json_is_array(arr));
	return arr;
}

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int has_digest(json_t *arr, const struct digest *d)
{
	char ds[DIGEST_STR_MAX];
	size_t i;
	json_t *o;

	digest_format(d, ds);
	json_array_foreach(arr, i, o)
		if (str_of(o, "digest") && strcmp(str_of(o, "digest"), ds) == 0)
			return 1;
	return 0;
}

static int sorted(json_t *arr)
{
	size_t i;

	for (i = 1; i < json_array_size(arr); i++)
		if (strcmp(str_of(json_array_get(arr, i - 1), "digest"),
			   str_of(json_array_get(arr, i), "digest")) >= 0)
			return 0;
	return 1;
}

struct kinds {
	int problems;
	char seen[1024];
};

static void on_problem(void *ctx, const struct fsck_problem *p)
{
	struct kinds *k = ctx;
	size_t n = strlen(k->seen);

	snprintf(k->seen + n, sizeof(k->seen) - n, "%s ", fsck_kind_name(p->kind));
}

static long fsck_problems(struct store *s, struct kinds *k)
{
	struct fsck_counts c;

	memset(k, 0, sizeof(*k));
	CHECK_INT(store_fsck(s, 0, on_problem, k, &c), BERR_OK);
	return c.problems;
}

static void test_listing(void)
{
	char doc[3][2048], other[1024], ds[DIGEST_STR_MAX], path[PATH_MAX];
	struct digest cfg, subject, r[3], u, absent;
	struct store s;
	struct kinds k;
	json_t *arr, *o;
	size_t i;

	store_fresh(&s);
	setup(&s, "app", &cfg, &subject);
	arr = list(&s, "app", &subject, NULL);
	CHECK_INT(json_array_size(arr), 0);
	json_decref(arr);

	referrer_doc(doc[0], sizeof(doc[0]), &cfg, EMPTY_MT, SIG_T, &subject, NULL);
	referrer_doc(doc[1], sizeof(doc[1]), &cfg, SBOM_CFG_T, NULL, &subject, NULL);
	referrer_doc(doc[2], sizeof(doc[2]), &cfg, EMPTY_MT, SIG_T, &subject,
		     ",\"annotations\":{\"org.opencontainers.image.created\":\"2024-05-06T07:08:09Z\","
		     "\"org.example.signer\":\"ci\"}");
	for (i = 0; i < 3; i++)
		CHECK_INT(push(&s, "app", doc[i], NULL, &r[i]), BERR_OK);

	arr = list(&s, "app", &subject, NULL);
	CHECK_INT(json_array_size(arr), 3);
	CHECK(sorted(arr));
	json_array_foreach(arr, i, o) {
		const char *dg = str_of(o, "digest");
		int which = dg == NULL ? -1 : strcmp(dg, digest_format(&r[0], ds)) == 0 ? 0 :
			    strcmp(dg, digest_format(&r[1], ds)) == 0 ? 1 :
			    strcmp(dg, digest_format(&r[2], ds)) == 0 ? 2 : -1;

		CHECK(which >= 0);
		if (which < 0)
			continue;
		CHECK_STR(str_of(o, "mediaType"), MT_OCI_MANIFEST_S);
		CHECK_INT(json_integer_value(json_object_get(o, "size")), strlen(doc[which]));
		CHECK_STR(str_of(o, "artifactType"), which == 1 ? SBOM_CFG_T : SIG_T);
		if (which == 2) {
			CHECK_STR(str_of(json_object_get(o, "annotations"), "org.example.signer"), "ci");
			CHECK_INT(json_object_size(json_object_get(o, "annotations")), 2);
		} else {
			CHECK(json_object_get(o, "annotations") == NULL);
		}
	}
	json_decref(arr);

	/* artifactType filter */
	arr = list(&s, "app", &subject, SIG_T);
	CHECK_INT(json_array_size(arr), 2);
	CHECK(has_digest(arr, &r[0]) && has_digest(arr, &r[2]) && sorted(arr));
	json_decref(arr);
	arr = list(&s, "app", &subject, SBOM_CFG_T);
	CHECK_INT(json_array_size(arr), 1);
	CHECK(has_digest(arr, &r[1]));
	json_decref(arr);
	arr = list(&s, "app", &subject, "application/unknown");
	CHECK_INT(json_array_size(arr), 0);
	json_decref(arr);

	/* unknown subject, unknown repository: empty; the entries are per repository */
	digest_buf(DIGEST_SHA256, "absent", 6, &absent);
	arr = list(&s, "app", &absent, NULL);
	CHECK_INT(json_array_size(arr), 0);
	json_decref(arr);
	arr = list(&s, "nowhere", &subject, NULL);
	CHECK_INT(json_array_size(arr), 0);
	json_decref(arr);
	CHECK_INT(store_referrers_list(&s, "../x", &subject, NULL, &arr), BERR_NAME_INVALID);
	CHECK(arr == NULL);
	CHECK_INT(fsck_problems(&s, &k), 0);

	/* an unrelated delete keeps them; deleting a referrer drops it */
	image_doc(other, sizeof(other), &cfg, "application/vnd.oci.image.config.v1+json",
		  ",\"annotations\":{\"x\":\"unrelated\"}");
	CHECK_INT(push(&s, "app", other, "other", &u), BERR_OK);
	CHECK_INT(store_manifest_delete(&s, "app", &u, 0), BERR_OK);
	arr = list(&s, "app", &subject, NULL);
	CHECK_INT(json_array_size(arr), 3);
	json_decref(arr);
	CHECK_INT(store_manifest_delete(&s, "app", &r[0], 0), BERR_OK);
	arr = list(&s, "app", &subject, NULL);
	CHECK_INT(json_array_size(arr), 2);
	CHECK(!has_digest(arr, &r[0]) && has_digest(arr, &r[1]) && has_digest(arr, &r[2]));
	json_decref(arr);
	snprintf(path, sizeof(path), "%s/repos/app/_referrers/sha256/%s/sha256-%s", s.root,
		 subject.hex, r[0].hex);
	CHECK(!fs_exists(path));

	/* pushed again: listed again */
	CHECK_INT(push(&s, "app", doc[0], NULL, &r[0]), BERR_OK);
	arr = list(&s, "app", &subject, SIG_T);
	CHECK_INT(json_array_size(arr), 2);
	json_decref(arr);

	/* deleting the subject itself leaves the referrers listed (the spec
	 * lets referrers outlive their subject; they can be pushed before it) */
	CHECK_INT(store_manifest_delete(&s, "app", &subject, 0), BERR_OK);
	arr = list(&s, "app", &subject, NULL);
	CHECK_INT(json_array_size(arr), 3);
	json_decref(arr);
	CHECK_INT(fsck_problems(&s, &k), 0);
	store_close(&s);
}

/* Entries that do not count: stale ones (manifest not linked), temporaries,
 * foreign names; and a missing entry is what fsck reports. */
static void test_stale_and_fsck(void)
{
	char doc[2048], path[PATH_MAX], dir[PATH_MAX / 2];
	struct digest cfg, subject, r, ghost;
	struct store s;
	struct kinds k;
	json_t *arr;
	FILE *f;

	store_fresh(&s);
	setup(&s, "team/app", &cfg, &subject);
	referrer_doc(doc, sizeof(doc), &cfg, EMPTY_MT, SIG_T, &subject, NULL);
	CHECK_INT(push(&s, "team/app", doc, NULL, &r), BERR_OK);
	snprintf(dir, sizeof(dir), "%s/repos/team/app/_referrers/sha256/%s", s.root, subject.hex);

	/* a crash between the entry and the link: entry without a manifest */
	digest_buf(DIGEST_SHA256, "ghost", 5, &ghost);
	snprintf(path, sizeof(path), "%s/sha256-%s", dir, ghost.hex);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("{\"mediaType\":\"a/b\",\"digest\":\"sha256:x\",\"size\":1}", f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/.w.0123456789abcdef", dir);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/not-a-digest", dir);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	arr = list(&s, "team/app", &subject, NULL);
	CHECK_INT(json_array_size(arr), 1);
	CHECK(has_digest(arr, &r));
	json_decref(arr);
	CHECK_INT(fsck_problems(&s, &k), 0); /* garbage, not a problem */

	/* a linked referrer whose entry is missing: fsck says so */
	snprintf(path, sizeof(path), "%s/sha256-%s", dir, r.hex);
	CHECK(unlink(path) == 0);
	CHECK_INT(fsck_problems(&s, &k), 1);
	CHECK(strstr(k.seen, "missing-referrer-entry") != NULL);
	/* pushing it again repairs it */
	CHECK_INT(push(&s, "team/app", doc, NULL, &r), BERR_OK);
	CHECK_INT(fsck_problems(&s, &k), 0);

	/* a sha512 referrer of the same subject sits beside the sha256 one */
	{
		struct manifest m;
		struct digest want, got;

		CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
		digest_buf(DIGEST_SHA512, doc, strlen(doc), &want);
		CHECK_INT(store_manifest_put(&s, "team/app", &m, MT_OCI_MANIFEST_S, doc,
					     strlen(doc), &want, NULL, &got), BERR_OK);
		manifest_release(&m);
		arr = list(&s, "team/app", &subject, NULL);
		CHECK_INT(json_array_size(arr), 2);
		CHECK(has_digest(arr, &want) && has_digest(arr, &r));
		json_decref(arr);
	}
	store_close(&s);
}

/* An index can be a referrer too (its artifactType is its own only). */
static void test_index_referrer(void)
{
	char doc[2048], ds[DIGEST_STR_MAX], ss[DIGEST_STR_MAX];
	struct digest cfg, subject, idx;
	struct store s;
	json_t *arr;

	store_fresh(&s);
	setup(&s, "app", &cfg, &subject);
	snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX_S "\","
		 "\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST_S "\",\"digest\":\"%s\",\"size\":1}],"
		 "\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST_S "\",\"digest\":\"%s\",\"size\":1}}",
		 digest_format(&subject, ds), digest_format(&subject, ss));
	CHECK_INT(push(&s, "app", doc, NULL, &idx), BERR_OK);
	arr = list(&s, "app", &subject, NULL);
	CHECK_INT(json_array_size(arr), 1);
	CHECK_STR(str_of(json_array_get(arr, 0), "mediaType"), MT_OCI_INDEX_S);
	CHECK(json_object_get(json_array_get(arr, 0), "artifactType") == NULL);
	json_decref(arr);
	store_close(&s);
}

/* Entries in directory `dir` that readers would see (no dot names). */
static int count_entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *dh;

	if (!(dh = opendir(dir)))
		return 0;
	while ((de = readdir(dh)))
		n += de->d_name[0] != '.';
	closedir(dh);
	return n;
}

static void parents_dir(struct store *s, const char *name, const struct digest *child,
			char *out, size_t len)
{
	snprintf(out, len, "%s/repos/%s/_parents/sha256/%s", s->root, name, child->hex);
}

#define KIDS 40
#define REPEATS 3000
/* An index naming one child REPEATS times and KIDS - 1 others once: one
 * parent entry per distinct child, each durable and readable, nothing left
 * in tmp/, deletes refused while it is linked, all gone with it. */
static void test_index_parents(void)
{
	char *doc, *p, ds[DIGEST_STR_MAX], dir[PATH_MAX], tmp[PATH_MAX + 160], extra[64], img[1024];
	char *content = NULL;
	size_t cap = (REPEATS + KIDS) * 200 + 256, len, sizes[KIDS];
	struct digest cfg, subject, kids[KIDS], idx;
	struct manifest m;
	struct store s;
	struct kinds k;
	int i;

	store_fresh(&s);
	setup(&s, "app", &cfg, &subject);
	for (i = 0; i < KIDS; i++) {
		snprintf(extra, sizeof(extra), ",\"annotations\":{\"n\":\"%d\"}", i);
		image_doc(img, sizeof(img), &cfg, "application/vnd.oci.image.config.v1+json", extra);
		sizes[i] = strlen(img);
		CHECK_INT(push(&s, "app", img, NULL, &kids[i]), BERR_OK);
	}
	doc = malloc(cap);
	p = doc + sprintf(doc, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX_S "\",\"manifests\":[");
	for (i = 0; i < REPEATS + KIDS - 1; i++)
		p += sprintf(p, "%s{\"mediaType\":\"" MT_OCI_MANIFEST_S "\",\"digest\":\"%s\",\"size\":%zu}",
			     i ? "," : "", digest_format(&kids[i < REPEATS ? 0 : i - REPEATS + 1], ds),
			     sizes[i < REPEATS ? 0 : i - REPEATS + 1]);
	strcpy(p, "]}");
	CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
	CHECK_INT(m.ndescriptors, REPEATS + KIDS - 1);
	CHECK_INT(m.nrefs, KIDS);
	CHECK_INT(store_manifest_check_sizes(&s, "app", &m), BERR_OK);
	manifest_release(&m);
	CHECK_INT(push(&s, "app", doc, "multi", &idx), BERR_OK);
	for (i = 0; i < KIDS; i++) {
		parents_dir(&s, "app", &kids[i], dir, sizeof(dir));
		CHECK_INT(count_entries(dir), 1);
		snprintf(tmp, sizeof(tmp), "%s/sha256-%s", dir, idx.hex);
		CHECK_INT(fs_read_small(tmp, 4096, &content, &len, BERR_MANIFEST_UNKNOWN), BERR_OK);
		CHECK_STR(content, MT_OCI_INDEX_S);
		free(content);
		content = NULL;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp", s.root);
	CHECK_INT(count_entries(tmp), 0); /* the shared file is gone */
	CHECK_INT(fsck_problems(&s, &k), 0);
	CHECK_INT(store_manifest_delete(&s, "app", &kids[0], 0), BERR_DENIED);
	CHECK(strstr(berr_detail(), idx.hex) != NULL);
	CHECK_INT(store_manifest_delete(&s, "app", &kids[KIDS - 1], 0), BERR_DENIED);

	/* pushed again: the entries are there already, nothing changes */
	CHECK_INT(push(&s, "app", doc, "again", &idx), BERR_OK);
	parents_dir(&s, "app", &kids[0], dir, sizeof(dir));
	CHECK_INT(count_entries(dir), 1);

	CHECK_INT(store_manifest_delete(&s, "app", &idx, 0), BERR_OK);
	for (i = 0; i < KIDS; i++) {
		parents_dir(&s, "app", &kids[i], dir, sizeof(dir));
		CHECK_INT(count_entries(dir), 0);
	}
	CHECK_INT(fsck_problems(&s, &k), 0);
	CHECK_INT(store_manifest_delete(&s, "app", &kids[0], 0), BERR_OK);
	free(doc);
	store_close(&s);
}

/* A PUT that dies after writing its entries, before its link: the entries
 * mean nothing (a child may be deleted) and fsck finds no problem. */
static void test_entries_without_link(void)
{
	char doc[2048], ds[DIGEST_STR_MAX], img[1024];
	struct digest cfg, subject, kid, idx;
	struct manifest m;
	struct store s;
	struct kinds k;

	store_fresh(&s);
	setup(&s, "app", &cfg, &subject);
	image_doc(img, sizeof(img), &cfg, "application/vnd.oci.image.config.v1+json",
		  ",\"annotations\":{\"kid\":\"1\"}");
	CHECK_INT(push(&s, "app", img, NULL, &kid), BERR_OK);
	snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX_S "\","
		 "\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST_S "\",\"digest\":\"%s\","
		 "\"size\":%zu}]}", digest_format(&kid, ds), strlen(img));
	digest_buf(DIGEST_SHA256, doc, strlen(doc), &idx);
	CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
	CHECK_INT(store_manifest_entries_write(&s, "app", &m, MT_OCI_INDEX_S, &idx, strlen(doc), 0),
		  BERR_OK);
	manifest_release(&m);
	CHECK_INT(fsck_problems(&s, &k), 0);
	CHECK_INT(store_manifest_delete(&s, "app", &kid, 0), BERR_OK);
	store_close(&s);
}

/* store_manifest_check_sizes: each size against the stored bytes. */
static void test_check_sizes(void)
{
	char doc[2048], ds[DIGEST_STR_MAX], ls[DIGEST_STR_MAX], img[1024];
	struct digest cfg, subject, layer, lonely;
	struct manifest m;
	struct store s;

	store_fresh(&s);
	setup(&s, "app", &cfg, &subject);
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "77 bytes? no: 23 bytes.", 23, &layer),
		  BERR_OK);
	CHECK_INT(store_blob_link(&s, "app", &layer), BERR_OK);
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "elsewhere", 9, &lonely), BERR_OK);
	CHECK_INT(store_blob_link(&s, "other", &lonely), BERR_OK);

#define IMG(lsize, extra) snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"config\":" \
	"{\"mediaType\":\"a/b\",\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":" \
	"\"a/b\",\"digest\":\"%s\",\"size\":%d%s}]}", digest_format(&cfg, ds), \
	digest_format(&layer, ls), lsize, extra)
	IMG(23, "");
	CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
	CHECK_INT(store_manifest_check_sizes(&s, "app", &m), BERR_OK);
	manifest_release(&m);

	IMG(5, "");
	CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
	CHECK_INT(store_manifest_check_sizes(&s, "app", &m), BERR_MANIFEST_INVALID);
	CHECK(strstr(berr_detail(), ls) != NULL);
	CHECK(strstr(berr_detail(), "size 5,") != NULL);
	CHECK(strstr(berr_detail(), "23 bytes") != NULL);
	manifest_release(&m);

	IMG(5, ",\"urls\":[\"https://example.com/l\"]"); /* foreign: not ours to check */
	CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
	CHECK_INT(store_manifest_check_sizes(&s, "app", &m), BERR_OK);
	manifest_release(&m);

	/* in the store but not in this repository: no size is told, the
	 * reference check says it is missing */
	layer = lonely;
	IMG(5, "");
	CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
	CHECK_INT(store_manifest_check_sizes(&s, "app", &m), BERR_OK);
	CHECK_INT(store_manifest_check_refs(&s, "app", &m), BERR_MANIFEST_BLOB_UNKNOWN);
	manifest_release(&m);
#undef IMG

	/* an index's child: its stored manifest size */
	image_doc(img, sizeof(img), &cfg, "application/vnd.oci.image.config.v1+json", NULL);
	snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX_S "\","
		 "\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST_S "\",\"digest\":\"%s\","
		 "\"size\":%zu}]}", digest_format(&subject, ds), strlen(img) + 1);
	CHECK_INT(manifest_parse(&m, NULL, doc, strlen(doc)), BERR_OK);
	CHECK_INT(store_manifest_check_sizes(&s, "app", &m), BERR_MANIFEST_INVALID);
	CHECK(strstr(berr_detail(), ds) != NULL);
	manifest_release(&m);
	store_close(&s);
}

#define KILL_KIDS 200
#define KILL_RUNS 12
/* A process pushing an index of KILL_KIDS children is SIGKILLed at a
 * random moment, KILL_RUNS times: fsck stays clean each time (an index that
 * got linked has all its entries), and each index pushed again afterwards
 * is complete. */
static void test_killed_put(void)
{
	char *doc, *p, ds[DIGEST_STR_MAX], extra[64], img[1024];
	size_t cap = KILL_KIDS * 200 + 256, sizes[KILL_KIDS];
	struct digest cfg, subject, kids[KILL_KIDS], idx;
	struct timespec t0, t1;
	struct store s;
	struct kinds k;
	long took_us = 0;
	pid_t pid;
	int i, run, status;

	store_fresh(&s);
	setup(&s, "app", &cfg, &subject);
	for (i = 0; i < KILL_KIDS; i++) {
		snprintf(extra, sizeof(extra), ",\"annotations\":{\"k\":\"%d\"}", i);
		image_doc(img, sizeof(img), &cfg, "application/vnd.oci.image.config.v1+json", extra);
		sizes[i] = strlen(img);
		CHECK_INT(push(&s, "app", img, NULL, &kids[i]), BERR_OK);
	}
	doc = malloc(cap);
	srand((unsigned)getpid());
	for (run = 0; run < KILL_RUNS; run++) {
		p = doc + sprintf(doc, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX_S "\","
				  "\"annotations\":{\"run\":\"%d\"},\"manifests\":[", run);
		for (i = 0; i < KILL_KIDS; i++)
			p += sprintf(p, "%s{\"mediaType\":\"" MT_OCI_MANIFEST_S "\",\"digest\":\"%s\","
				     "\"size\":%zu}", i ? "," : "", digest_format(&kids[i], ds), sizes[i]);
		strcpy(p, "]}");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid = fork();
		if (pid == 0)
			_exit(push(&s, "app", doc, NULL, &idx) == BERR_OK ? 0 : 1);
		/* the first run is timed whole; the others die part way */
		if (run > 0)
			usleep((useconds_t)(rand() % (int)(took_us + 1)));
		if (run > 0)
			kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (run == 0) {
			took_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
		CHECK_INT(fsck_problems(&s, &k), 0);
		if (k.seen[0])
			fprintf(stderr, "run %d: %s\n", run, k.seen);
		CHECK_INT(push(&s, "app", doc, NULL, &idx), BERR_OK);
		CHECK_INT(fsck_problems(&s, &k), 0);
		CHECK_INT(store_manifest_delete(&s, "app", &kids[run], 0), BERR_DENIED);
	}
	free(doc);
	store_close(&s);
}

static int wait_ok(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* 4 processes push 5 referrers each of one subject at the same time. */
#define WRITERS 4
#define EACH 5
static void test_concurrent(void)
{
	char doc[2048], extra[128];
	struct digest cfg, subject, d;
	struct store s;
	struct kinds k;
	pid_t pid[WRITERS];
	json_t *arr;
	int w, i;

	store_fresh(&s);
	setup(&s, "app", &cfg, &subject);
	for (w = 0; w < WRITERS; w++) {
		pid[w] = fork();
		if (pid[w] == 0) {
			int bad = 0;

			for (i = 0; i < EACH; i++) {
				snprintf(extra, sizeof(extra),
					 ",\"annotations\":{\"writer\":\"%d\",\"n\":\"%d\"}", w, i);
				referrer_doc(doc, sizeof(doc), &cfg, EMPTY_MT, SIG_T, &subject, extra);
				if (push(&s, "app", doc, NULL, &d) != BERR_OK)
					bad++;
			}
			_exit(bad ? 1 : 0);
		}
	}
	for (w = 0; w < WRITERS; w++)
		CHECK(wait_ok(pid[w]));
	arr = list(&s, "app", &subject, NULL);
	CHECK_INT(json_array_size(arr), WRITERS * EACH);
	CHECK(sorted(arr));
	json_decref(arr);
	for (w = 0; w < WRITERS; w++)
		for (i = 0; i < EACH; i++) {
			snprintf(extra, sizeof(extra), ",\"annotations\":{\"writer\":\"%d\",\"n\":\"%d\"}",
				 w, i);
			referrer_doc(doc, sizeof(doc), &cfg, EMPTY_MT, SIG_T, &subject, extra);
			digest_buf(DIGEST_SHA256, doc, strlen(doc), &d);
			arr = list(&s, "app", &subject, SIG_T);
			CHECK(has_digest(arr, &d));
			json_decref(arr);
		}
	CHECK_INT(fsck_problems(&s, &k), 0);
	store_close(&s);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/berth-referrers-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_listing();
	test_stale_and_fsck();
	test_index_referrer();
	test_index_parents();
	test_entries_without_link();
	test_check_sizes();
	test_killed_put();
	test_concurrent();
	fs_remove_tree(base);
	return unit_done();
}
