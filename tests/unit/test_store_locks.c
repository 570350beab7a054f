/*
 * test_store_locks.c - store/locks.c: set / get / clear / list, the file
 * replaced atomically (readers see the old lock or the new one, never a
 * mix, and no temporary is left behind), each check with the lock named in
 * the detail, a damaged lock file counting as locked both ways, and the
 * collector's --untagged keeping what a no-delete lock protects.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/gc.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"



/* An image manifest told apart by `salt`, config "{}" linked first. */
static enum berr push_image(struct store *s, const char *name, const char *salt,
			    const char *tag, struct digest *out)
{
	char doc[512], ds[DIGEST_STR_MAX];
	struct digest cfg;
	struct manifest m;
	enum berr rc;

	if (store_blob_put_buf(s, DIGEST_SHA256, "{}", 2, &cfg) || store_blob_link(s, name, &cfg))
		return BERR_INTERNAL;
	snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST_S "\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"%s\",\"size\":2},\"layers\":[],"
		 "\"annotations\":{\"salt\":\"%s\"}}", digest_format(&cfg, ds), salt);
	rc = manifest_parse(&m, NULL, doc, strlen(doc));
	if (rc)
		return rc;
	rc = store_manifest_put(s, name, &m, manifest_type_name(m.type), doc, strlen(doc),
				NULL, tag, out);
	manifest_release(&m);
	return rc;
}

static struct store_lock mk(const char *name, const char *tag, const struct digest *d,
			    unsigned flags, const char *reason)
{
	struct store_lock l;

	memset(&l, 0, sizeof(l));
	snprintf(l.name, sizeof(l.name), "%s", name);
	snprintf(l.tag, sizeof(l.tag), "%s", tag ? tag : "");
	if (d)
		l.digest = *d;
	l.flags = flags;
	l.since = 1795856400; /* 2026-11-28T09:00:00Z */
	snprintf(l.by, sizeof(l.by), "alice");
	snprintf(l.reason, sizeof(l.reason), "%s", reason ? reason : "");
	return l;
}

static int has(const char *hay, const char *needle)
{
	int ok = hay && strstr(hay, needle) != NULL;

	if (!ok)
		fprintf(stderr, "  \"%s\" not in \"%s\"\n", needle, hay ? hay : "(null)");
	return ok;
}

