/*
 * test_store_delete.c - store/delete.c and store/catalog.c: manifest delete
 * (its tags go, other tags stay; children of a linked index are protected
 * unless forced), tag delete, blob unlink, the catalog with nested names and
 * pagination, the mount search; and the races with concurrent tag and index
 * PUTs, run with real forked writers.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/fsck.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"




/* An image manifest told apart by `salt`; its config "{}" is linked first. */
static enum berr push_image(struct store *s, const char *name, const char *salt,
			    const char *tag, struct digest *out)
{
	char doc[512], ds[DIGEST_STR_MAX];
	struct digest cfg;

	if (store_blob_put_buf(s, DIGEST_SHA256, "{}", 2, &cfg) || store_blob_link(s, name, &cfg))
		return BERR_INTERNAL;
	snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST_S "\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"%s\",\"size\":2},\"layers\":[],"
		 "\"annotations\":{\"salt\":\"%s\"}}", digest_format(&cfg, ds), salt);
	return push(s, name, doc, tag, out);
}

static void index_doc(char *doc, size_t size, const struct digest *kids, size_t n)
{
	char ds[DIGEST_STR_MAX];
	size_t i, len;

	len = (size_t)snprintf(doc, size, "{\"schemaVersion\":2,\"mediaType\":\""
			       MT_OCI_INDEX_S "\",\"manifests\":[");
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(doc + len, size - len,
					"%s{\"mediaType\":\"" MT_OCI_MANIFEST_S "\",\"digest\":\"%s\","
					"\"size\":1}", i ? "," : "", digest_format(&kids[i], ds));
	if (len < size)
		snprintf(doc + len, size - len, "]}");
}

static enum berr push_index(struct store *s, const char *name, const struct digest *kids,
			    size_t n, const char *tag, struct digest *out)
{
	char doc[2048];

	index_doc(doc, sizeof(doc), kids, n);
	return push(s, name, doc, tag, out);
}

struct kinds {
	char seen[1024];
};

static void on_report(void *ctx, const struct fsck_problem *p)
{
	struct kinds *k = ctx;
	size_t n = strlen(k->seen);

	snprintf(k->seen + n, sizeof(k->seen) - n, "%s ", fsck_kind_name(p->kind));
}

static long fsck_problems(struct store *s, struct kinds *k)
{
	struct fsck_counts c;

	memset(k, 0, sizeof(*k));
	CHECK_INT(store_fsck(s, 0, on_report, k, &c), BERR_OK);
	return c.problems;
}

static void test_manifest_delete_tags(void)
{
	struct digest m1, m2, got, junk;
	struct store s;
	struct kinds k;
	char **tags = NULL;
	size_t n = 0;
	int more = 0;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "1", "a", &m1), BERR_OK);
	CHECK_INT(store_tag_set(&s, "app", "b", &m1), BERR_OK);
	CHECK_INT(push_image(&s, "app", "2", "c", &m2), BERR_OK);
	CHECK_INT(store_manifest_delete(&s, "app", &m1, 0), BERR_OK);
	CHECK_INT(store_manifest_linked(&s, "app", &m1, NULL, 0), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_resolve(&s, "app", "a", &got), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_resolve(&s, "app", "b", &got), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_resolve(&s, "app", "c", &got), BERR_OK);
	CHECK(digest_equal(&got, &m2));
	CHECK_INT(store_tag_list(&s, "app", NULL, -1, &tags, &n, &more), BERR_OK);
	CHECK_INT(n, 1);
	CHECK(n == 1 && strcmp(tags[0], "c") == 0);
	store_tag_list_free(tags, n);
	/* the bytes stay for the collector */
	CHECK_INT(store_blob_stat(&s, &m1, NULL), BERR_OK);

	/* again, or never there: MANIFEST_UNKNOWN with the digest in the detail */
	CHECK_INT(store_manifest_delete(&s, "app", &m1, 0), BERR_MANIFEST_UNKNOWN);
	CHECK(strstr(berr_detail(), m1.hex) != NULL);
	CHECK_INT(store_manifest_delete(&s, "other", &m2, 0), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_manifest_delete(&s, "../app", &m2, 0), BERR_NAME_INVALID);
	junk = m2;
	junk.hex[0] = '/';
	CHECK_INT(store_manifest_delete(&s, "app", &junk, 0), BERR_DIGEST_INVALID);
	/* pushing it again brings it back, tags not included */
	CHECK_INT(push_image(&s, "app", "1", NULL, &got), BERR_OK);
	CHECK(digest_equal(&got, &m1));
	CHECK_INT(store_tag_resolve(&s, "app", "a", &got), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(fsck_problems(&s, &k), 0);
	store_close(&s);
}

