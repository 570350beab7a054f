/*
 * gc_mark.c - what both levels of the collector use (gc_int.h): the mark
 * set, and the steps of every sweep.  store/gc.c runs the protocol and
 * sweeps the blobs, store/gc_repo.c does one repository; both sit above
 * this file, which calls neither.
 *
 * The mark is an open-addressing hash set of binary digests (32 bytes a
 * sha256 blob): memory grows with the number of blobs, never with bytes.
 * A sweep removes a thing in two phases (store/gc.c has the argument):
 * rename it aside, look at it there, then put it back or unlink it; and it
 * calls gc_tick() once per thing looked at, which keeps the collector's
 * lease fresh and stops the run once it is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/gc_int.h"
#include "store/lease.h"

#define PROGRESS_EVERY 4096

/* ---- the mark: a set of binary digests ---- */

static int key_zero(const unsigned char *k, size_t n)
{
	while (n--)
		if (*k++)
			return 0;
	return 1;
}

static size_t key_pos(const struct dset *s, const unsigned char *k)
{
	uint64_t h;

	memcpy(&h, k, sizeof(h)); /* digests are uniform already */
	return (size_t)(h & (s->cap - 1));
}

static int dset_has(const struct dset *s, const unsigned char *k)
{
	size_t i;

	if (key_zero(k, s->klen))
		return s->has_zero;
	if (s->cap == 0)
		return 0;
	for (i = key_pos(s, k);; i = (i + 1) & (s->cap - 1)) {
		const unsigned char *p = s->slot + i * s->klen;

		if (key_zero(p, s->klen))
			return 0;
		if (memcmp(p, k, s->klen) == 0)
			return 1;
	}
}

static void dset_put(struct dset *s, const unsigned char *k)
{
	size_t i;

	for (i = key_pos(s, k);; i = (i + 1) & (s->cap - 1)) {
		unsigned char *p = s->slot + i * s->klen;

		if (key_zero(p, s->klen)) {
			memcpy(p, k, s->klen);
			s->n++;
			return;
		}
		if (memcmp(p, k, s->klen) == 0)
			return;
	}
}

static enum berr dset_add(struct dset *s, const unsigned char *k)
{
	struct dset bigger;
	size_t i;

	if (key_zero(k, s->klen)) {
		s->has_zero = 1;
		return BERR_OK;
	}
	if ((s->n + 1) * 2 > s->cap) { /* load <= 1/2 */
		/* not mem_grow(): the slots are rehashed into a new table */
		if (s->cap > SIZE_MAX / 2 / s->klen)
			return berr_set(BERR_INTERNAL, "mark set of %zu digests: too large", s->n);
		bigger = *s;
		bigger.cap = s->cap ? s->cap * 2 : 1024;
		bigger.n = 0;
		bigger.slot = calloc(bigger.cap, s->klen);
		if (bigger.slot == NULL)
			return berr_set(BERR_INTERNAL, "out of memory: mark set of %zu digests", s->n);
		for (i = 0; i < s->cap; i++)
			if (!key_zero(s->slot + i * s->klen, s->klen))
				dset_put(&bigger, s->slot + i * s->klen);
		free(s->slot);
		*s = bigger;
	}
	dset_put(s, k);
	return BERR_OK;
}

static void dset_clear(struct dset *s)
{
	if (s->slot)
		memset(s->slot, 0, s->cap * s->klen);
	s->n = 0;
	s->has_zero = 0;
}

void gc_mark_init(struct mark *m)
{
	memset(m, 0, sizeof(*m));
	m->s256.klen = 32;
	m->s512.klen = 64;
}

void gc_mark_release(struct mark *m)
{
	free(m->s256.slot);
	free(m->s512.slot);
	gc_mark_init(m);
}

void gc_mark_clear(struct mark *m)
{
	dset_clear(&m->s256);
	dset_clear(&m->s512);
}

