/*
 * test_store_upload.c - upload sessions in store/upload.c: resumed in another
 * process, rolled back, cut after a crash, finished with a wrong digest,
 * finished with sha512, locked (busy, stale, raced), expired and swept.
 * Each case runs on a fresh store in a mkdtemp directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"



static void session_file(struct store *s, const char *id, const char *f, char *out, size_t n)
{
	snprintf(out, n, "%s/uploads/%s/%s", s->root, id, f);
}

static int session_exists(struct store *s, const char *id)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/uploads/%s", s->root, id);
	return fs_exists(p);
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int wait_code(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int blob_is(struct store *s, const char *name, const struct digest *d, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	int ok;

	ok = store_blob_linked(s, name, d) == BERR_OK &&
	     store_blob_read(s, d, 1 << 20, &buf, &len) == BERR_OK &&
	     len == strlen(want) && memcmp(buf, want, len) == 0;
	free(buf);
	return ok;
}

/* Appended in pieces and committed here, finished by a forked child. */
static void test_resume_in_child(void)
{
	struct store s;
	struct upload u;
	struct digest want;
	char id[40];
	pid_t pid;

	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "team/app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	CHECK_INT(store_upload_append(&u, "abc", 3), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(store_upload_append(&u, "def", 3), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(u.offset, 6);
	store_upload_close(&u);
	CHECK_INT(store_upload_peek(&s, "team/app", id, &u), BERR_OK);
	CHECK_INT(u.offset, 6);
	CHECK(u.updated >= u.created);
	store_upload_close(&u);

	digest_buf(DIGEST_SHA256, "abcdefghi", 9, &want);
	pid = fork();
	if (pid == 0) {
		struct upload c;
		int bad = 0;

		bad |= store_upload_open(&s, "team/app", id, &c) != BERR_OK;
		bad |= c.offset != 6;
		bad |= store_upload_append(&c, "ghi", 3) != BERR_OK;
		bad |= store_upload_finish(&c, &want) != BERR_OK;
		store_upload_close(&c);
		_exit(bad);
	}
	CHECK_INT(wait_code(pid), 0);
	CHECK(blob_is(&s, "team/app", &want, "abcdefghi"));
	CHECK(!session_exists(&s, id));
	CHECK_INT(store_upload_open(&s, "team/app", id, &u), BERR_BLOB_UPLOAD_UNKNOWN);
	store_upload_close(&u);
	store_close(&s);
}

static void test_rollback_and_crash_cut(void)
{
	struct store s;
	struct upload u;
	struct digest want;
	char id[40], data[PATH_MAX];
	int fd;

	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	session_file(&s, id, "data", data, sizeof(data));
	CHECK_INT(store_upload_append(&u, "abc", 3), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(store_upload_append(&u, "XYZ", 3), BERR_OK);
	CHECK_INT(store_upload_rollback(&u), BERR_OK);
	CHECK_INT(u.pending, 0);
	CHECK_INT(file_size(data), 3);
	/* a writer that dies after appending, before committing */
	CHECK_INT(store_upload_append(&u, "junk", 4), BERR_OK);
	store_upload_close(&u);
	fd = open(data, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "more garbage", 12) == 12);
	if (fd >= 0)
		close(fd);
	/* "junk" was staged (store/stage.c), never flushed: only the garbage */
	CHECK_INT(file_size(data), 15);

	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_OK);
	CHECK_INT(u.offset, 3);
	CHECK_INT(file_size(data), 3);
	CHECK_INT(store_upload_append(&u, "def", 3), BERR_OK);
	digest_buf(DIGEST_SHA256, "abcdef", 6, &want);
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, "abcdef"));
	store_close(&s);
}