static void test_set_get_clear(void)
{
	struct store_lock l, got;
	struct digest d;
	struct store s;
	char path[PATH_MAX], buf[512];
	int found = -1;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "team/app", "1", "v1", &d), BERR_OK);
	CHECK_INT(store_lock_any(&s, "team/app"), 0);
	CHECK_INT(store_lock_get(&s, "team/app", NULL, NULL, &got, &found), BERR_OK);
	CHECK_INT(found, 0);

	l = mk("team/app", NULL, NULL, STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE, "release freeze");
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	CHECK_INT(store_lock_any(&s, "team/app"), 1);
	CHECK_INT(store_lock_get(&s, "team/app", NULL, NULL, &got, &found), BERR_OK);
	CHECK_INT(found, 1);
	CHECK_INT(got.flags, STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE);
	CHECK_INT(got.since, 1795856400);
	CHECK_STR(got.by, "alice");
	CHECK_STR(got.reason, "release freeze");
	CHECK_STR(got.name, "team/app");
	CHECK_STR(got.tag, "");
	/* the file is readable text, in the documented place */
	snprintf(path, sizeof(path), "%s/repos/team/app/_locks/repo", s.root);
	CHECK_INT(fs_read_str(path, buf, sizeof(buf), NULL, BERR_NAME_UNKNOWN), BERR_OK);
	CHECK_STR(buf, "flags no-write no-delete\nsince 2026-11-28T09:00:00Z\nby alice\n"
		  "reason release freeze\n");
	/* a tag lock and a digest lock live beside it */
	l = mk("team/app", "v1", NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	snprintf(path, sizeof(path), "%s/repos/team/app/_locks/tag-v1", s.root);
	CHECK(fs_exists(path));
	l = mk("team/app", NULL, &d, STORE_LOCK_NO_DELETE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	snprintf(path, sizeof(path), "%s/repos/team/app/_locks/sha256-%s", s.root, d.hex);
	CHECK(fs_exists(path));
	CHECK_INT(store_lock_get(&s, "team/app", NULL, &d, &got, &found), BERR_OK);
	CHECK(found && got.flags == STORE_LOCK_NO_DELETE && digest_equal(&got.digest, &d));
	CHECK_STR(got.reason, "");

	/* clear: once found, then not */
	CHECK_INT(store_lock_clear(&s, "team/app", "v1", NULL, &got, &found), BERR_OK);
	CHECK_INT(found, 1);
	CHECK_INT(got.flags, STORE_LOCK_NO_WRITE);
	CHECK_STR(got.tag, "v1");
	CHECK_INT(store_lock_clear(&s, "team/app", "v1", NULL, NULL, &found), BERR_OK);
	CHECK_INT(found, 0);
	CHECK_INT(store_lock_clear(&s, "other", NULL, NULL, NULL, &found), BERR_OK);
	CHECK_INT(found, 0);

	/* refused: bad names, bad tags, no flags, no-write on a digest */
	l = mk("Bad..Name", NULL, NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_NAME_INVALID);
	l = mk("team/app", "-bad", NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_MANIFEST_INVALID);
	CHECK_INT(store_lock_get(&s, "../../etc", NULL, NULL, &got, &found), BERR_NAME_INVALID);
	l = mk("team/app", NULL, NULL, 0, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_INTERNAL);
	l = mk("team/app", NULL, &d, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_UNSUPPORTED);
	l = mk("team/app", NULL, NULL, STORE_LOCK_NO_WRITE, "two\nlines");
	CHECK_INT(store_lock_set(&s, &l), BERR_MANIFEST_INVALID);
	fs_remove_tree(s.root);
	store_close(&s);
}

static long count_entries(const char *dir)
{
	struct dirent *de;
	long n = 0;
	DIR *dh = opendir(dir);

	if (!dh)
		return -1;
	while ((de = readdir(dh)))
		n += de->d_name[0] != '.';
	closedir(dh);
	return n;
}

/* A reader in another process, looking while the lock is replaced over and
 * over between two contents, sees one of them whole every time. */
static void test_atomic_replace(void)
{
	struct store_lock a, b, got;
	struct store s;
	char dir[PATH_MAX], tmp[PATH_MAX];
	int i, found, status, bad = 0;
	pid_t pid;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "1", "v1", NULL), BERR_OK);
	a = mk("app", "v1", NULL, STORE_LOCK_NO_WRITE, "first reason, rather long to make a torn read "
	       "visible if there were one");
	b = mk("app", "v1", NULL, STORE_LOCK_NO_DELETE, "second");
	CHECK_INT(store_lock_set(&s, &a), BERR_OK);
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 300; i++)
			if (store_lock_set(&s, i % 2 ? &a : &b) != BERR_OK)
				_exit(1);
		_exit(0);
	}
	for (i = 0; i < 3000; i++) {
		if (store_lock_get(&s, "app", "v1", NULL, &got, &found) != BERR_OK || !found) {
			bad++;
			continue;
		}
		if (!((got.flags == a.flags && strcmp(got.reason, a.reason) == 0) ||
		      (got.flags == b.flags && strcmp(got.reason, b.reason) == 0)))
			bad++;
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(bad, 0);
	/* replacing leaves one file and no temporary anywhere */
	CHECK_INT(store_lock_set(&s, &b), BERR_OK);
	CHECK_INT(store_lock_get(&s, "app", "v1", NULL, &got, &found), BERR_OK);
	CHECK(found && got.flags == STORE_LOCK_NO_DELETE);
	snprintf(dir, sizeof(dir), "%s/repos/app/_locks", s.root);
	CHECK_INT(count_entries(dir), 1);
	snprintf(tmp, sizeof(tmp), "%s/tmp", s.root);
	CHECK_INT(count_entries(tmp), 0);
	fs_remove_tree(s.root);
	store_close(&s);
}