static void test_index_children(void)
{
	struct digest kids[2], idx, idx2, got;
	char path[PATH_MAX / 2], ds[DIGEST_STR_MAX];
	struct store s;
	struct kinds k;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "amd64", NULL, &kids[0]), BERR_OK);
	CHECK_INT(push_image(&s, "app", "arm64", "arm", &kids[1]), BERR_OK);
	CHECK_INT(push_index(&s, "app", kids, 2, "multi", &idx), BERR_OK);
	snprintf(path, sizeof(path), "%s/repos/app/_parents/sha256/%s/sha256-%s", s.root,
		 kids[0].hex, idx.hex);
	CHECK(fs_exists(path));

	CHECK_INT(store_manifest_delete(&s, "app", &kids[0], 0), BERR_DENIED);
	CHECK(strstr(berr_detail(), digest_format(&idx, ds)) != NULL);
	CHECK(strstr(berr_detail(), digest_format(&kids[0], ds)) != NULL);
	CHECK(strstr(berr_detail(), "delete the index first") != NULL);
	CHECK_INT(store_manifest_linked(&s, "app", &kids[0], NULL, 0), BERR_OK);
	CHECK_INT(store_manifest_delete(&s, "app", &kids[1], 0), BERR_DENIED);
	CHECK_INT(store_tag_resolve(&s, "app", "arm", &got), BERR_OK); /* untouched */

	/* a second index over the same child: both must go first */
	CHECK_INT(push_index(&s, "app", kids, 1, NULL, &idx2), BERR_OK);
	CHECK_INT(store_manifest_delete(&s, "app", &idx, 0), BERR_OK);
	CHECK(!fs_exists(path));
	CHECK_INT(store_manifest_delete(&s, "app", &kids[0], 0), BERR_DENIED);
	CHECK(strstr(berr_detail(), digest_format(&idx2, ds)) != NULL);
	CHECK_INT(store_manifest_delete(&s, "app", &kids[1], 0), BERR_OK); /* only idx named it */
	CHECK_INT(store_tag_resolve(&s, "app", "arm", &got), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(fsck_problems(&s, &k), 0);

	/* forced: the index stays, and fsck sees what that did */
	CHECK_INT(store_manifest_delete(&s, "app", &kids[0], 1), BERR_OK);
	CHECK_INT(store_manifest_linked(&s, "app", &kids[0], NULL, 0), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_manifest_linked(&s, "app", &idx2, NULL, 0), BERR_OK);
	CHECK_INT(fsck_problems(&s, &k), 1);
	CHECK(strstr(k.seen, "missing-reference") != NULL);

	/* a missing parent entry of a linked index is a problem too */
	CHECK_INT(push_image(&s, "app", "amd64", NULL, &kids[0]), BERR_OK);
	snprintf(path, sizeof(path), "%s/repos/app/_parents/sha256/%s/sha256-%s", s.root,
		 kids[0].hex, idx2.hex);
	CHECK(unlink(path) == 0);
	CHECK_INT(fsck_problems(&s, &k), 1);
	CHECK(strstr(k.seen, "missing-parent-entry") != NULL);
	store_close(&s);
}

static void test_tag_delete_and_unlink(void)
{
	struct digest m, got, layer;
	struct store s;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "x", "v1", &m), BERR_OK);
	CHECK_INT(store_tag_set(&s, "app", "v2", &m), BERR_OK);
	CHECK_INT(store_tag_delete(&s, "app", "v1"), BERR_OK);
	CHECK_INT(store_tag_resolve(&s, "app", "v1", &got), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_resolve(&s, "app", "v2", &got), BERR_OK);
	CHECK_INT(store_manifest_linked(&s, "app", &m, NULL, 0), BERR_OK);
	CHECK_INT(store_tag_delete(&s, "app", "v1"), BERR_MANIFEST_UNKNOWN);
	CHECK(strstr(berr_detail(), "tag v1") != NULL && strstr(berr_detail(), "app") != NULL);
	CHECK_INT(store_tag_delete(&s, "nowhere", "v2"), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_delete(&s, "app", "../v2"), BERR_MANIFEST_INVALID);
	CHECK_INT(store_tag_delete(&s, "app/", "v2"), BERR_NAME_INVALID);

	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "layer", 5, &layer), BERR_OK);
	CHECK_INT(store_blob_unlink(&s, "app", &layer), BERR_BLOB_UNKNOWN);
	CHECK(strstr(berr_detail(), layer.hex) != NULL);
	CHECK_INT(store_blob_link(&s, "app", &layer), BERR_OK);
	CHECK_INT(store_blob_link(&s, "other", &layer), BERR_OK);
	CHECK_INT(store_blob_unlink(&s, "app", &layer), BERR_OK);
	CHECK_INT(store_blob_linked(&s, "app", &layer), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_linked(&s, "other", &layer), BERR_OK);
	CHECK_INT(store_blob_stat(&s, &layer, NULL), BERR_OK);
	CHECK_INT(store_blob_unlink(&s, "app", &layer), BERR_BLOB_UNKNOWN);
	store_close(&s);
}

