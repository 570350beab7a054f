/*
 * stage.c - an upload's bytes, hashed and written behind the request.
 *
 * A push is one process reading a socket, hashing and writing a file.  Done
 * in line, the three take turns: while the worker hashes or copies into the
 * page cache it does not read, the socket fills, nginx stops reading the
 * client, and on a 2-core machine the cores sat idle almost half the time
 * of a 1 GiB push.  And all of the file went to the disk at the end, in the
 * final fdatasync.
 *
 * So the request thread only copies the body into one of STAGE_NBUF
 * buffers of STAGE_CAP (or reads it straight there: stage_space).  A full
 * buffer is queued to a helper thread that hashes it, writes it, and starts
 * its writeback at once (sync_file_range SYNC_FILE_RANGE_WRITE), so the
 * disk works during the transfer and the commit's fdatasync finds little
 * left to do, while the request thread goes on reading.  The pages stay in
 * the page cache, where the first pull of a new layer finds them.  (Writing
 * with O_DIRECT instead was measured too: as fast a push, but the first pull
 * then read the layer from disk at a third of the speed.)
 *
 * The thread exists only while a request's body fills buffers; stage_flush()
 * waits for it, hashes and writes what is left, and joins it, so outside a
 * request the worker is one thread again.  A body that never fills a buffer
 * (manifests, configs, small layers) starts no thread.
 *
 * Threads: the helper touches only the queued buffers, the hasher, the
 * descriptor and `err`; it never calls berr_*() or log_*() (they keep
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

void stage_init(struct stage *st)
{
	memset(st, 0, sizeof(*st));
	st->fd = -1;
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

/* Hash a full buffer, write it, start its writeback.  0 or an errno. */
static int process(struct stage *st, const struct stage_buf *b)
{
	int err;

	hasher_update(st->h, b->p, b->len);
	err = pwrite_full(st->fd, b->p, b->len, b->base);
	/* Only a hint: the commit's fdatasync is what makes the data durable. */
	if (err == 0)
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

/* Start a run at file offset `pos`. */
static enum berr stage_start(struct stage *st, int fd, int64_t pos, struct hasher *h)
{
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
	st->b[0].base = pos;
	st->b[0].len = 0;
	st->started = 1;
	return BERR_OK;
}

/* The current buffer is full: hand it to the helper and take the next one. */
static enum berr submit(struct stage *st)
{
	struct stage_buf *full = &st->b[st->cur], *next;
	int err;

	if (!st->thread_on && helper_start(st) != 0) {
		/* no thread: do it here, and reuse the buffer */
		if ((err = process(st, full)))
			return fail(st, err);
		full->base += STAGE_CAP;
		full->len = 0;
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
	next->len = 0;
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

void *stage_space(struct stage *st, size_t *cap)
{
	struct stage_buf *b = &st->b[st->cur];

	if (!st->started)
		return NULL;
	*cap = STAGE_CAP - b->len;
	return b->p + b->len;
}

static void run_reset(struct stage *st)
{
	st->started = 0;
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
		hasher_update(st->h, b->p, b->len);
		err = pwrite_full(st->fd, b->p, b->len, b->base);
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
	stage_drop(st);
	if (st->mem)
		munmap(st->mem, (size_t)STAGE_NBUF * STAGE_CAP);
	if (st->sync_ready) {
		pthread_cond_destroy(&st->less);
		pthread_cond_destroy(&st->more);
		pthread_mutex_destroy(&st->mu);
	}
	stage_init(st);
}
