/*
 * test_store_surgery.c - store/layout.c (every path builder, the table of a
 * repository's directories, names back to digests, all without noise in the
 * error context) and the store's surgery for berthctl: removing a whole
 * repository, quarantining a blob or a stray file, removing a dangling
 * manifest link, each checked with fsck's typed problem records.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/fsck.h"
#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void expect_path(enum berr rc, const char *got, const char *root, const char *rel)
{
	char want[PATH_MAX];

	snprintf(want, sizeof(want), "%s/%s", root, rel);
	CHECK_INT(rc, BERR_OK);
	CHECK_STR(got, want);
}

static void test_layout_paths(void)
{
	struct digest a, b;
	char p[PATH_MAX], tag[129];
	struct store s;

	store_fresh(&s);
	CHECK_INT(digest_parse(&a, "sha256:" HEX_A), BERR_OK);
	CHECK_INT(digest_parse(&b, "sha256:" HEX_B), BERR_OK);
	expect_path(layout_blob(&s, &a, p, sizeof(p)), p, s.root, "blobs/sha256/aa/" HEX_A);
	layout_blob_rel(&a, p, sizeof(p));
	CHECK_STR(p, "sha256/aa/" HEX_A);
	expect_path(layout_repo(&s, "team/app", p, sizeof(p)), p, s.root, "repos/team/app");
	expect_path(layout_repo_sub(&s, "app", LAYOUT_LOCKS, p, sizeof(p)), p, s.root,
		    "repos/app/_locks");
	expect_path(layout_alg_dir(&s, "app", LAYOUT_BLOBS, DIGEST_SHA512, p, sizeof(p)), p,
		    s.root, "repos/app/_blobs/sha512");
	expect_path(layout_link(&s, "app", LAYOUT_MANIFESTS, &a, p, sizeof(p)), p, s.root,
		    "repos/app/_manifests/sha256/" HEX_A);
	expect_path(layout_entry(&s, "app", LAYOUT_REFERRERS, &a, &b, p, sizeof(p)), p, s.root,
		    "repos/app/_referrers/sha256/" HEX_A "/sha256-" HEX_B);
	expect_path(layout_entry(&s, "app", LAYOUT_PARENTS, &a, NULL, p, sizeof(p)), p, s.root,
		    "repos/app/_parents/sha256/" HEX_A);
	expect_path(layout_tag(&s, "app", "v1.0", p, sizeof(p)), p, s.root, "repos/app/_tags/v1.0");
	expect_path(layout_lock(&s, "app", NULL, NULL, p, sizeof(p)), p, s.root,
		    "repos/app/_locks/repo");
	expect_path(layout_lock(&s, "app", "v1", NULL, p, sizeof(p)), p, s.root,
		    "repos/app/_locks/tag-v1");
	expect_path(layout_lock(&s, "app", NULL, &a, p, sizeof(p)), p, s.root,
		    "repos/app/_locks/sha256-" HEX_A);
	expect_path(layout_upload(&s, "0f8fad5b-d9cb-469f-a165-70867728950e", LAYOUT_UPLOAD_LOCK,
				  p, sizeof(p)), p, s.root,
		    "uploads/0f8fad5b-d9cb-469f-a165-70867728950e/lock");
	expect_path(layout_tmp(&s, "dead.repo", "01ab", p, sizeof(p)), p, s.root,
		    "tmp/dead.repo.01ab");
	expect_path(layout_gc(&s, LAYOUT_GC_TRASH, p, sizeof(p)), p, s.root, "gc/trash");
	expect_path(layout_quarantine(&s, "sha256-" HEX_A, "x1", p, sizeof(p)), p, s.root,
		    "quarantine/sha256-" HEX_A ".x1");

	/* Nothing unchecked becomes a path. */
	CHECK_INT(layout_repo(&s, "../etc", p, sizeof(p)), BERR_NAME_INVALID);
	CHECK_INT(layout_repo(&s, "_blobs", p, sizeof(p)), BERR_NAME_INVALID);
	CHECK_INT(layout_tag(&s, "app", "../x", p, sizeof(p)), BERR_MANIFEST_INVALID);
	CHECK_INT(layout_lock(&s, "app", ".x", NULL, p, sizeof(p)), BERR_MANIFEST_INVALID);
	b.hex[0] = 'B';
	CHECK_INT(layout_link(&s, "app", LAYOUT_BLOBS, &b, p, sizeof(p)), BERR_DIGEST_INVALID);
	CHECK_INT(layout_blob(&s, &b, p, sizeof(p)), BERR_DIGEST_INVALID);
	CHECK_STR(p, "");
	CHECK_INT(layout_upload(&s, "../../x", LAYOUT_UPLOAD_DIR, p, sizeof(p)),
		  BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(layout_quarantine(&s, "../x", "1", p, sizeof(p)), BERR_INTERNAL);
	CHECK_INT(layout_link(&s, "app", LAYOUT_BLOBS, &a, p, 20), BERR_INTERNAL); /* cut short */

	/* Listings back to digests, and lock file names. */
	CHECK_INT(layout_entry_digest("sha256-" HEX_A, &b), 0);
	CHECK(digest_equal(&a, &b));
	CHECK_INT(layout_entry_name(&a, p, sizeof(p)), BERR_OK);
	CHECK_STR(p, "sha256-" HEX_A);
	CHECK_INT(layout_link_digest("sha256", HEX_A, &b), 0);
	CHECK(digest_equal(&a, &b));
	CHECK_INT(layout_lock_name("tag-v2", tag, sizeof(tag), &b), 0);
	CHECK_STR(tag, "v2");
	CHECK_INT(layout_lock_name("repo", tag, sizeof(tag), &b), 0);
	CHECK(tag[0] == '\0' && b.alg == DIGEST_NONE);
	store_close(&s);
}

