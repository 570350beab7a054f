/*
 * stage.c - an upload's bytes, hashed and written behind the request.
 *
 * A push is one process reading a socket, hashing and writing a file.  Done
 * in line, the three take turns: while the worker hashes or waits for the
 * disk it does not read, the socket fills, nginx stops reading the client,
 * and on a 2-core machine the cores sat idle almost half the time of a
 * 1 GiB push.  And through the page cache every 4 KiB page of a layer is a
 * fresh allocation plus a copy, then dirty memory that the final fdatasync
 * pushes out in one go.
 *
 * So the request thread only copies the body into one of STAGE_NBUF
 * page-aligned buffers of STAGE_CAP (or reads it straight there:
 * stage_space).  A full buffer is queued to a helper thread that hashes and
 * writes it while the request thread goes on reading.  The thread exists
 * only while a request's body fills buffers; stage_flush() waits for it,
 * hashes and writes what is left, and joins it, so outside a request the
 * worker is one thread again.  A body that never fills a buffer (configs,
 * small layers) starts no thread and goes through the page cache at flush.
 *
 * How a full buffer is written (berth.conf upload_direct_io):
 *   direct (the default)  O_DIRECT, from the reused buffer straight to the
 *       disk: no page-cache pages to allocate, nothing left for fdatasync.
 *   page cache            pwrite, then sync_file_range(SYNC_FILE_RANGE_WRITE)
 *       to start that range's writeback at once, so the disk works during
 *       the transfer; the layer stays cached for its first pull.
 * Measured with `make bench` on the 2-core VM of bench/results/ (whose freed
 * memory goes back to the host, so every fresh page costs a host fault):
 * direct 439 MiB/s for 1 GiB, page cache 296, the worker then spending a
 * whole core mostly in copy_folio_from_iter_atomic.  Where fresh memory is
 * cheap the two push alike (430-500 MiB/s), and the page cache serves the
 * first pull of a new layer 2-3 times faster than a read from disk.
 *
 * Alignment (direct): writes start at a multiple of STAGE_ALIGN and cover a
 * multiple of it.  A request that resumes a session at an unaligned offset
 * first reads the head of that block back into the buffer (the previous
 * request committed it) and rewrites it unchanged; those bytes are not
 * hashed again.  The tail that does not fill a block goes through the page
 * cache at flush.  Where O_DIRECT is refused (open or write fails with
 * EINVAL: tmpfs on old kernels, some FUSE mounts) the same bytes are written
 * the ordinary way, and the caller stops asking (store/upload.c).
 *
 * Threads: the helper touches only the queued buffers, the hasher, the
 * descriptors and `err`; it never calls berr_*() or log_*() (they keep
 * process-wide state).  It blocks every signal: SIGTERM stays the request
 * thread's business (fcgi/worker.c).  A failure of the helper is kept in
 * `err` (an errno) and reported by the next stage_write or stage_flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/stage.h"

#define STAGE_ALIGN 4096 /* covers 512-byte and 4 KiB logical blocks */

static int64_t align_down(int64_t v)
{
	return v - v % STAGE_ALIGN;
}

void stage_init(struct stage *st, int enabled)
{
	memset(st, 0, sizeof(*st));
	st->fd = -1;
	st->dfd = -1;
	st->enabled = enabled;
}

