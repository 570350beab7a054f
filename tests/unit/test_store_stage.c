/*
 * test_store_stage.c - upload data staged by store/stage.c (STAGE_NBUF buffers of STAGE_CAP,
 * a helper thread, O_DIRECT), seen through the upload API: big uploads
 * committed and resumed at unaligned offsets, rollback after the helper
 * wrote, direct_io off, a store on tmpfs, a wrong digest, boundary sizes,
 * a request closed or cancelled with buffers still queued.
 * Every case compares the published blob's bytes with what was sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"

#define MiB (1024 * 1024)
#define BUF STAGE_CAP /* one stage buffer */
#define RING (STAGE_NBUF * BUF)
#define TMPFS_MAGIC_ 0x01021994

static void session_file(struct store *s, const char *id, const char *f, char *out, size_t n)
{
	snprintf(out, n, "%s/uploads/%s/%s", s->root, id, f);
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* n deterministic pseudo-random bytes (xorshift64*), different per seed. */
static unsigned char *make_data(size_t n, uint64_t seed)
{
	unsigned char *p = malloc(n ? n : 1);
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	if (p == NULL) {
		perror("malloc");
		exit(2);
	}
	for (i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = (unsigned char)((x * 0x2545f4914f6cdd1dULL) >> 56);
	}
	return p;
}

/* Append data[from, to) in pieces of `piece` bytes; 1 if all went well. */
static int append_range(struct upload *u, const unsigned char *data, size_t from, size_t to,
			size_t piece)
{
	size_t n;

	while (from < to) {
		n = to - from < piece ? to - from : piece;
		if (store_upload_append(u, data + from, n) != BERR_OK) {
			fprintf(stderr, "append at %zu: %s\n", from, berr_detail());
			return 0;
		}
		from += n;
	}
	return 1;
}

/* 1 if the file at `path` holds exactly want[0, n). */
static int file_is(const char *path, const unsigned char *want, size_t n)
{
	unsigned char *buf;
	size_t got = 0;
	ssize_t r;
	int fd, ok;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	buf = malloc(n + 1);
	if (buf == NULL) {
		close(fd);
		return 0;
	}
	/* read one byte more than expected: a longer file must not pass */
	while (got < n + 1 && (r = read(fd, buf + got, n + 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	ok = got == n && memcmp(buf, want, n) == 0;
	if (!ok && got == n) {
		size_t i;

		for (i = 0; i < n && buf[i] == want[i]; i++)
			;
		fprintf(stderr, "%s: first difference at byte %zu\n", path, i);
	} else if (!ok) {
		fprintf(stderr, "%s: %zu bytes, want %zu\n", path, got, n);
	}
	free(buf);
	return ok;
}

/* The blob `d` is linked in `name`, holds want[0, n) and hashes to d. */
static int blob_is(struct store *s, const char *name, const struct digest *d,
		   const unsigned char *want, size_t n)
{
	char path[PATH_MAX];
	struct digest got;
	int64_t size = -1;
	int fd, ok;

	if (store_blob_linked(s, name, d) != BERR_OK ||
	    store_blob_path(s, d, path, sizeof(path)) != BERR_OK || !file_is(path, want, n))
		return 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ok = digest_fd(DIGEST_SHA256, fd, &got, &size) == BERR_OK && digest_equal(&got, d) &&
	     size == (int64_t)n;
	close(fd);
	return ok;
}

static int blob_file_exists(struct store *s, const struct digest *d)
{
	char path[PATH_MAX];

	return store_blob_path(s, d, path, sizeof(path)) == BERR_OK && fs_exists(path);
}

/*
 * `total` bytes appended in odd pieces, committed at two unaligned offsets
 * (one in the first MiB's tail, one after buffers went out), closed,
 * reopened, continued and finished.  The blob must be the input exactly.
 */
static void big_upload(struct store *s, size_t total, uint64_t seed, struct digest *out)
{
	unsigned char *data = make_data(total, seed);
	size_t c1 = total / 2 + 3333, c2 = total - total / 5 + 17;
	struct upload u;
	struct digest want;
	char id[40], path[PATH_MAX];

	digest_buf(DIGEST_SHA256, data, total, &want);
	if (out)
		*out = want;
	if (c1 % 4096 == 0)
		c1++;
	if (c2 % 4096 == 0)
		c2++;
	CHECK_INT(store_upload_create(s, "big/app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	session_file(s, id, "data", path, sizeof(path));

	CHECK(append_range(&u, data, 0, c1, 70001));
	CHECK_INT(u.pending, c1);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(u.offset, c1);
	CHECK_INT(u.pending, 0);
	CHECK_INT(file_size(path), u.offset);
	CHECK(file_is(path, data, c1));

	/* same request goes on from the unaligned offset */
	CHECK(append_range(&u, data, c1, c2, 65537));
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(u.offset, c2);
	CHECK_INT(file_size(path), u.offset);
	CHECK(file_is(path, data, c2));
	store_upload_close(&u);

	/* another request resumes it */
	CHECK_INT(store_upload_open(s, "big/app", id, &u), BERR_OK);
	CHECK_INT(u.offset, c2);
	CHECK_INT(file_size(path), c2);
	CHECK(append_range(&u, data, c2, total, 70001));
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(s, "big/app", &want, data, total));
	CHECK(!fs_exists(path));
	free(data);
}

/* 1. direct I/O on (the default) */
static void test_big_direct(struct digest *out)
{
	struct store s;

	store_fresh(&s);
	CHECK_INT(s.direct_io, 1);
	big_upload(&s, 5 * MiB + 12345, 1, out);
	CHECK_INT(s.direct_io, 1); /* not refused on the way: it really was direct */
	store_close(&s);
}

/* 4. the same upload with direct I/O off (big_upload compares the stored
 * bytes with the input) */
static void test_big_plain(void)
{
	struct store s;
	struct digest d;

	store_fresh(&s);
	s.direct_io = 0;
	big_upload(&s, 5 * MiB + 12345, 1, &d);
	store_close(&s);
}

/* 2. rollback after the helper thread wrote buffers past the commit */
static void test_rollback_after_helper(void)
{
	const size_t committed = 100000, junk = 6 * MiB, rest = 1 * MiB + 4321;
	unsigned char *a = make_data(committed + rest, 2), *b = make_data(junk, 3);
	struct store s;
	struct upload u;
	struct digest want;
	char id[40], path[PATH_MAX];

	digest_buf(DIGEST_SHA256, a, committed + rest, &want);
	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	session_file(&s, id, "data", path, sizeof(path));
	CHECK(append_range(&u, a, 0, committed, 30000));
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(file_size(path), committed);

	/* six full buffers through a ring of four: at least three are on the
	 * file by the time the last append returns */
	CHECK(append_range(&u, b, 0, junk, 70001));
	CHECK(file_size(path) > (long long)committed);
	CHECK_INT(store_upload_rollback(&u), BERR_OK);
	CHECK_INT(u.pending, 0);
	CHECK_INT(u.offset, committed);
	CHECK_INT(file_size(path), committed);
	CHECK(file_is(path, a, committed));

	/* rolled back again with buffers still queued (one big append) */
	CHECK_INT(store_upload_append(&u, b, junk), BERR_OK);
	CHECK_INT(store_upload_rollback(&u), BERR_OK);
	CHECK_INT(u.pending, 0);
	CHECK_INT(file_size(path), committed);
	CHECK(file_is(path, a, committed));

	/* the hash went back to the commit: the right data gives the right digest */
	CHECK(append_range(&u, a, committed, committed + rest, 70001));
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, a, committed + rest));
	store_close(&s);
	free(a);
	free(b);
}

/* 3. a request resuming at an offset that is not a multiple of 4096 */
static void resume_at(struct store *s, size_t first, size_t more, uint64_t seed)
{
	unsigned char *data = make_data(first + more, seed);
	struct upload u;
	struct digest want;
	char id[40], path[PATH_MAX];

	digest_buf(DIGEST_SHA256, data, first + more, &want);
	CHECK_INT(store_upload_create(s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	session_file(s, id, "data", path, sizeof(path));
	CHECK_INT(store_upload_append(&u, data, first), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(file_size(path), first);
	store_upload_close(&u);

	CHECK_INT(store_upload_open(s, "app", id, &u), BERR_OK);
	CHECK_INT(u.offset, first);
	CHECK(append_range(&u, data, first, first + more, 70001));
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(s, "app", &want, data, first + more));
	free(data);
}

static void test_resume_unaligned(void)
{
	struct store s;

	store_fresh(&s);
	resume_at(&s, 5000, 2 * BUF + 100, 4);           /* head [4096, 5000) re-read */
	resume_at(&s, 100, 2 * BUF + 4096, 5);           /* head in block 0 */
	resume_at(&s, BUF + 4097, 3 * BUF + 1, 6);       /* after a direct run */
	resume_at(&s, 4095, BUF - 4095, 7);              /* fills one buffer exactly */
	resume_at(&s, 5000, RING + BUF + 3, 8);          /* the ring wraps to buffer 0 */
	store_close(&s);
}

/* 5. a store where O_DIRECT may be refused (tmpfs) */
static void test_tmpfs(void)
{
	const size_t total = 3 * MiB;
	unsigned char *data;
	char dir[] = "/dev/shm/berth-stage-XXXXXX", root[PATH_MAX], probe[PATH_MAX];
	struct statfs sf;
	struct store s;
	struct upload u;
	struct digest want;
	int fd;

	if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC_) {
		fprintf(stderr, "note: /dev/shm is not tmpfs here; tmpfs case skipped\n");
		return;
	}
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "note: mkdtemp in /dev/shm: %s; tmpfs case skipped\n",
			strerror(errno));
		return;
	}
	snprintf(probe, sizeof(probe), "%s/probe", dir);
	fd = open(probe, O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (fd >= 0) {
		fprintf(stderr, "note: this kernel's tmpfs accepts O_DIRECT: "
			"the refused-O_DIRECT fallback is not exercised\n");
		close(fd);
	}
	unlink(probe);

	snprintf(root, sizeof(root), "%s/store", dir);
	CHECK_INT(store_open(&s, root), BERR_OK);
	data = make_data(total, 10);
	digest_buf(DIGEST_SHA256, data, total, &want);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	CHECK(append_range(&u, data, 0, total / 2 + 11, 70001));
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK(append_range(&u, data, total / 2 + 11, total, 70001));
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, data, total));
	store_close(&s);
	free(data);
	CHECK_INT(fs_remove_tree(dir), BERR_OK);
	CHECK(!fs_exists(dir));
}

/* 6. a wrong digest after the helper ran: nothing stored, session usable */
static void test_wrong_digest(void)
{
	const size_t first = 12345, total = first + 1 * MiB + 777;
	unsigned char *data = make_data(total, 9);
	struct store s;
	struct upload u;
	struct digest want, wrong;
	char id[40], path[PATH_MAX];

	digest_buf(DIGEST_SHA256, data, total, &want);
	digest_buf(DIGEST_SHA256, data, total - 1, &wrong);
	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	session_file(&s, id, "data", path, sizeof(path));
	CHECK_INT(store_upload_append(&u, data, first), BERR_OK);
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK(append_range(&u, data, first, total, 70001));
	CHECK_INT(store_upload_finish(&u, &wrong), BERR_DIGEST_INVALID);
	CHECK(strncmp(berr_detail(), "computed sha256:", 16) == 0);
	CHECK_INT(store_blob_stat(&s, &wrong, NULL), BERR_BLOB_UNKNOWN);
	CHECK_INT(store_blob_stat(&s, &want, NULL), BERR_BLOB_UNKNOWN);
	CHECK(!blob_file_exists(&s, &wrong));
	CHECK(!blob_file_exists(&s, &want));
	CHECK(fs_exists(path));
	CHECK_INT(u.offset, first);
	/* the staged bytes are on the file: what was hashed is what is there */
	CHECK(file_is(path, data, total));

	/* rolled back and sent again, it finishes */
	CHECK_INT(store_upload_rollback(&u), BERR_OK);
	CHECK_INT(file_size(path), first);
	CHECK(append_range(&u, data, first, total, 1 * MiB));
	CHECK_INT(store_upload_finish(&u, &wrong), BERR_DIGEST_INVALID);
	/* or finished again with the right digest without resending */
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	CHECK(blob_is(&s, "app", &want, data, total));
	CHECK(!blob_file_exists(&s, &wrong));
	store_close(&s);
	free(data);
}

/* 7. boundary sizes, in one append and in pieces */
static void one_size(struct store *s, size_t n, size_t piece, uint64_t seed)
{
	unsigned char *data = make_data(n, seed);
	struct upload u;
	struct digest want;
	char name[64];

	snprintf(name, sizeof(name), "sizes/s%zu-%zu", n, piece);
	digest_buf(DIGEST_SHA256, data, n, &want);
	CHECK_INT(store_upload_create(s, name, &u), BERR_OK);
	CHECK(append_range(&u, data, 0, n, piece));
	CHECK_INT(u.pending, n);
	CHECK_INT(store_upload_finish(&u, &want), BERR_OK);
	store_upload_close(&u);
	if (!blob_is(s, name, &want, data, n))
		fprintf(stderr, "size %zu in pieces of %zu: wrong blob\n", n, piece);
	CHECK(blob_is(s, name, &want, data, n));
	free(data);
}

static void test_boundary_sizes(void)
{
	static const size_t sizes[] = {
		4096, BUF, 2 * BUF,                     /* one and two buffers */
		4095, 4097, BUF - 1, BUF + 1,
		RING, RING + BUF, 2 * RING + 4096,      /* the whole ring, and round */
	};
	struct store s;
	size_t i;

	store_fresh(&s);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		one_size(&s, sizes[i], sizes[i], 100 + i);   /* one append */
		one_size(&s, sizes[i], 70001, 200 + i);      /* odd pieces */
	}
	one_size(&s, 2 * BUF, 4096, 300);                   /* aligned pieces */
	store_close(&s);
}