/* Probes over listings say "no" without touching the caller's error. */
static void test_layout_silent(void)
{
	struct digest d;
	char tag[129];

	berr_set(BERR_DENIED, "the caller's own failure");
	CHECK_INT(layout_entry_digest(".gc.sha256-" HEX_A, &d), -1);
	CHECK_INT(layout_entry_digest("sha256-xyz", &d), -1);
	CHECK_INT(layout_entry_digest("sha256:" HEX_A, &d), -1);
	CHECK_INT(layout_link_digest("sha256", ".tmp.1234", &d), -1);
	CHECK_INT(layout_link_digest("md5", HEX_A, &d), -1);
	CHECK_INT(layout_lock_name("tag-.bad", tag, sizeof(tag), &d), -1);
	CHECK(!layout_is_tag("-x") && !layout_is_name("A/b") && layout_is_name("a/b"));
	CHECK_STR(berr_detail_for(BERR_DENIED), "the caller's own failure");
}

/* Each user of the table picks its rows by flag. */
static void test_layout_table(void)
{
	char links[128] = "", named[128] = "", entries[128] = "", content[128] = "";
	size_t i;

	for (i = 0; i < LAYOUT_SUB_COUNT; i++) {
		if (layout_subs[i].flags & LAYOUT_LINKS)
			strcat(links, layout_subs[i].dir);
		if (layout_subs[i].flags & LAYOUT_NAMED)
			strcat(named, layout_subs[i].dir);
		if (layout_subs[i].flags & LAYOUT_ENTRIES)
			strcat(entries, layout_subs[i].dir);
		if (layout_subs[i].flags & LAYOUT_CONTENT)
			strcat(content, layout_subs[i].dir);
	}
	CHECK_STR(links, "_manifests_blobs");
	CHECK_STR(named, "_tags_manifests_blobs");
	CHECK_STR(entries, "_referrers_parents");
	CHECK_STR(content, "_tags_manifests_referrers_parents_blobs");
	CHECK_STR(layout_subs[LAYOUT_SUB_COUNT - 1].dir, "_locks"); /* removed last */
}

/* An image whose config is linked first; `salt` tells images apart. */
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

static int dir_empty(const char *dir)
{
	char cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", dir);
	return system(cmd) == 0;
}

