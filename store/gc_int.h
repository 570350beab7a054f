/*
 * gc_int.h - what store/gc.c (the protocol, the blob sweep) and
 * store/gc_repo.c (one repository: mark, --untagged, links, entries) share;
 * store/gc_mark.c (the mark set, the steps of a sweep) implements it, except
 * gc_repo().  Internal to the collector.
 */
#ifndef BERTH_GC_INT_H
#define BERTH_GC_INT_H

#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include "store/gc.h"
#include "store/lease.h"

#define GC_TRASH_PREFIX ".gc."

struct dset {
	unsigned char *slot; /* cap * klen bytes; all-zero = empty */
	size_t cap, n, klen;
	int has_zero;        /* the all-zero digest, which cannot sit in a slot */
};

struct mark {
	struct dset s256, s512;
};

struct gc {
	struct store *s;
	const struct gc_options *o;
	struct gc_stats *st;
	struct mark all;          /* every blob a kept manifest reaches */
	struct mark repo;         /* what the current repository's kept manifests name */
	struct timespec t0, cutoff, young;
	char dir[PATH_MAX];       /* root/gc */
	char lock[PATH_MAX];
	char token[STORE_LEASE_TOKEN_MAX];
	int locked;
	time_t touched;
	long seen;
	const char *phase;
};

/* Progress, and the lock kept fresh; BERR_BUSY once it is lost. */
enum berr gc_tick(struct gc *g);
void gc_item(struct gc *g, const char *kind, const char *object, long long bytes);
/* mtime of sb before `than`. */
int gc_older(const struct stat *sb, const struct timespec *than);
void gc_mark_init(struct mark *m);
void gc_mark_release(struct mark *m);
enum berr gc_mark_add(struct mark *m, const struct digest *d);
int gc_mark_has(struct mark *m, const struct digest *d);
void gc_mark_clear(struct mark *m);
/* Touched since the cutoff (or unreadable: keep it). */
int gc_touched_since(struct gc *g, int dirfd, const char *name, void *arg);
/* Move `name` to ".gc.<name>" beside it, ask still_needed, then put it back
 * or unlink it: 1 removed, 0 kept or gone, -1 error (detail set). */
typedef int (*gc_needed_fn)(struct gc *g, int dirfd, const char *trashed, void *arg);
int gc_remove_two_phase(struct gc *g, int dirfd, const char *name, const char *shown,
			gc_needed_fn still_needed, void *arg);
/* ".gc.<x>" left by a collector that died: rename it back to <x>. */
void gc_recover_dot(struct gc *g, int dirfd, const char *name);

/* G3 + G4 for one repository (store/gc_repo.c). */
enum berr gc_repo(struct gc *g, const char *name);

#endif
