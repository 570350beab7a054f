/*
 * test_store.c - blobs, links, manifests and tags in store/ (uploads are in
 * test_store_upload.c).  Each case runs on a fresh store in a mkdtemp
 * directory; concurrent cases fork real writers.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"



static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int path_exists(struct store *s, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", s->root, rel);
	return fs_exists(p);
}

static void test_blob_put_read(void)
{
	struct store s;
	struct digest d, want;
	char path[PATH_MAX], rel[PATH_MAX], *buf = NULL, dstr[DIGEST_STR_MAX];
	struct stat st;
	int64_t size = -1;
	size_t len = 0;

	store_fresh(&s);
	digest_buf(DIGEST_SHA256, "hello", 5, &want);
	CHECK_INT(store_blob_stat(&s, &want, &size), BERR_BLOB_UNKNOWN);
	CHECK(strstr(berr_detail(), digest_format(&want, dstr)) != NULL);
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "hello", 5, &d), BERR_OK);
	CHECK(digest_equal(&d, &want));
	CHECK_INT(store_blob_stat(&s, &d, &size), BERR_OK);
	CHECK_INT(size, 5);
	CHECK_INT(store_blob_read(&s, &d, 100, &buf, &len), BERR_OK);
	CHECK_INT(len, 5);
	CHECK(buf && memcmp(buf, "hello", 5) == 0);
	free(buf);
	CHECK_INT(store_blob_read(&s, &d, 4, &buf, &len), BERR_TOO_LARGE);
	CHECK(buf == NULL);

	store_blob_relpath(&d, rel, sizeof(rel));
	snprintf(path, sizeof(path), "sha256/%.2s/%s", d.hex, d.hex);
	CHECK_STR(rel, path);
	CHECK_INT(store_blob_path(&s, &d, path, sizeof(path)), BERR_OK);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);
	*strrchr(path, '/') = '\0';
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755);

	/* the same bytes again: success, nothing left behind */
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "hello", 5, &d), BERR_OK);
	CHECK(digest_equal(&d, &want));
	snprintf(path, sizeof(path), "%s/tmp", s.root);
	CHECK_INT(count_entries(path), 0);

	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA512, "hello", 5, &d), BERR_OK);
	CHECK_INT(d.alg, DIGEST_SHA512);
	CHECK_INT(store_blob_stat(&s, &d, &size), BERR_OK);

	d.hex[3] = '/';
	CHECK_INT(store_blob_stat(&s, &d, &size), BERR_DIGEST_INVALID);
	store_close(&s);
}

static void test_links(void)
{
	struct store s;
	struct digest d, absent;
	char path[PATH_MAX];

	store_fresh(&s);
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "layer", 5, &d), BERR_OK);
	digest_buf(DIGEST_SHA256, "nope", 4, &absent);
	CHECK(!store_repo_exists(&s, "team/app"));
	CHECK_INT(store_blob_linked(&s, "team/app", &d), BERR_BLOB_UNKNOWN);
	CHECK(strstr(berr_detail(), "team/app") != NULL);
	CHECK_INT(store_blob_link(&s, "team/app", &absent), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_link(&s, "team/app", &d), BERR_OK);
	CHECK_INT(store_blob_link(&s, "team/app", &d), BERR_OK);
	CHECK(store_repo_exists(&s, "team/app"));
	CHECK(!store_repo_exists(&s, "team"));
	CHECK_INT(store_blob_linked(&s, "team/app", &d), BERR_OK);
	CHECK_INT(store_blob_linked(&s, "team", &d), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_linked(&s, "team/app/api", &d), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_linked(&s, "../x", &d), BERR_NAME_INVALID);
	CHECK_INT(store_blob_linked(&s, "team/_blobs", &d), BERR_NAME_INVALID);

	/* a link whose blob has gone does not count */
	CHECK_INT(store_blob_path(&s, &d, path, sizeof(path)), BERR_OK);
	CHECK(unlink(path) == 0);
	CHECK_INT(store_blob_linked(&s, "team/app", &d), BERR_BLOB_UNKNOWN);
	store_close(&s);
}