static void test_repo_remove(void)
{
	struct store_repo_counts c;
	struct store_lock l = { .flags = STORE_LOCK_NO_DELETE };
	struct digest m1, m2, nested;
	char p[PATH_MAX], **names = NULL;
	size_t n = 0;
	struct store s;
	int more;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "team/app", "1", "v1", &m1), BERR_OK);
	CHECK_INT(push_image(&s, "team/app", "2", "v2", &m2), BERR_OK);
	CHECK_INT(store_tag_set(&s, "team/app", "latest", &m2), BERR_OK);
	CHECK_INT(push_image(&s, "team/app/api", "3", "v1", &nested), BERR_OK);
	snprintf(l.name, sizeof(l.name), "team/app");
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);

	CHECK_INT(store_repo_count(&s, "team/app", &c), BERR_OK);
	CHECK_INT(c.tags, 3);
	CHECK_INT(c.manifests, 2);
	CHECK_INT(c.blob_links, 1);
	CHECK_INT(c.locks, 1);
	memset(&c, 0xff, sizeof(c));
	CHECK_INT(store_repo_remove(&s, "team/app", &c), BERR_OK);
	CHECK_INT(c.tags, 3);
	CHECK_INT(c.locks, 1);
	CHECK(!store_repo_exists(&s, "team/app"));
	CHECK_INT(store_manifest_linked(&s, "team/app", &m1, NULL, 0), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_resolve(&s, "team/app", "latest", &m1), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_lock_any(&s, "team/app"), 0);
	/* the nested repository and the blobs stay; nothing is left in tmp/ */
	CHECK_INT(store_tag_resolve(&s, "team/app/api", "v1", &m1), BERR_OK);
	CHECK_INT(store_blob_stat(&s, &m2, NULL), BERR_OK);
	CHECK_INT(store_catalog(&s, NULL, -1, &names, &n, &more), BERR_OK);
	CHECK(n == 1 && strcmp(names[0], "team/app/api") == 0);
	store_tag_list_free(names, n);
	CHECK_INT(layout_tmp_dir(&s, p, sizeof(p)), BERR_OK);
	CHECK(dir_empty(p));

	/* the last repository under "team": its parents go too */
	CHECK_INT(store_repo_remove(&s, "team/app/api", NULL), BERR_OK);
	CHECK_INT(layout_repos_dir(&s, p, sizeof(p)), BERR_OK);
	CHECK(dir_empty(p));
	CHECK_INT(store_repo_remove(&s, "team/app/api", NULL), BERR_NAME_UNKNOWN);
	CHECK(strstr(berr_detail(), "team/app/api") != NULL);
	CHECK_INT(store_repo_remove(&s, "../x", NULL), BERR_NAME_UNKNOWN);
	store_close(&s);
}

/* fsck's records for one store, as "kind object" lines. */
struct seen {
	char text[2048];
	struct fsck_problem last;
	char last_repo[256], last_tag[129], last_path[PATH_MAX];
};

static void on_problem(void *ctx, const struct fsck_problem *p)
{
	struct seen *w = ctx;
	char obj[PATH_MAX + 64];
	size_t n = strlen(w->text);

	snprintf(w->text + n, sizeof(w->text) - n, "%s %s\n", fsck_kind_name(p->kind),
		 fsck_problem_object(p, obj, sizeof(obj)));
	w->last = *p;
	snprintf(w->last_repo, sizeof(w->last_repo), "%s", p->repo);
	snprintf(w->last_tag, sizeof(w->last_tag), "%s", p->tag);
	snprintf(w->last_path, sizeof(w->last_path), "%s", p->path);
}

static long fsck(struct store *s, struct seen *w)
{
	struct fsck_counts c;

	memset(w, 0, sizeof(*w));
	berr_set(BERR_DENIED, "outside");
	CHECK_INT(store_fsck(s, 1, on_problem, w, &c), BERR_OK);
	CHECK_STR(berr_detail_for(BERR_DENIED), "outside"); /* its probes stay inside */
	return c.problems;
}

static void test_manifest_unlink(void)
{
	char p[PATH_MAX], want[256], ds[DIGEST_STR_MAX];
	struct digest m;
	struct seen w;
	struct store s;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "1", NULL, &m), BERR_OK);
	CHECK_INT(fsck(&s, &w), 0);
	CHECK_INT(layout_blob(&s, &m, p, sizeof(p)), BERR_OK);
	CHECK_INT(unlink(p), 0); /* the manifest's bytes are gone */
	CHECK_INT(fsck(&s, &w), 1);
	snprintf(want, sizeof(want), "dangling-manifest-link app@%s\n", digest_format(&m, ds));
	CHECK_STR(w.text, want);
	CHECK_INT(w.last.kind, FSCK_DANGLING_MANIFEST_LINK);
	CHECK_STR(w.last_repo, "app");
	CHECK(digest_equal(&w.last.digest, &m));
	CHECK_INT(store_manifest_unlink(&s, "app", &m), BERR_OK);
	CHECK_INT(layout_link(&s, "app", LAYOUT_MANIFESTS, &m, p, sizeof(p)), BERR_OK);
	CHECK(!fs_exists(p));
	CHECK_INT(fsck(&s, &w), 0);
	CHECK_INT(store_manifest_unlink(&s, "app", &m), BERR_MANIFEST_UNKNOWN);
	store_close(&s);
}

