/*
 * test_store_referrers.c - the referrers index (store/referrers.c): entries
 * recorded by manifest PUTs with a subject, listed in digest order with the
 * descriptor the distribution-spec asks for, filtered by artifactType, kept
 * across unrelated deletes, dropped with the referrer, robust against stale
 * entries and concurrent writers; and fsck's view of it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>

#include "store/fs.h"
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

static void on_problem(void *ctx, const char *kind, const char *object, const char *detail)
{
	struct kinds *k = ctx;
	size_t n = strlen(k->seen);

	snprintf(k->seen + n, sizeof(k->seen) - n, "%s ", kind);
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
	test_concurrent();
	fs_remove_tree(base);
	return unit_done();
}