/* 8. a request that ends with the helper still running: closed without a
 * commit (the next open cuts the data back), cancelled; and a sha512
 * finish, which re-reads the staged data from the file */
static void test_close_while_staged(void)
{
	const size_t committed = 70001, total = committed + 3 * MiB + 99;
	unsigned char *data = make_data(total, 11), *junk = make_data(3 * MiB, 12);
	struct store s;
	struct upload u;
	struct digest want512;
	char id[40], path[PATH_MAX], blob[PATH_MAX];

	digest_buf(DIGEST_SHA512, data, total, &want512);
	store_fresh(&s);
	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	session_file(&s, id, "data", path, sizeof(path));
	CHECK(append_range(&u, data, 0, committed, 70001));
	CHECK_INT(store_upload_commit(&u), BERR_OK);
	CHECK_INT(store_upload_append(&u, junk, 3 * MiB), BERR_OK);
	store_upload_close(&u);

	CHECK_INT(store_upload_open(&s, "app", id, &u), BERR_OK);
	CHECK_INT(u.offset, committed);
	CHECK_INT(file_size(path), committed);
	CHECK(file_is(path, data, committed));
	CHECK(append_range(&u, data, committed, total, 70001));
	CHECK_INT(store_upload_finish(&u, &want512), BERR_OK);
	store_upload_close(&u);
	CHECK_INT(store_blob_linked(&s, "app", &want512), BERR_OK);
	CHECK_INT(store_blob_path(&s, &want512, blob, sizeof(blob)), BERR_OK);
	CHECK(file_is(blob, data, total));

	CHECK_INT(store_upload_create(&s, "app", &u), BERR_OK);
	snprintf(id, sizeof(id), "%s", u.id);
	CHECK_INT(store_upload_append(&u, junk, 3 * MiB), BERR_OK);
	CHECK_INT(store_upload_cancel(&u), BERR_OK);
	store_upload_close(&u);
	snprintf(path, sizeof(path), "%s/uploads/%s", s.root, id);
	CHECK(!fs_exists(path));
	store_close(&s);
	free(data);
	free(junk);
}

int main(void)
{
	struct digest big;

	snprintf(base, sizeof(base), "%s/berth-stage-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_big_direct(&big);
	test_rollback_after_helper();
	test_resume_unaligned();
	test_big_plain();
	test_tmpfs();
	test_wrong_digest();
	test_boundary_sizes();
	test_close_while_staged();
	fs_remove_tree(base);
	return unit_done();
}