static int page(struct store *s, const char *last, long n, const char *want, int want_more)
{
	char got[512] = "", **v = NULL;
	size_t count = 0, i;
	int more = -1, ok;

	if (store_catalog(s, last, n, &v, &count, &more) != BERR_OK)
		return 0;
	for (i = 0; i < count; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", v[i]);
	store_tag_list_free(v, count);
	ok = strcmp(got, want) == 0 && more == want_more;
	if (!ok)
		fprintf(stderr, "catalog(%s, %ld) = \"%s\" more %d, want \"%s\" more %d\n",
			last ? last : "NULL", n, got, more, want, want_more);
	return ok;
}

static int deny_ab(void *ctx, const char *repo)
{
	(*(int *)ctx)++;
	return strcmp(repo, "a/b") != 0;
}

static int deny_all(void *ctx, const char *repo)
{
	return 0;
}

static void test_catalog(void)
{
	static const char *const repos[] = { "b", "a/b", "a-b", "a", "team/app/api", "team/app" };
	struct digest d, other;
	char out[256], small[3], path[PATH_MAX];
	struct store s;
	size_t i;
	int calls = 0;

	store_fresh(&s);
	CHECK(page(&s, NULL, -1, "", 0));
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "shared", 6, &d), BERR_OK);
	for (i = 0; i < sizeof(repos) / sizeof(repos[0]); i++) {
		struct digest own;

		CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, repos[i], strlen(repos[i]), &own), BERR_OK);
		CHECK_INT(store_blob_link(&s, repos[i], &own), BERR_OK);
	}
	/* things under repos/ that are no repository */
	snprintf(path, sizeof(path), "%s/repos/UPPER/_blobs", s.root);
	CHECK_INT(fs_mkdir_p(path), BERR_OK);
	snprintf(path, sizeof(path), "%s/repos/.hidden/_blobs", s.root);
	CHECK_INT(fs_mkdir_p(path), BERR_OK);
	snprintf(path, sizeof(path), "%s/repos/a/_referrers/x/_blobs", s.root);
	CHECK_INT(fs_mkdir_p(path), BERR_OK);

	CHECK(page(&s, NULL, -1, "a a-b a/b b team/app team/app/api", 0));
	CHECK(page(&s, NULL, 2, "a a-b", 1));
	CHECK(page(&s, "a-b", 2, "a/b b", 1));
	CHECK(page(&s, "b", 2, "team/app team/app/api", 0));
	CHECK(page(&s, "team/app/api", 2, "", 0));
	CHECK(page(&s, "a/a", -1, "a/b b team/app team/app/api", 0)); /* last need not exist */
	CHECK(page(&s, NULL, 0, "", 1));
	CHECK(page(&s, NULL, 6, "a a-b a/b b team/app team/app/api", 0));

	/* mount search, in catalog order, asking may_pull */
	CHECK_INT(store_blob_link(&s, "b", &d), BERR_OK);
	CHECK_INT(store_blob_link(&s, "a/b", &d), BERR_OK);
	CHECK_INT(store_blob_find_repo(&s, &d, NULL, NULL, out, sizeof(out)), BERR_OK);
	CHECK_STR(out, "a/b");
	CHECK_INT(store_blob_find_repo(&s, &d, deny_ab, &calls, out, sizeof(out)), BERR_OK);
	CHECK_STR(out, "b");
	CHECK_INT(calls, 2);
	CHECK_INT(store_blob_find_repo(&s, &d, deny_all, NULL, out, sizeof(out)), BERR_BLOB_UNKNOWN);
	CHECK(strstr(berr_detail(), d.hex) != NULL);
	CHECK_INT(store_blob_find_repo(&s, &d, NULL, NULL, small, sizeof(small)), BERR_INTERNAL);
	digest_buf(DIGEST_SHA256, "nowhere", 7, &other);
	CHECK_INT(store_blob_find_repo(&s, &other, NULL, NULL, out, sizeof(out)), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "unlinked", 8, &other), BERR_OK);
	CHECK_INT(store_blob_find_repo(&s, &other, NULL, NULL, out, sizeof(out)), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_unlink(&s, "a/b", &d), BERR_OK);
	CHECK_INT(store_blob_find_repo(&s, &d, NULL, NULL, out, sizeof(out)), BERR_OK);
	CHECK_STR(out, "b");
	store_close(&s);
}

