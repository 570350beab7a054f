/*
 * stage.h - an upload's bytes, hashed and written behind the request by a
 * helper thread, with O_DIRECT or through the page cache; the why and the
 * rules are at the top of stage.c.
 *
 *   stage_init(&st, direct); copy the file's path into st.path
 *   stage_write(&st, fd, pos, data, n, h)   appends at pos (= the end of the
 *                                           previous write) and hashes into h
 *   stage_space(&st, fd, pos, h, &cap)      where to read the next bytes to,
 *                                           so that stage_write need not copy
 *   stage_flush(&st)                        all bytes on the file, h final;
 *                                           before fdatasync or reading h
 *   stage_drop(&st)                         forget staged bytes (rollback)
 *   stage_release(&st)                      free the buffers, close the fd
 *
 * `fd` is the file's ordinary descriptor (read/write); the writer opens its
 * own O_DIRECT descriptor on st.path when a buffer first fills.  Between a
 * stage_write and the next stage_flush (or drop) the hasher `h` belongs to
 * the stage: the caller must not read or change it.
 */
#ifndef BERTH_STORE_STAGE_H
#define BERTH_STORE_STAGE_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/digest.h"
#include "util/err.h"

#define STAGE_CAP (512 * 1024) /* one direct write; the ring is 2 MiB, so an
				 * upload worker stays well under 16 MiB (t90) */
#define STAGE_NBUF 4            /* buffers: one filling, the rest queued */

struct stage_buf {
	unsigned char *p;  /* STAGE_CAP bytes */
	int64_t base;      /* file offset of p[0] */
	size_t len;        /* bytes in p */
	size_t skip;       /* leading bytes read back from the file: not hashed */
};

struct stage {
	unsigned char *mem;          /* STAGE_NBUF * STAGE_CAP, mmap'd on first use */
	struct stage_buf b[STAGE_NBUF];
	unsigned cur;                /* the buffer being filled */
	unsigned next_out;           /* oldest queued buffer */
	unsigned queued;             /* full buffers waiting for the thread */
	struct hasher *h;            /* the running hash, owned while started */
	int fd;                      /* ordinary descriptor of the file */
	int dfd;                     /* O_DIRECT descriptor, -1 until needed */
	int enabled;                 /* direct I/O allowed (and not refused so far) */
	int started;                 /* a run of writes is staged */
	int went_direct;             /* a full buffer went out in this run */
	int refused;                 /* errno when O_DIRECT was refused; the caller
				      * reads and clears it after stage_flush */
	int err;                     /* errno of the thread's first failure */
	pthread_t thread;
	int thread_on;
	int quit;
	pthread_mutex_t mu;
	pthread_cond_t more, less;   /* a buffer queued / a buffer done */
	int sync_ready;
	char path[PATH_MAX];
};

void stage_init(struct stage *st, int enabled);
enum berr stage_write(struct stage *st, int fd, int64_t pos, const void *data, size_t n,
		      struct hasher *h);
enum berr stage_flush(struct stage *st);
/* The free part of the buffer being filled, starting a run at `pos` if none
 * is (NULL if that fails): stage_write from exactly there takes the bytes
 * without copying them. */
void *stage_space(struct stage *st, int fd, int64_t pos, struct hasher *h, size_t *cap);
void stage_drop(struct stage *st);
void stage_release(struct stage *st);

#endif