static void test_wrong_digest(void)
{
	struct store s;
	struct upload u;
	struct digest wrong, want;
	char id[40], dstr[DIGEST_STR_MAX];

	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	CHECK_INT(store_upload_append(&u, "hello ", 6), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(store_upload_append(&u, "world", 5), BERR_OK);
	digest_buf(DIGEST_SHA256, "something else", 14, &wrong);
	digest_buf(DIGEST_SHA256, "hello world", 11, &want);
	CHECK_INT(store_upload_finish(&u, &wrong), BERR_DIGEST_INVALID);
	CHECK(strstr(berr_detail(), digest_format(&want, dstr)) != NULL);
	CHECK(strstr(berr_detail(), digest_format(&wrong, dstr)) != NULL);
	CHECK(strncmp(berr_detail(), "computed sha256:", 16) == 0);
	CHECK_INT(store_blob_stat(&s, &wrong, NULL), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_stat(&s, &want, NULL), BERR_BLOB_UNKNOWN);
	CHECK(session_exists(&s, id));
	CHECK_INT(u.offset, 6);

	/* still usable: roll back the last chunk and send it again */
	CHECK_INT(store_upload_rollback(&u), BERR_OK);
	CHECK_INT(store_upload_append(&u, "world", 5), BERR_OK);
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, "hello world"));
	CHECK(!session_exists(&s, id));

	/* the same content again in another repository: blob exists, only linked */
	CHECK_INT(store_upload_create(&s, "other", &u), BERR_OK);
	CHECK_INT(store_upload_append(&u, "hello world", 11), BERR_OK);
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "other", &want, "hello world"));
	store_close(&s);
}

static void test_sha512(void)
{
	struct store s;
	struct upload u;
	struct digest want, wrong;
	char id[40];

	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	CHECK_INT(store_upload_append(&u, "sixty", 5), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	store_upload_close(&u);
	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_OK);
	CHECK_INT(store_upload_append(&u, "-four", 5), BERR_OK);
	digest_buf(DIGEST_SHA512, "sixty-fou", 9, &wrong);
	CHECK_INT(store_upload_finish(&u, &wrong), BERR_DIGEST_INVALID);
	CHECK(strncmp(berr_detail(), "computed sha512:", 16) == 0);
	digest_buf(DIGEST_SHA512, "sixty-four", 10, &want);
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, "sixty-four"));
	store_close(&s);
}

/* Killed between publishing the data and linking it: the next finish links. */
static void test_crash_after_publish(void)
{
	struct store s;
	struct upload u;
	struct digest want;
	char id[40], data[PATH_MAX], blob[PATH_MAX];

	store_fresh(&s);
	digest_buf(DIGEST_SHA256, "payload", 7, &want);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	CHECK_INT(store_upload_append(&u, "payload", 7), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	session_file(&s, id, "data", data, sizeof(data));
	CHECK_INT(store_blob_path(&s, &want, blob, sizeof(blob)), BERR_OK);
	CHECK_INT(fs_publish(data, blob, FS_FILE_MODE, FS_CREATE, NULL), BERR_OK); /* what finish does first */
	store_upload_close(&u);
	CHECK_INT(store_blob_linked(&s, "app", &want), BERR_BLOB_UNKNOWN);

	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_OK);
	CHECK_INT(store_upload_append(&u, "x", 1), BERR_BLOB_UPLOAD_INVALID);
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, "payload"));
	CHECK(!session_exists(&s, id));
	store_close(&s);
}

static void write_lock(const char *path, const char *content, time_t age)
{
	struct timespec ts[2];
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(content, f);
		fclose(f);
	}
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, path, ts, 0);
}

static void test_locks(void)
{
	struct store s;
	struct upload u, v;
	struct digest want;
	char id[40], lock[PATH_MAX];
	pid_t pid;

	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	session_file(&s, id, "lock", lock, sizeof(lock));
	CHECK(fs_exists(lock));
	/* held by a live process (this one) */
	CHECK_INT(store_upload_open(&s, "app", id, &v), BERR_BUSY);
	CHECK(strstr(berr_detail(), id) != NULL);
	store_upload_close(&v);
	CHECK_INT(store_upload_append(&u, "ab", 2), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	store_upload_close(&u);
	CHECK(!fs_exists(lock));

	/* a holder that dies without closing: its pid is dead, so take over */
	pid = fork();
	if (pid == 0) {
		struct upload c;

		if (store_upload_open(&s, "app", id, &c) != BERR_OK ||
		    store_upload_append(&c, "zz", 2) != BERR_OK)
			_exit(1);
		_exit(0); /* SIGKILL-like: no close, no commit */
	}
	CHECK_INT(wait_code(pid), 0);
	CHECK(fs_exists(lock));
	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_OK);
	CHECK_INT(u.offset, 2);
	store_upload_close(&u);

	/* another host's lock: live while fresh, stale when old */
	write_lock(lock, "some-other-host 1 1700000000 0123456789abcdef\n", 5);
	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_BUSY);
	store_upload_close(&u);
	write_lock(lock, "some-other-host 1 1700000000 0123456789abcdef\n", s.lock_stale + 10);
	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_OK);
	/* the holder refuses to write once its lock may look stale elsewhere */
	u.lock_touched -= s.lock_stale;
	CHECK_INT(store_upload_append(&u, "cd", 2), BERR_BUSY);
	u.lock_touched = time(NULL) - 30;
	CHECK_INT(store_upload_append(&u, "cd", 2), BERR_OK);
	/* a lock taken from us (we looked dead) is noticed before commit */
	write_lock(lock, "thief 1 1 0000\n", 0);
	u.lock_touched -= 30;
	CHECK_INT(store_upload_append(&u, "ef", 2), BERR_BUSY);
	CHECK_INT(store_upload_commit(&u), BERR_BUSY);
	store_upload_close(&u);
	CHECK(fs_exists(lock)); /* not ours to remove */
	CHECK(unlink(lock) == 0);

	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_OK);
	CHECK_INT(u.offset, 2);
	CHECK_INT(store_upload_append(&u, "cd", 2), BERR_OK);
	digest_buf(DIGEST_SHA256, "abcd", 4, &want);
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, "abcd"));
	store_close(&s);
}