static void test_list(void)
{
	struct store_lock l, *v = NULL;
	struct digest d1, d2;
	struct store s;
	char ref[512];
	size_t n = 0;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "b", "1", "zz", &d1), BERR_OK);
	CHECK_INT(push_image(&s, "a", "2", "v2", &d2), BERR_OK);
	CHECK_INT(push_image(&s, "a", "3", "v1", NULL), BERR_OK);
	CHECK_INT(push_image(&s, "c", "4", NULL, NULL), BERR_OK);
	l = mk("a", NULL, &d2, STORE_LOCK_NO_DELETE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	l = mk("a", "v2", NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	l = mk("a", "v1", NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	l = mk("a", NULL, NULL, STORE_LOCK_NO_DELETE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	l = mk("b", "zz", NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);

	CHECK_INT(store_lock_list(&s, NULL, &v, &n), BERR_OK);
	CHECK_INT(n, 5);
	if (n == 5) {
		char want[512];

		CHECK_STR(store_lock_format(&v[0], ref, sizeof(ref)), "a");
		CHECK_STR(store_lock_format(&v[1], ref, sizeof(ref)), "a:v1");
		CHECK_STR(store_lock_format(&v[2], ref, sizeof(ref)), "a:v2");
		snprintf(want, sizeof(want), "a@sha256:%s", d2.hex);
		CHECK_STR(store_lock_format(&v[3], ref, sizeof(ref)), want);
		CHECK_STR(store_lock_format(&v[4], ref, sizeof(ref)), "b:zz");
	}
	free(v);
	CHECK_INT(store_lock_list(&s, "b", &v, &n), BERR_OK);
	CHECK_INT(n, 1);
	free(v);
	CHECK_INT(store_lock_list(&s, "c", &v, &n), BERR_OK);
	CHECK_INT(n, 0);
	free(v);
	CHECK_INT(store_lock_list(&s, "Bad..", &v, &n), BERR_NAME_INVALID);
	fs_remove_tree(s.root);
	store_close(&s);
}

static void test_checks(void)
{
	struct store_lock l;
	struct digest d1, d2;
	struct store s;
	char want[512];
	int found;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "team/app", "1", "v1", &d1), BERR_OK);
	CHECK_INT(push_image(&s, "team/app", "2", "v2", &d2), BERR_OK);
	/* nothing locked: everything goes */
	CHECK_INT(store_lock_check_write(&s, "team/app", "v1"), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", "v1", NULL), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d1), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, NULL), BERR_OK);
	CHECK_INT(store_lock_check_repo_remove(&s, "team/app"), BERR_OK);

	/* tag no-write: that tag only; by digest and other tags go on; deletes go on */
	l = mk("team/app", "v1", NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	CHECK_INT(store_lock_check_write(&s, "team/app", "v1"), BERR_DENIED);
	CHECK(has(berr_detail(), "team/app:v1 is locked (no-write, since 2026-11-28T09:00:00Z): "
		  "unlock it with berthctl unlock team/app:v1"));
	CHECK_INT(store_lock_check_write(&s, "team/app", "v2"), BERR_OK);
	CHECK_INT(store_lock_check_write(&s, "team/app", NULL), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", "v1", NULL), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d1), BERR_OK);
	CHECK_INT(store_lock_check_repo_remove(&s, "team/app"), BERR_OK);

	/* tag no-delete: the tag, and the manifest it names (which would take it) */
	l = mk("team/app", "v1", NULL, STORE_LOCK_NO_DELETE, "GA");
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	CHECK_INT(store_lock_check_write(&s, "team/app", "v1"), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", "v1", NULL), BERR_DENIED);
	CHECK(has(berr_detail(), "team/app:v1 is locked (no-delete, since 2026-11-28T09:00:00Z; "
		  "reason: GA): unlock it with berthctl unlock team/app:v1"));
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d1), BERR_DENIED);
	snprintf(want, sizeof(want), "team/app@sha256:%s is tagged v1, and team/app:v1 is locked",
		 d1.hex);
	CHECK(has(berr_detail(), want));
	CHECK_INT(store_lock_check_delete(&s, "team/app", "v2", NULL), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d2), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, NULL), BERR_OK);
	CHECK_INT(store_lock_check_repo_remove(&s, "team/app"), BERR_DENIED);
	/* the tag moved on: the old manifest is free to go */
	CHECK_INT(store_tag_set(&s, "team/app", "v1", &d2), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d1), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d2), BERR_DENIED);
	CHECK_INT(store_lock_clear(&s, "team/app", "v1", NULL, NULL, &found), BERR_OK);

	/* manifest no-delete: that manifest; its tags may go */
	l = mk("team/app", NULL, &d2, STORE_LOCK_NO_DELETE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d2), BERR_DENIED);
	snprintf(want, sizeof(want), "team/app@sha256:%s is locked (no-delete", d2.hex);
	CHECK(has(berr_detail(), want));
	CHECK_INT(store_lock_check_delete(&s, "team/app", "v2", NULL), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d1), BERR_OK);
	CHECK_INT(store_lock_check_write(&s, "team/app", "v2"), BERR_OK);
	CHECK_INT(store_lock_clear(&s, "team/app", NULL, &d2, NULL, &found), BERR_OK);

	/* repository no-write: every push; deletes go on */
	l = mk("team/app", NULL, NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	CHECK_INT(store_lock_check_write(&s, "team/app", NULL), BERR_DENIED);
	CHECK(has(berr_detail(), "repository team/app is locked (no-write, since "
		  "2026-11-28T09:00:00Z): unlock it with berthctl unlock team/app"));
	CHECK_INT(store_lock_check_write(&s, "team/app", "new"), BERR_DENIED);
	CHECK_INT(store_lock_check_delete(&s, "team/app", "v2", &d2), BERR_OK);
	CHECK_INT(store_lock_check_repo_remove(&s, "team/app"), BERR_OK);
	CHECK_INT(store_lock_check_write(&s, "team", NULL), BERR_OK); /* not the parent */
	CHECK_INT(store_lock_check_write(&s, "team/app/sub", NULL), BERR_OK); /* nor a child */

	/* repository no-delete: every delete, blobs too */
	l = mk("team/app", NULL, NULL, STORE_LOCK_NO_DELETE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	CHECK_INT(store_lock_check_write(&s, "team/app", "v2"), BERR_OK);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, NULL), BERR_DENIED);
	CHECK(has(berr_detail(), "repository team/app is locked (no-delete"));
	CHECK_INT(store_lock_check_delete(&s, "team/app", "v2", NULL), BERR_DENIED);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, &d1), BERR_DENIED);
	CHECK_INT(store_lock_check_repo_remove(&s, "team/app"), BERR_DENIED);
	CHECK_INT(store_lock_clear(&s, "team/app", NULL, NULL, NULL, &found), BERR_OK);
	CHECK_INT(found, 1);
	CHECK_INT(store_lock_check_delete(&s, "team/app", NULL, NULL), BERR_OK);
	fs_remove_tree(s.root);
	store_close(&s);
}