/* A manifest with one config and `nlayers` layers. */
static void manifest_make(struct manifest *m, struct manifest_ref *refs,
			  const struct digest *cfg, const struct digest *layers, size_t nlayers)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	memset(refs, 0, sizeof(*refs) * (nlayers + 1));
	m->type = MT_OCI_MANIFEST;
	m->refs = refs;
	m->nrefs = nlayers + 1;
	refs[0].kind = MREF_CONFIG;
	refs[0].digest = *cfg;
	for (i = 0; i < nlayers; i++) {
		refs[i + 1].kind = MREF_LAYER;
		refs[i + 1].digest = layers[i];
	}
}

static void put_linked_blob(struct store *s, const char *name, const char *bytes,
			    struct digest *d)
{
	CHECK_INT(store_blob_put_buf(s, DIGEST_SHA256, bytes, strlen(bytes), d), BERR_OK);
	CHECK_INT(store_blob_link(s, name, d), BERR_OK);
}

static void test_manifest_put(void)
{
	static const char body[] = "{\"schemaVersion\":2}";
	struct manifest_ref refs[3];
	struct manifest m;
	struct store s;
	struct digest cfg, layers[2], md, want, got, t;
	char mt[128], path[PATH_MAX];

	store_fresh(&s);
	put_linked_blob(&s, "app", "config", &cfg);
	put_linked_blob(&s, "app", "layer0", &layers[0]);
	CHECK_INT(store_blob_put_buf(&s, DIGEST_SHA256, "layer1", 6, &layers[1]), BERR_OK);
	manifest_make(&m, refs, &cfg, layers, 2);
	digest_buf(DIGEST_SHA256, body, strlen(body), &want);

	/* layer 1 exists in the store but not in "app": refused, nothing written */
	CHECK_INT(store_manifest_put(&s, "app", &m, MT_OCI_MANIFEST_S, body, strlen(body),
				     NULL, "v1", &md), BERR_MANIFEST_BLOB_UNKNOWN);
	CHECK(strstr(berr_detail(), layers[1].hex) != NULL);
	CHECK_INT(store_blob_stat(&s, &want, NULL), BERR_BLOB_UNKNOWN);
	CHECK(!path_exists(&s, "repos/app/_manifests"));
	CHECK(!path_exists(&s, "repos/app/_tags"));

	/* external layers are not required */
	refs[2].external = 1;
	CHECK_INT(store_manifest_put(&s, "app", &m, MT_OCI_MANIFEST_S, body, strlen(body),
				     NULL, "v1", &md), BERR_OK);
	CHECK(digest_equal(&md, &want));
	refs[2].external = 0;
	CHECK_INT(store_blob_link(&s, "app", &layers[1]), BERR_OK);

	/* a wrong digest stores nothing */
	digest_buf(DIGEST_SHA256, "other", 5, &got);
	CHECK_INT(store_manifest_put(&s, "app", &m, MT_OCI_MANIFEST_S, "other!", 6,
				     &got, NULL, &md), BERR_DIGEST_INVALID);
	CHECK(strstr(berr_detail(), "does not match") != NULL);
	digest_buf(DIGEST_SHA256, "other!", 6, &t);
	CHECK_INT(store_blob_stat(&s, &t, NULL), BERR_BLOB_UNKNOWN);

	/* by digest, sha512 */
	digest_buf(DIGEST_SHA512, body, strlen(body), &t);
	CHECK_INT(store_manifest_put(&s, "app", &m, MT_OCI_MANIFEST_S, body, strlen(body),
				     &t, NULL, &md), BERR_OK);
	CHECK(digest_equal(&md, &t));
	CHECK_INT(store_manifest_linked(&s, "app", &t, mt, sizeof(mt)), BERR_OK);
	CHECK_STR(mt, MT_OCI_MANIFEST_S);

	CHECK_INT(store_manifest_linked(&s, "app", &want, mt, sizeof(mt)), BERR_OK);
	CHECK_STR(mt, MT_OCI_MANIFEST_S);
	CHECK_INT(store_manifest_linked(&s, "other", &want, mt, sizeof(mt)), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_resolve(&s, "app", "v1", &got), BERR_OK);
	CHECK(digest_equal(&got, &want));
	snprintf(path, sizeof(path), "%s/repos/app/_tags/v1", s.root);
	{
		char line[200];
		CHECK_INT(fs_read_str(path, line, sizeof(line), NULL, BERR_BLOB_UNKNOWN), BERR_OK);
		CHECK(strncmp(line, "sha256:", 7) == 0 && strchr(line, '\n') != NULL);
	}
	store_close(&s);
}