/* Eight processes race to take over the same stale lock: exactly one wins
 * while the winner is alive. */
static void test_takeover_race(void)
{
	struct store s;
	struct upload u;
	char id[40], lock[PATH_MAX];
	pid_t pid[8];
	int i, won = 0, busy = 0, pipefd[2];

	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	store_upload_close(&u);
	session_file(&s, id, "lock", lock, sizeof(lock));
	write_lock(lock, "some-other-host 1 1 dead\n", s.lock_stale + 100);
	CHECK(pipe(pipefd) == 0);
	for (i = 0; i < 8; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			struct upload c;
			char b;
			enum berr rc;

			close(pipefd[1]);
			if (read(pipefd[0], &b, 1) != 1) /* start together */
				_exit(3);
			rc = store_upload_open(&s, "app", id, &c);
			if (rc == BERR_OK) {
				usleep(300 * 1000); /* hold it while the others try */
				store_upload_close(&c);
				_exit(10);
			}
			_exit(rc == BERR_BUSY ? 11 : 12);
		}
	}
	close(pipefd[0]);
	for (i = 0; i < 8; i++)
		if (write(pipefd[1], "g", 1) != 1)
			break;
	close(pipefd[1]);
	for (i = 0; i < 8; i++) {
		int c = wait_code(pid[i]);

		won += c == 10;
		busy += c == 11;
	}
	CHECK_INT(won, 1);
	CHECK_INT(busy, 7);
	CHECK(!fs_exists(lock));
	store_close(&s);
}

static void age_session(struct store *s, const char *id, time_t when)
{
	char path[PATH_MAX];
	FILE *f;

	session_file(s, id, "state", path, sizeof(path));
	f = fopen(path, "a"); /* a later line wins */
	if (f) {
		fprintf(f, "updated=%lld\n", (long long)when);
		fclose(f);
	}
}