/* A lock file nobody can parse refuses both ways rather than neither. */
static void test_damaged(void)
{
	struct store_lock got;
	struct store s;
	char dir[PATH_MAX], path[PATH_MAX];
	int found, fd;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "1", "v1", NULL), BERR_OK);
	snprintf(dir, sizeof(dir), "%s/repos/app/_locks", s.root);
	CHECK_INT(fs_mkdir_p(dir), BERR_OK);
	snprintf(path, sizeof(path), "%s/repos/app/_locks/tag-v1", s.root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8);
	close(fd);
	CHECK_INT(store_lock_get(&s, "app", "v1", NULL, &got, &found), BERR_OK);
	CHECK(found && got.flags == (STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE));
	CHECK_INT(store_lock_check_write(&s, "app", "v1"), BERR_DENIED);
	CHECK_INT(store_lock_check_delete(&s, "app", "v1", NULL), BERR_DENIED);
	/* stray names in _locks/ are not locks */
	snprintf(path, sizeof(path), "%s/repos/app/_locks/tag-.hidden", s.root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	snprintf(path, sizeof(path), "%s/repos/app/_locks/whatever", s.root);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	{
		struct store_lock *v = NULL;
		size_t n = 0;

		CHECK_INT(store_lock_list(&s, "app", &v, &n), BERR_OK);
		CHECK_INT(n, 1);
		free(v);
	}
	fs_remove_tree(s.root);
	store_close(&s);
}