static void test_quarantine(void)
{
	char p[PATH_MAX], to[PATH_MAX], stray[PATH_MAX], buf[16] = "", want[256];
	struct digest d;
	struct seen w;
	struct store s;
	int fd;

	store_fresh(&s);
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "layer", 5, &d), BERR_OK);
	CHECK_INT(layout_blob(&s, &d, p, sizeof(p)), BERR_OK);
	CHECK_INT(chmod(p, 0644), 0);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK(fd >= 0 && write(fd, "LAYER", 5) == 5);
	close(fd);
	CHECK_INT(fsck(&s, &w), 1);
	CHECK_INT(w.last.kind, FSCK_CORRUPT_BLOB);
	CHECK(digest_equal(&w.last.digest, &d) && w.last_repo[0] == '\0');
	CHECK_INT(store_blob_quarantine(&s, &d, to, sizeof(to)), BERR_OK);
	CHECK_INT(layout_quarantine_dir(&s, want, sizeof(want)), BERR_OK);
	CHECK(strncmp(to, want, strlen(want)) == 0 && strstr(to, "/sha256-") != NULL);
	CHECK(!fs_exists(p));
	fd = open(to, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && memcmp(buf, "LAYER", 5) == 0);
	close(fd);
	CHECK_INT(store_blob_quarantine(&s, &d, to, sizeof(to)), BERR_INTERNAL); /* gone */

	/* a file in blobs/ that is no blob: reported by path, moved by path */
	CHECK_INT(layout_blob_alg_dir(&s, DIGEST_SHA256, stray, sizeof(stray)), BERR_OK);
	strcat(stray, "/zz");
	CHECK_INT(fs_mkdir_p(stray), BERR_OK);
	strcat(stray, "/not-a-blob");
	fd = open(stray, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(fsck(&s, &w), 1);
	snprintf(want, sizeof(want), "misplaced-blob %s\n", stray);
	CHECK_STR(w.text, want);
	CHECK_STR(w.last_path, stray);
	CHECK_INT(store_stray_quarantine(&s, w.last_path, to, sizeof(to)), BERR_OK);
	CHECK(!fs_exists(stray) && fs_exists(to) && strstr(to, "/not-a-blob.") != NULL);
	CHECK_INT(fsck(&s, &w), 0);
	/* nothing outside the blob area */
	CHECK_INT(layout_repos_dir(&s, p, sizeof(p)), BERR_OK);
	CHECK_INT(store_stray_quarantine(&s, p, to, sizeof(to)), BERR_INTERNAL);
	CHECK_INT(layout_blobs_dir(&s, p, sizeof(p)), BERR_OK);
	strcat(p, "/../tmp");
	CHECK_INT(store_stray_quarantine(&s, p, to, sizeof(to)), BERR_INTERNAL);
	CHECK(fs_exists(p));
	store_close(&s);
}

/* A tag naming an unlinked manifest is a record of its own, not counted. */
static void test_fsck_records(void)
{
	struct fsck_problem p = { .kind = FSCK_STALE_TAG, .repo = "app", .tag = "v1",
				  .path = "", .detail = "" };
	char obj[128], path[PATH_MAX];
	struct digest m;
	struct seen w;
	struct store s;

	CHECK_STR(fsck_problem_object(&p, obj, sizeof(obj)), "app:v1");
	CHECK_STR(fsck_kind_name(FSCK_MISSING_PARENT_ENTRY), "missing-parent-entry");
	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "1", "v1", &m), BERR_OK);
	CHECK_INT(layout_link(&s, "app", LAYOUT_MANIFESTS, &m, path, sizeof(path)), BERR_OK);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(fsck(&s, &w), 0);
	CHECK_STR(w.text, "stale-tag app:v1\n");
	CHECK_INT(w.last.kind, FSCK_STALE_TAG);
	CHECK_STR(w.last_tag, "v1");
	store_close(&s);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/berth-surgery-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_layout_paths();
	test_layout_silent();
	test_layout_table();
	test_repo_remove();
	test_manifest_unlink();
	test_quarantine();
	test_fsck_records();
	fs_remove_tree(base);
	return unit_done();
}