static int hexval(char c)
{
	return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* The set for d's algorithm, and d as binary in key[64]; NULL if unusable. */
static struct dset *mark_key(struct mark *m, const struct digest *d, unsigned char *key)
{
	struct dset *s = d->alg == DIGEST_SHA256 ? &m->s256 :
			 d->alg == DIGEST_SHA512 ? &m->s512 : NULL;
	size_t i;

	if (s == NULL || strlen(d->hex) != s->klen * 2)
		return NULL;
	for (i = 0; i < s->klen; i++)
		key[i] = (unsigned char)(hexval(d->hex[2 * i]) << 4 | hexval(d->hex[2 * i + 1]));
	return s;
}

enum berr gc_mark_add(struct mark *m, const struct digest *d)
{
	unsigned char key[64];
	struct dset *s = mark_key(m, d, key);

	return s ? dset_add(s, key) : BERR_OK;
}

int gc_mark_has(struct mark *m, const struct digest *d)
{
	unsigned char key[64];
	struct dset *s = mark_key(m, d, key);

	return s ? dset_has(s, key) : 0;
}

/* ---- the steps of a sweep ---- */

int gc_older(const struct stat *sb, const struct timespec *than)
{
	return sb->st_mtim.tv_sec < than->tv_sec ||
	       (sb->st_mtim.tv_sec == than->tv_sec && sb->st_mtim.tv_nsec < than->tv_nsec);
}

void gc_item(struct gc *g, const char *kind, const char *object, long long bytes)
{
	if (g->o->item)
		g->o->item(g->o->ctx, kind, object, bytes);
}

/* Once per thing looked at: progress, and the lock kept fresh.  A lock we
 * lost (judged stale elsewhere) stops the run before it removes more. */
enum berr gc_tick(struct gc *g)
{
	long every = g->s->lock_stale / 6;

	if (++g->seen % PROGRESS_EVERY == 0 && g->o->progress)
		g->o->progress(g->o->ctx, g->phase, g->seen);
	if (every > 20)
		every = 20;
	if (every < 1)
		every = 1;
	if (time(NULL) - g->touched < every)
		return BERR_OK;
	if (store_lease_refresh(g->lock, g->token, "gc") != BERR_OK)
		return berr_set(BERR_BUSY, "gc: lost %s to another process (stale after %ld s?); "
				"stopped", g->lock, g->s->lock_stale);
	g->touched = time(NULL);
	return BERR_OK;
}

/* Rename `name` in dirfd to ".gc.<name>", let `still_needed` judge it there,
 * then put it back or unlink it.  1 removed, 0 kept (or gone), -1 error. */
int gc_remove_two_phase(struct gc *g, int dirfd, const char *name, const char *shown,
			    gc_needed_fn still_needed, void *arg)
{
	char trashed[NAME_MAX + 8];

	if (snprintf(trashed, sizeof(trashed), GC_TRASH_PREFIX "%s", name) >= (int)sizeof(trashed))
		return 0;
	if (renameat(dirfd, name, dirfd, trashed) != 0) {
		if (errno == ENOENT)
			return 0;
		berr_sys("moving aside", shown);
		return -1;
	}
	if (still_needed(g, dirfd, trashed, arg)) {
		if (renameat(dirfd, trashed, dirfd, name) != 0) {
			berr_sys("putting back", shown);
			return -1;
		}
		return 0;
	}
	if (unlinkat(dirfd, trashed, 0) != 0 && errno != ENOENT) {
		berr_sys("removing", shown);
		return -1;
	}
	return 1;
}

/* Touched since the cutoff (or unreadable: then keep it). */
int gc_touched_since(struct gc *g, int dirfd, const char *name, void *arg)
{
	struct stat sb;

	(void)arg;
	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !gc_older(&sb, &g->cutoff);
}

/* Put back ".gc.<x>" files of a dead collector in one directory. */
void gc_recover_dot(struct gc *g, int dirfd, const char *name)
{
	const char *orig = name + strlen(GC_TRASH_PREFIX);

	if (strncmp(name, GC_TRASH_PREFIX, strlen(GC_TRASH_PREFIX)) != 0 || *orig == '\0')
		return;
	if (renameat(dirfd, name, dirfd, orig) == 0)
		g->st->trash_recovered++;
}