static void test_expiry_and_sweep(void)
{
	struct store s;
	struct upload u;
	char old_id[40], new_id[40], gone_id[40], path[PATH_MAX];
	struct timespec ts[2];
	time_t now = time(NULL);
	int removed = -1;
	FILE *f;

	store_fresh(&s);
	s.upload_ttl = 3600;
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(gone_id, sizeof(gone_id), "%s", u.id);
	store_upload_close(&u);
	age_session(&s, gone_id, now - 7200);
	CHECK_INT(store_upload_peek(&s, "app", gone_id, &u), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK(session_exists(&s, gone_id)); /* peek only looks */
	CHECK_INT(store_upload_open(&s, "app", gone_id, &u), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK(strstr(berr_detail(), "expired") != NULL);
	store_upload_close(&u);
	CHECK(!session_exists(&s, gone_id));

	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(old_id, sizeof(old_id), "%s", u.id);
	store_upload_close(&u);
	age_session(&s, old_id, now - 7200);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(new_id, sizeof(new_id), "%s", u.id);
	store_upload_close(&u);

	snprintf(path, sizeof(path), "%s/tmp/blob.oldtemp", s.root);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	ts[0].tv_sec = ts[1].tv_sec = now - 7200;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
	snprintf(path, sizeof(path), "%s/tmp/blob.newtemp", s.root);
	f = fopen(path, "w");
	if (f)
		fclose(f);

	CHECK_INT(store_sweep(&s, now, &removed), BERR_OK);
	CHECK_INT(removed, 2);
	CHECK(!session_exists(&s, old_id));
	CHECK(session_exists(&s, new_id));
	CHECK(fs_exists(path));
	snprintf(path, sizeof(path), "%s/tmp/blob.oldtemp", s.root);
	CHECK(!fs_exists(path));

	/* a session in use is not swept, however old */
	CHECK_INT(store_upload_open(&s, "app", new_id, &u), BERR_OK);
	CHECK_INT(store_sweep(&s, now + 7200, &removed), BERR_OK);
	CHECK_INT(removed, 1); /* only the temp, now over an hour old */
	CHECK(session_exists(&s, new_id));
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	store_upload_close(&u);
	CHECK_INT(store_sweep(&s, now + 7200, &removed), BERR_OK);
	CHECK_INT(removed, 1);
	CHECK(!session_exists(&s, new_id));
	store_close(&s);
}

static void test_wrong_repo_and_cancel(void)
{
	struct store s;
	struct upload u, v;
	char id[40];

	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "team/app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	store_upload_close(&u);
	CHECK_INT(store_upload_open(&s, "team/other", id, &v), BERR_BLOB_UPLOAD_UNKNOWN);
	store_upload_close(&v);
	CHECK_INT(store_upload_open(&s, "team", id, &v), BERR_BLOB_UPLOAD_UNKNOWN);
	store_upload_close(&v);
	CHECK_INT(store_upload_peek(&s, "team/other", id, &v), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(store_upload_open(&s, "team/app", "../../etc", &v), BERR_BLOB_UPLOAD_UNKNOWN);
	store_upload_close(&v);
	CHECK_INT(store_upload_open(&s, "team/app", "00000000-0000-4000-8000-000000000000", &v),
		  BERR_BLOB_UPLOAD_UNKNOWN);
	store_upload_close(&v);
	CHECK_INT(store_upload_create(&s, "Bad/Name", &v), BERR_NAME_INVALID);

	CHECK_INT(store_upload_open(&s, "team/app", id, &u), BERR_OK);
	CHECK_INT(store_upload_cancel(&u), BERR_OK);
	store_upload_close(&u);
	store_upload_close(&u);
	CHECK(!session_exists(&s, id));
	CHECK_INT(store_upload_open(&s, "team/app", id, &u), BERR_BLOB_UPLOAD_UNKNOWN);
	store_upload_close(&u);
	store_close(&s);
}

/* Bigger data through many appends and two processes, checked against a
 * one-shot digest. */
static void test_many_chunks(void)
{
	static char chunk[64 * 1024];
	struct store s;
	struct upload u;
	struct digest want, got;
	struct hasher h;
	char id[40];
	pid_t pid;
	int i;

	store_fresh(&s);
	hasher_init(&h, DIGEST_SHA256);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	for (i = 0; i < 64; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		hasher_update(&h, chunk, sizeof(chunk));
		if (store_upload_append(&u, chunk, sizeof(chunk)) != BERR_OK ||
		    (i % 8 == 7 && store_upload_commit(&u) != BERR_OK))
			break;
	}
	CHECK_INT(i, 64);
	store_upload_close(&u);
	hasher_final(&h, &want);
	pid = fork();
	if (pid == 0) {
		struct upload c;

		_exit(store_upload_open(&s, "app", id, &c) != BERR_OK ||
		      c.offset != 64 * (int64_t)sizeof(chunk) ||
		      store_upload_finish(&c, &want) != BERR_OK);
	}
	CHECK_INT(wait_code(pid), 0);
	CHECK_INT(store_blob_linked(&s, "app", &want), BERR_OK);
	{
		char path[PATH_MAX];
		int fd;

		CHECK_INT(store_blob_path(&s, &want, path, sizeof(path)), BERR_OK);
		fd = open(path, O_RDONLY);
		CHECK(fd >= 0 && digest_fd(DIGEST_SHA256, fd, &got, NULL) == BERR_OK);
		CHECK(digest_equal(&got, &want));
		if (fd >= 0)
			close(fd);
	}
	store_close(&s);
}

int main(void)
{
	snprintf(base, sizeof(base), "%s/berth-upload-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_resume_in_child();
	test_rollback_and_crash_cut();
	test_wrong_digest();
	test_sha512();
	test_crash_after_publish();
	test_locks();
	test_takeover_race();
	test_expiry_and_sweep();
	test_wrong_repo_and_cancel();
	test_many_chunks();
	fs_remove_tree(base);
	return unit_done();
}