static void test_index_refs(void)
{
	static const char child[] = "{\"child\":1}", index[] = "{\"index\":1}";
	struct manifest_ref refs[2], cref[1];
	struct manifest m, cm;
	struct store s;
	struct digest cfg, cd, id;

	store_fresh(&s);
	put_linked_blob(&s, "app", "cfg", &cfg);
	manifest_make(&cm, cref, &cfg, NULL, 0);
	digest_buf(DIGEST_SHA256, child, strlen(child), &cd);
	memset(&m, 0, sizeof(m));
	memset(refs, 0, sizeof(refs));
	m.type = MT_OCI_INDEX;
	m.refs = refs;
	m.nrefs = 1;
	refs[0].kind = MREF_MANIFEST;
	refs[0].digest = cd;
	CHECK_INT(store_manifest_put(&s, "app", &m, MT_OCI_INDEX_S, index, strlen(index),
				     NULL, "multi", &id), BERR_MANIFEST_BLOB_UNKNOWN);
	/* a blob with the child's digest is not a manifest of the repository */
	put_linked_blob(&s, "app", child, &cd);
	CHECK_INT(store_manifest_put(&s, "app", &m, MT_OCI_INDEX_S, index, strlen(index),
				     NULL, "multi", &id), BERR_MANIFEST_BLOB_UNKNOWN);
	CHECK_INT(store_manifest_put(&s, "app", &cm, MT_OCI_MANIFEST_S, child, strlen(child),
				     NULL, NULL, &cd), BERR_OK);
	CHECK_INT(store_manifest_put(&s, "app", &m, MT_OCI_INDEX_S, index, strlen(index),
				     NULL, "multi", &id), BERR_OK);
	CHECK_INT(store_tag_resolve(&s, "app", "multi", &cd), BERR_OK);
	CHECK(digest_equal(&cd, &id));
	store_close(&s);
}

static void test_tags(void)
{
	struct manifest_ref refs[1];
	struct manifest m;
	struct store s;
	struct digest cfg, a, b, got, stray;
	char path[PATH_MAX], line[DIGEST_STR_MAX + 1];
	FILE *f;

	store_fresh(&s);
	put_linked_blob(&s, "app", "cfg", &cfg);
	manifest_make(&m, refs, &cfg, NULL, 0);
	CHECK_INT(store_manifest_put(&s, "app", &m, NULL, "{\"a\":1}", 7, NULL, NULL, &a), BERR_OK);
	CHECK_INT(store_manifest_put(&s, "app", &m, NULL, "{\"b\":1}", 7, NULL, NULL, &b), BERR_OK);
	CHECK_INT(store_tag_resolve(&s, "app", "latest", &got), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_set(&s, "app", "latest", &a), BERR_OK);
	CHECK_INT(store_tag_resolve(&s, "app", "latest", &got), BERR_OK);
	CHECK(digest_equal(&got, &a));
	CHECK_INT(store_tag_set(&s, "app", "latest", &b), BERR_OK);
	CHECK_INT(store_tag_resolve(&s, "app", "latest", &got), BERR_OK);
	CHECK(digest_equal(&got, &b));
	CHECK_INT(store_tag_set(&s, "app", "../x", &b), BERR_MANIFEST_INVALID);
	CHECK_INT(store_tag_set(&s, "app", "UPPER_ok.1-x", &b), BERR_OK);

	/* never point a tag at a manifest the repository does not have */
	digest_buf(DIGEST_SHA256, "stray", 5, &stray);
	CHECK_INT(store_tag_set(&s, "app", "latest", &stray), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_set(&s, "other", "latest", &a), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_tag_resolve(&s, "app", "latest", &got), BERR_OK);
	CHECK(digest_equal(&got, &b));

	/* a tag file naming an unlinked manifest (say, after a crash or a gc) */
	snprintf(path, sizeof(path), "%s/repos/app/_tags/dangling", s.root);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fprintf(f, "%s\n", digest_format(&stray, line));
		fclose(f);
	}
	CHECK_INT(store_tag_resolve(&s, "app", "dangling", &got), BERR_MANIFEST_UNKNOWN);
	/* ... or whose manifest bytes are gone */
	CHECK_INT(store_blob_path(&s, &b, path, sizeof(path)), BERR_OK);
	CHECK(unlink(path) == 0);
	CHECK_INT(store_tag_resolve(&s, "app", "latest", &got), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_manifest_linked(&s, "app", &b, NULL, 0), BERR_MANIFEST_UNKNOWN);
	store_close(&s);
}