static int age_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	struct timespec t[2];

	(void)type;
	(void)ftw;
	t[0].tv_sec = t[1].tv_sec = sb->st_mtime - 7200;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* gc --untagged: a manifest with a no-delete lock (its own or the
 * repository's) stays; an unlocked untagged one goes; a repository whose
 * only content is gone but which holds a lock is not removed. */
static void test_gc_untagged(void)
{
	struct gc_options o = { 0 };
	struct gc_stats st;
	struct store_lock l;
	struct digest keep, drop, other;
	struct store s;

	store_fresh(&s);
	CHECK_INT(push_image(&s, "app", "1", NULL, &keep), BERR_OK);
	CHECK_INT(push_image(&s, "app", "2", NULL, &drop), BERR_OK);
	CHECK_INT(push_image(&s, "frozen", "3", NULL, &other), BERR_OK);
	l = mk("app", NULL, &keep, STORE_LOCK_NO_DELETE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	l = mk("frozen", NULL, NULL, STORE_LOCK_NO_DELETE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	nftw(s.root, age_one, 16, FTW_PHYS);
	o.untagged = 1;
	o.grace = 0;
	o.dry_run = 1;
	CHECK_INT(store_gc(&s, &o, &st), BERR_OK);
	CHECK_INT(st.manifests_removed, 1);
	o.dry_run = 0;
	CHECK_INT(store_gc(&s, &o, &st), BERR_OK);
	CHECK_INT(st.manifests_removed, 1);
	CHECK_INT(store_manifest_linked(&s, "app", &keep, NULL, 0), BERR_OK);
	CHECK_INT(store_manifest_linked(&s, "app", &drop, NULL, 0), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_manifest_linked(&s, "frozen", &other, NULL, 0), BERR_OK);
	CHECK_INT(store_blob_stat(&s, &keep, NULL), BERR_OK);

	/* unlocked, it goes; the repository keeps its directory for the lock */
	CHECK_INT(store_lock_clear(&s, "app", NULL, &keep, NULL, &(int){ 0 }), BERR_OK);
	l = mk("app", "gone", NULL, STORE_LOCK_NO_WRITE, NULL);
	CHECK_INT(store_lock_set(&s, &l), BERR_OK);
	nftw(s.root, age_one, 16, FTW_PHYS);
	CHECK_INT(store_gc(&s, &o, &st), BERR_OK);
	CHECK_INT(st.manifests_removed, 1);
	CHECK_INT(store_manifest_linked(&s, "app", &keep, NULL, 0), BERR_MANIFEST_UNKNOWN);
	CHECK_INT(store_lock_any(&s, "app"), 1);
	fs_remove_tree(s.root);
	store_close(&s);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/berth-locks-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_set_get_clear();
	test_atomic_replace();
	test_list();
	test_checks();
	test_damaged();
	test_gc_untagged();
	fs_remove_tree(base);
	return unit_done();
}