/* pwrite all of it; 0 or an errno.  Thread-safe (no berr, no log). */
static int pwrite_full(int fd, const unsigned char *p, size_t n, int64_t off)
{
	ssize_t w;

	while (n > 0) {
		w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		p += w;
		off += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write p[0, n) at `off`: whole blocks with O_DIRECT when allowed, the rest
 * (or all, where O_DIRECT is refused) the ordinary way.  0 or an errno. */
static int write_out(struct stage *st, const unsigned char *p, size_t n, int64_t off, int direct)
{
	size_t done = 0, whole = direct ? n - n % STAGE_ALIGN : 0;
	ssize_t w;

	if (whole && st->dfd < 0 && st->enabled) {
		st->dfd = open(st->path, O_WRONLY | O_DIRECT | O_CLOEXEC);
		if (st->dfd < 0) { /* EINVAL: the filesystem has no direct I/O */
			if (errno == EINVAL)
				st->refused = EINVAL;
			st->enabled = 0;
		}
	}
	while (whole && st->dfd >= 0 && done < whole) {
		w = pwrite(st->dfd, p + done, whole - done, (off_t)(off + (int64_t)done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL && done == 0) {
			st->refused = EINVAL;
			st->enabled = 0;
			close(st->dfd);
			st->dfd = -1;
			break;
		}
		if (w < 0)
			return errno;
		done += (size_t)w;
		if (w == 0 || done % STAGE_ALIGN) /* short and unaligned: finish normally */
			break;
	}
	return pwrite_full(st->fd, p + done, n - done, off + (int64_t)done);
}

/* Hash a full buffer and write it out; through the page cache, start its
 * writeback at once.  0 or an errno. */
static int process(struct stage *st, const struct stage_buf *b)
{
	int err;

	hasher_update(st->h, b->p + b->skip, b->len - b->skip);
	err = write_out(st, b->p, b->len, b->base, st->enabled);
	/* Only a hint: the commit's fdatasync is what makes the data durable. */
	if (err == 0 && !st->enabled)
		(void)sync_file_range(st->fd, (off_t)b->base, (off_t)b->len, SYNC_FILE_RANGE_WRITE);
	return err;
}

static void *helper(void *arg)
{
	struct stage *st = arg;
	struct stage_buf *b;
	int err;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (st->queued == 0 && !st->quit)
			pthread_cond_wait(&st->more, &st->mu);
		if (st->queued == 0)
			break;
		b = &st->b[st->next_out];
		err = st->err;
		pthread_mutex_unlock(&st->mu);
		if (err == 0)
			err = process(st, b);
		pthread_mutex_lock(&st->mu);
		if (err && st->err == 0)
			st->err = err;
		st->next_out = (st->next_out + 1) % STAGE_NBUF;
		st->queued--;
		pthread_cond_signal(&st->less);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

static int helper_start(struct stage *st)
{
	sigset_t all, old;
	int rc;

	if (!st->sync_ready) {
		if (pthread_mutex_init(&st->mu, NULL) != 0)
			return -1;
		if (pthread_cond_init(&st->more, NULL) != 0) {
			pthread_mutex_destroy(&st->mu);
			return -1;
		}
		if (pthread_cond_init(&st->less, NULL) != 0) {
			pthread_cond_destroy(&st->more);
			pthread_mutex_destroy(&st->mu);
			return -1;
		}
		st->sync_ready = 1;
	}
	st->quit = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&st->thread, NULL, helper, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	st->thread_on = 1;
	return 0;
}

/* Let the helper finish (or, with `cancel`, skip) what is queued, and join
 * it.  Returns the first error of the run (an errno), 0 if none. */
static int helper_stop(struct stage *st, int cancel)
{
	int err;

	if (!st->thread_on)
		return st->err;
	pthread_mutex_lock(&st->mu);
	if (cancel && st->err == 0)
		st->err = ECANCELED;
	st->quit = 1;
	pthread_cond_signal(&st->more);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->thread, NULL);
	st->thread_on = 0;
	err = st->err;
	return err;
}

static enum berr fail(const struct stage *st, int err)
{
	errno = err;
	return berr_sys("writing", st->path[0] ? st->path : "upload data");
}

/* Start a run at file offset `pos`: the block's head comes back from disk. */
static enum berr stage_start(struct stage *st, int fd, int64_t pos, struct hasher *h)
{
	struct stage_buf *b;
	size_t head;
	ssize_t r;
	unsigned i;

	if (st->mem == NULL) {
		st->mem = mmap(NULL, (size_t)STAGE_NBUF * STAGE_CAP, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (st->mem == MAP_FAILED) {
			st->mem = NULL;
			return berr_sys("allocating", "upload buffers");
		}
		for (i = 0; i < STAGE_NBUF; i++)
			st->b[i].p = st->mem + (size_t)i * STAGE_CAP;
	}
	st->fd = fd;
	st->h = h;
	st->cur = st->next_out = st->queued = 0;
	st->err = 0;
	st->went_direct = 0;
	b = &st->b[0];
	b->base = align_down(pos);
	head = (size_t)(pos - b->base);
	b->len = 0;
	while (b->len < head) {
		r = pread(fd, b->p + b->len, head - b->len, (off_t)(b->base + (int64_t)b->len));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? berr_sys("reading", "upload data") :
				berr_set(BERR_INTERNAL, "upload data shorter than its offset");
		b->len += (size_t)r;
	}
	b->skip = head;
	st->started = 1;
	return BERR_OK;
}

/* The current buffer is full: hand it to the helper and take the next one. */
static enum berr submit(struct stage *st)
{
	struct stage_buf *full = &st->b[st->cur], *next;
	int err;

	st->went_direct = 1;
	if (!st->thread_on && helper_start(st) != 0) {
		/* no thread: do it here, and reuse the buffer */
		if ((err = process(st, full)))
			return fail(st, err);
		full->base += STAGE_CAP;
		full->len = full->skip = 0;
		return BERR_OK;
	}
	pthread_mutex_lock(&st->mu);
	st->queued++;
	pthread_cond_signal(&st->more);
	while (st->queued == STAGE_NBUF)
		pthread_cond_wait(&st->less, &st->mu);
	err = st->err;
	pthread_mutex_unlock(&st->mu);
	st->cur = (st->cur + 1) % STAGE_NBUF;
	next = &st->b[st->cur];
	next->base = full->base + STAGE_CAP;
	next->len = next->skip = 0;
	return err ? fail(st, err) : BERR_OK;
}

enum berr stage_write(struct stage *st, int fd, int64_t pos, const void *data, size_t n,
		      struct hasher *h)
{
	const unsigned char *p = data;
	struct stage_buf *b;
	enum berr rc;
	size_t take;

	if (!st->started && (rc = stage_start(st, fd, pos, h)))
		return rc;
	b = &st->b[st->cur];
	if (b->base + (int64_t)b->len != pos || st->h != h || st->fd != fd)
		return berr_set(BERR_INTERNAL, "upload data: staged write out of order");
	while (n > 0) {
		take = STAGE_CAP - b->len < n ? STAGE_CAP - b->len : n;
		if (p != b->p + b->len) /* else read there by the caller */
			memcpy(b->p + b->len, p, take);
		b->len += take;
		p += take;
		n -= take;
		if (b->len == STAGE_CAP) {
			if ((rc = submit(st)))
				return rc;
			b = &st->b[st->cur];
		}
	}
	return BERR_OK;
}

void *stage_space(struct stage *st, int fd, int64_t pos, struct hasher *h, size_t *cap)
{
	struct stage_buf *b = &st->b[st->cur];

	if (!st->started && stage_start(st, fd, pos, h) != BERR_OK)
		return NULL;
	*cap = STAGE_CAP - b->len;
	return b->p + b->len;
}

static void run_reset(struct stage *st)
{
	st->started = 0;
	st->went_direct = 0;
	st->queued = 0;
	st->cur = st->next_out = 0;
	st->err = 0;
	st->h = NULL;
}

enum berr stage_flush(struct stage *st)
{
	struct stage_buf *b;
	int err;

	if (!st->started)
		return BERR_OK;
	err = helper_stop(st, 0);
	b = &st->b[st->cur];
	if (err == 0) {
		hasher_update(st->h, b->p + b->skip, b->len - b->skip);
		err = write_out(st, b->p, b->len, b->base, st->went_direct && st->enabled);
	}
	run_reset(st);
	return err ? fail(st, err) : BERR_OK;
}

void stage_drop(struct stage *st)
{
	helper_stop(st, 1);
	run_reset(st);
}

void stage_release(struct stage *st)
{
	int enabled = st->enabled;

	stage_drop(st);
	if (st->mem)
		munmap(st->mem, (size_t)STAGE_NBUF * STAGE_CAP);
	if (st->dfd >= 0)
		close(st->dfd);
	if (st->sync_ready) {
		pthread_cond_destroy(&st->less);
		pthread_cond_destroy(&st->more);
		pthread_mutex_destroy(&st->mu);
	}
	stage_init(st, enabled);
}