static int wait_ok(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Two processes publish the same blobs at the same time: 40 rounds, each
 * with new bytes, so both race on the same publish every round. */
#define ROUNDS 40
static char big[128 * 1024];

static void big_fill(int round)
{
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251 + (size_t)round * 13);
}

static void test_concurrent_blob(void)
{
	struct store s;
	struct digest want, d;
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	pid_t pid[2];
	int i, k, good = 0;

	store_fresh(&s);
	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		if (pid[k] == 0) {
			int bad = 0;

			for (i = 0; i < ROUNDS; i++) {
				big_fill(i);
				if (store_blob_put_buf(&s, DIGEST_SHA256, big, sizeof(big), &d) ||
				    store_blob_link(&s, "app", &d))
					bad++;
			}
			_exit(bad ? 1 : 0);
		}
	}
	CHECK(wait_ok(pid[0]));
	CHECK(wait_ok(pid[1]));
	for (i = 0; i < ROUNDS; i++) {
		big_fill(i);
		digest_buf(DIGEST_SHA256, big, sizeof(big), &want);
		if (store_blob_linked(&s, "app", &want) == BERR_OK &&
		    store_blob_read(&s, &want, sizeof(big), &buf, &len) == BERR_OK &&
		    len == sizeof(big) && memcmp(buf, big, len) == 0)
			good++;
		free(buf);
		buf = NULL;
	}
	CHECK_INT(good, ROUNDS);
	snprintf(path, sizeof(path), "%s/tmp", s.root);
	CHECK_INT(count_entries(path), 0);
	store_close(&s);
}

/* Two processes set the same tag to different manifests at once; readers
 * always see one of the two, whole, and so does the end result. */
static void test_concurrent_tag(void)
{
	struct manifest_ref refs[1];
	struct manifest m;
	struct store s;
	struct digest cfg, md[2], got;
	pid_t pid[2];
	int i, k, seen_bad = 0, seen[2] = { 0, 0 };

	store_fresh(&s);
	put_linked_blob(&s, "team/app", "cfg", &cfg);
	manifest_make(&m, refs, &cfg, NULL, 0);
	CHECK_INT(store_manifest_put(&s, "team/app", &m, NULL, "{\"x\":0}", 7, NULL, "t", &md[0]), BERR_OK);
	CHECK_INT(store_manifest_put(&s, "team/app", &m, NULL, "{\"x\":1}", 7, NULL, NULL, &md[1]), BERR_OK);
	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		if (pid[k] == 0) {
			int bad = 0;

			for (i = 0; i < 150; i++)
				if (store_tag_set(&s, "team/app", "t", &md[k]) != BERR_OK)
					bad++;
			_exit(bad ? 1 : 0);
		}
	}
	for (i = 0; i < 300; i++) {
		if (store_tag_resolve(&s, "team/app", "t", &got) != BERR_OK)
			seen_bad++;
		else if (digest_equal(&got, &md[0]))
			seen[0]++;
		else if (digest_equal(&got, &md[1]))
			seen[1]++;
		else
			seen_bad++;
	}
	CHECK(wait_ok(pid[0]));
	CHECK(wait_ok(pid[1]));
	CHECK_INT(seen_bad, 0);
	CHECK_INT(seen[0] + seen[1], 300);
	CHECK_INT(store_tag_resolve(&s, "team/app", "t", &got), BERR_OK);
	CHECK(digest_equal(&got, &md[0]) || digest_equal(&got, &md[1]));
	store_close(&s);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/berth-store-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_blob_put_read();
	test_links();
	test_manifest_put();
	test_index_refs();
	test_tags();
	test_concurrent_blob();
	test_concurrent_tag();
	fs_remove_tree(base);
	return unit_done();
}