static int wait_ok(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A writer sets many tags on a manifest while it is deleted: afterwards no
 * tag file may name it (each side writes first and checks second). */
#define ROUNDS 20
static void test_race_tag_set_delete(void)
{
	char dir[PATH_MAX / 2], **tags = NULL, tag[16];
	struct digest m, got;
	struct store s;
	struct kinds k;
	size_t n = 0, i;
	int round, more, stale = 0;
	pid_t pid;

	store_fresh(&s);
	for (round = 0; round < ROUNDS; round++) {
		char salt[16];

		snprintf(salt, sizeof(salt), "r%d", round);
		CHECK_INT(push_image(&s, "app", salt, NULL, &m), BERR_OK);
		pid = fork();
		if (pid == 0) {
			for (i = 0; i < 40; i++) {
				snprintf(tag, sizeof(tag), "r%d-%zu", round, i);
				store_tag_set(&s, "app", tag, &m); /* may fail: deleted */
			}
			_exit(0);
		}
		usleep((useconds_t)(round * 300));
		CHECK_INT(store_manifest_delete(&s, "app", &m, 0), BERR_OK);
		CHECK(wait_ok(pid));
	}
	snprintf(dir, sizeof(dir), "%s/repos/app/_tags", s.root);
	if (fs_exists(dir)) {
		CHECK_INT(store_tag_list(&s, "app", NULL, -1, &tags, &n, &more), BERR_OK);
		for (i = 0; i < n; i++)
			if (store_tag_resolve(&s, "app", tags[i], &got) != BERR_OK)
				stale++;
		store_tag_list_free(tags, n);
	}
	CHECK_INT(n, 0);
	CHECK_INT(stale, 0);
	CHECK_INT(fsck_problems(&s, &k), 0);
	CHECK(strstr(k.seen, "stale-tag") == NULL);
	store_close(&s);
}

/* An index is pushed over a child while the child is deleted: never may the
 * index end up linked with the child gone. */
static void test_race_index_delete(void)
{
	struct digest kid, idx;
	struct store s;
	struct kinds k;
	char doc[512];
	int round, both = 0, broken = 0, idx_ok, kid_ok;
	pid_t pid;

	store_fresh(&s);
	for (round = 0; round < ROUNDS; round++) {
		char salt[16];

		snprintf(salt, sizeof(salt), "k%d", round);
		CHECK_INT(push_image(&s, "app", salt, NULL, &kid), BERR_OK);
		pid = fork();
		if (pid == 0)
			_exit(push_index(&s, "app", &kid, 1, NULL, &idx) == BERR_OK ? 0 : 1);
		usleep((useconds_t)(round * 200));
		store_manifest_delete(&s, "app", &kid, 0);
		waitpid(pid, NULL, 0);
		kid_ok = store_manifest_linked(&s, "app", &kid, NULL, 0) == BERR_OK;
		index_doc(doc, sizeof(doc), &kid, 1);
		digest_buf(DIGEST_SHA256, doc, strlen(doc), &idx);
		idx_ok = store_manifest_linked(&s, "app", &idx, NULL, 0) == BERR_OK;
		if (idx_ok && !kid_ok)
			broken++;
		if (idx_ok && kid_ok)
			both++;
	}
	CHECK_INT(broken, 0);
	if (getenv("BERTH_VERBOSE"))
		printf("index/child race: %d of %d rounds kept both\n", both, ROUNDS);
	CHECK_INT(fsck_problems(&s, &k), 0);
	store_close(&s);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/berth-delete-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_manifest_delete_tags();
	test_index_children();
	test_tag_delete_and_unlink();
	test_catalog();
	test_race_tag_set_delete();
	test_race_index_delete();
	fs_remove_tree(base);
	return unit_done();
}
