/*
 * gc.c - garbage collection while clients push and pull (gc.h).
 *
 * The collector and the writers share no lock: several pools on several
 * hosts write the store over NFS while `berthctl gc` runs.  What keeps
 * reachable data alive is a protocol on blob mtimes, read from the file
 * server's own clock (utimensat(NULL) sets it, a file's mtime reports it),
 * so no host's clock matters:
 *
 *  Writers (store/repo.c, store/upload.c, store/blob.c) that make a blob
 *  reachable - linking it into a repository (upload finish, mount) or
 *  naming it from a manifest PUT (config, layers, children, and the
 *  manifest's own bytes) - do
 *      W1  touch the blob (and the repository's _blobs link to it)
 *      W2  publish the reference (link, manifest link)
 *      W3  touch them again; if one is gone, withdraw what W2 published
 *          and fail (BLOB_UNKNOWN / MANIFEST_BLOB_UNKNOWN: push it again).
 *  W3 is a touch, not a stat, on purpose: with grace 0, a writer whose W1
 *  came before the epoch and whose W2 came after the mark read its
 *  repository would pass a mere existence check and then lose the blob.
 *
 *  The collector
 *      G0  takes gc/lock (store/lease.c: link()-based, stale by host/pid/
 *          mtime, refreshed while it runs): one collector at a time;
 *      G1  puts back whatever a collector that died left in gc/trash;
 *      G2  creates gc/epoch; T0 = its mtime; cutoff = T0 - grace;
 *      G3  marks: every repository, every linked manifest (read, parsed
 *          with its stored media type): its own digest, config, layers,
 *          children.  With --untagged, manifests reached by no tag, no
 *          kept index and no kept subject (referrers follow their subject),
 *          no no-delete lock (store/locks.c) protects,
 *          and whose link is older than T0 - max(grace, older_than), are
 *          deleted through store_manifest_delete() first, which has its
 *          own races with tag and index PUTs closed (store/delete.c);
 *      G4  sweeps, per repository, _blobs links that no kept manifest of
 *          it names, referrer / parent entries of unlinked manifests, and
 *          then the repository itself when nothing is left in it (rmdir
 *          only: a file a writer just made keeps its directory);
 *      G5  sweeps every blob not marked whose mtime < cutoff, in two
 *          phases: rename it to gc/trash/<alg>-<hex>, stat it there: if
 *          its mtime is >= cutoff a writer touched it between our check
 *          and the rename, and it goes back; otherwise it is unlinked.
 *          Links and entries are removed the same way, renamed to
 *          ".gc.<name>" beside themselves (readers skip dot names).
 *      G6  sweeps expired upload sessions and old temporaries (store_sweep).
 *
 *  Why a reachable blob B is never lost: if the writer's W2 completed
 *  before G3 read its repository, B is marked.  Otherwise W2, and so W3,
 *  came after G2, so W3 sets mtime >= T0 >= cutoff.  If W3 ran before G5
 *  looked at B, G5 keeps it; between G5's check and its rename, G5 finds
 *  the fresh mtime in the trash and puts B back; while B is in the trash or
 *  after it is unlinked, W3 finds it missing (after a few ms of retries, to
 *  ride out a put-back) and the writer withdraws and fails.  A manifest PUT
 *  therefore never succeeds with a swept blob, and links are kept by the
 *  same argument (W1/W3 touch them too).  An upload in progress lives in
 *  uploads/, which only store_sweep touches, under the session lock; an
 *  upload's data gets a fresh mtime as it is renamed into blobs/.
 *
 *  A collector killed with SIGKILL leaves its lock (taken over once stale:
 *  its pid is dead on this host, or its mtime older than lock_stale) and
 *  maybe files in gc/trash or ".gc.*" links: G1 and G4 put them all back,
 *  and this run decides about them again.  A blob referenced by a PUT that
 *  raced such a death can be missing until the next run puts it back.
 *
 * The mark is an open-addressing hash set of binary digests (32 bytes a
 * sha256 blob): memory grows with the number of blobs, never with bytes,
 * and one repository's manifests at a time are held in memory.  The set
 * and the steps every sweep shares are store/gc_mark.c's, below this file
 * and store/gc_repo.c; paths are store/layout.c's.
 */
#include <dirent.h>
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

#include "store/gc.h"
#include "store/gc_int.h"
#include "store/layout.h"
#include "store/lease.h"
#include "store/stats.h"
#include "util/fs.h"
#include "util/log.h"

/* ---- the run ---- */

static void set_phase(struct gc *g, const char *phase)
{
	if (g->o->progress && g->phase)
		g->o->progress(g->o->ctx, g->phase, g->seen);
	g->phase = phase;
	g->seen = 0;
}

/* G0: gc/lock, or BUSY naming the holder. */
static enum berr gc_lock(struct gc *g)
{
	char holder[STORE_LEASE_TOKEN_MAX], host[STORE_LEASE_TOKEN_MAX], when[64], trash[PATH_MAX];
	long pid = 0;
	long long started = 0;
	time_t since = 0, t;
	struct tm tm;
	enum berr rc;

	rc = layout_gc(g->s, LAYOUT_GC_DIR, g->dir, sizeof(g->dir));
	if (rc == BERR_OK)
		rc = layout_gc(g->s, LAYOUT_GC_LOCK, g->lock, sizeof(g->lock));
	if (rc == BERR_OK)
		rc = layout_gc(g->s, LAYOUT_GC_TRASH, trash, sizeof(trash));
	if (rc == BERR_OK)
		rc = fs_mkdir_p(trash);
	if (rc == BERR_OK)
		rc = store_lease_token_new(g->token, sizeof(g->token));
	if (rc == BERR_OK)
		rc = store_lease_take(g->dir, g->token, g->s->lock_stale, "gc", BERR_INTERNAL,
				     holder, sizeof(holder), &since);
	if (rc == BERR_OK) {
		g->locked = 1;
		g->touched = time(NULL);
		return BERR_OK;
	}
	if (rc != BERR_BUSY)
		return rc;
	if (sscanf(holder, "%191s %ld %lld", host, &pid, &started) != 3) {
		snprintf(host, sizeof(host), "?");
		started = since;
	}
	t = (time_t)started;
	if (localtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", started);
	return berr_set(BERR_BUSY, "another gc is running on %s pid %ld since %s (%s, refreshed "
			"%lld s ago; it is taken over once stale: holder dead, or %ld s without "
			"refresh)", host, pid, when, g->lock, (long long)(time(NULL) - since),
			g->s->lock_stale);
}

static void gc_unlock(struct gc *g)
{
	if (g->locked)
		store_lease_release(g->lock, g->token);
	g->locked = 0;
}

/* G2: T0 from the file server's clock. */
static enum berr gc_epoch(struct gc *g)
{
	char path[PATH_MAX];
	struct stat sb;
	enum berr rc;
	long back;
	int fd;

	rc = layout_gc(g->s, LAYOUT_GC_EPOCH, path, sizeof(path));
	if (rc)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return berr_sys("removing", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FS_FILE_MODE);
	if (fd < 0)
		return berr_sys("creating", path);
	rc = fs_write_all(fd, g->token, strlen(g->token), path);
	if (rc == BERR_OK && fstat(fd, &sb) != 0)
		rc = berr_sys("stat", path);
	close(fd);
	if (rc)
		return rc;
	g->t0 = sb.st_mtim;
	g->st->epoch = (long long)sb.st_mtim.tv_sec;
	g->cutoff = g->t0;
	g->cutoff.tv_sec -= g->o->grace;
	back = g->o->older_than > g->o->grace ? g->o->older_than : g->o->grace;
	g->young = g->t0;
	g->young.tv_sec -= back;
	return BERR_OK;
}

/* G1: whatever a dead collector left in gc/trash goes back to blobs/. */
static enum berr gc_recover(struct gc *g)
{
	char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;
	struct digest d;
	enum berr rc = BERR_OK;
	DIR *dh;

	rc = layout_gc(g->s, LAYOUT_GC_TRASH, dir, sizeof(dir));
	if (rc)
		return rc;
	if (!(dh = opendir(dir)))
		return berr_sys("opendir", dir);
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (de->d_name[0] == '.' || layout_entry_digest(de->d_name, &d) != 0)
			continue;
		rc = fs_path(from, sizeof(from), "%s/%s", dir, de->d_name);
		if (rc == BERR_OK)
			rc = store_blob_path(g->s, &d, to, sizeof(to));
		if (rc == BERR_OK) /* a copy pushed again meanwhile wins */
			rc = fs_publish(from, to, FS_FILE_MODE, FS_CREATE, NULL);
		if (rc == BERR_OK) {
			g->st->trash_recovered++;
			log_info("gc: put back %s left in the trash by a collector that died", de->d_name);
		}
	}
	closedir(dh);
	return rc;
}

/* G5 for one fan-out directory blobs/<alg>/<xx>. */
static enum berr sweep_fan(struct gc *g, const char *alg, const char *fandir, int trashfd)
{
	char ds[DIGEST_STR_MAX + 8], tname[DIGEST_STR_MAX + 8], shown[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	struct digest d;
	enum berr rc = BERR_OK;
	DIR *dh;
	int fd;

	if (!(dh = opendir(fandir)))
		return errno == ENOENT ? BERR_OK : berr_sys("opendir", fandir);
	fd = dirfd(dh);
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		if (layout_link_digest(alg, de->d_name, &d) != 0)
			continue; /* not a blob: fsck reports it */
		digest_format(&d, ds);
		if ((rc = gc_tick(g)))
			break;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* gone meanwhile */
		if (gc_mark_has(&g->all, &d) || !gc_older(&sb, &g->cutoff)) {
			g->st->blobs_recent += !gc_mark_has(&g->all, &d);
			g->st->blobs_kept++;
			g->st->bytes_kept += sb.st_size;
			continue;
		}
		if (snprintf(shown, sizeof(shown), "%s/%s", fandir, de->d_name) >= (int)sizeof(shown) ||
		    layout_entry_name(&d, tname, sizeof(tname)) != BERR_OK)
			continue;
		if (!g->o->dry_run) {
			if (renameat(fd, de->d_name, trashfd, tname) != 0) {
				if (errno != ENOENT)
					rc = berr_sys("moving to gc/trash", shown);
				continue;
			}
			if (gc_touched_since(g, trashfd, tname, NULL)) {
				/* a writer touched it between our look and the rename */
				if (renameat(trashfd, tname, fd, de->d_name) != 0)
					rc = berr_sys("putting back from gc/trash", shown);
				g->st->blobs_raced++;
				g->st->blobs_kept++;
				g->st->bytes_kept += sb.st_size;
				continue;
			}
			if (unlinkat(trashfd, tname, 0) != 0 && errno != ENOENT) {
				rc = berr_sys("removing from gc/trash", tname);
				continue;
			}
		}
		g->st->blobs_removed++;
		g->st->bytes_freed += sb.st_size;
		gc_item(g, "blob", ds, (long long)sb.st_size);
	}
	closedir(dh);
	return rc;
}

static enum berr sweep_blobs(struct gc *g)
{
	char dir[PATH_MAX], fan[PATH_MAX], trash[PATH_MAX];
	struct dirent *de;
	enum berr rc = BERR_OK;
	size_t i;
	DIR *dh;
	int trashfd;

	rc = layout_gc(g->s, LAYOUT_GC_TRASH, trash, sizeof(trash));
	if (rc)
		return rc;
	trashfd = open(trash, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (trashfd < 0)
		return berr_sys("opening", trash);
	for (i = 0; rc == BERR_OK && i < LAYOUT_ALG_COUNT; i++) {
		rc = layout_blob_alg_dir(g->s, layout_algs[i], dir, sizeof(dir));
		if (rc)
			break;
		if (!(dh = opendir(dir))) {
			if (errno != ENOENT)
				rc = berr_sys("opendir", dir);
			continue;
		}
		while (rc == BERR_OK && (de = readdir(dh))) {
			if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
				continue;
			rc = fs_path(fan, sizeof(fan), "%s/%s", dir, de->d_name);
			if (rc == BERR_OK)
				rc = sweep_fan(g, digest_alg_name(layout_algs[i]), fan, trashfd);
		}
		closedir(dh);
	}
	if (rc == BERR_OK && !g->o->dry_run && fsync(trashfd) != 0 && errno != EINVAL)
		rc = berr_sys("fsync", trash);
	close(trashfd);
	return rc;
}

static enum berr mark_repos(struct gc *g)
{
	char **names = NULL;
	size_t n = 0, i;
	enum berr rc;
	int more;

	rc = store_catalog(g->s, NULL, -1, &names, &n, &more);
	for (i = 0; rc == BERR_OK && i < n; i++) {
		g->st->repos++;
		rc = gc_repo(g, names[i]);
	}
	store_tag_list_free(names, n);
	return rc;
}

enum berr store_gc(struct store *s, const struct gc_options *o, struct gc_stats *st)
{
	struct timespec a, b;
	struct gc g;
	enum berr rc;
	int n = 0;

	memset(st, 0, sizeof(*st));
	memset(&g, 0, sizeof(g));
	g.s = s;
	g.o = o;
	g.st = st;
	gc_mark_init(&g.all);
	gc_mark_init(&g.repo);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (o->grace < 0 || o->older_than < 0)
		return berr_set(BERR_INTERNAL, "gc: negative grace or age");
	rc = gc_lock(&g);
	if (rc)
		return rc;
	set_phase(&g, "recover");
	rc = gc_recover(&g);
	if (rc == BERR_OK)
		rc = gc_epoch(&g);
	if (rc == BERR_OK) {
		set_phase(&g, "mark");
		rc = mark_repos(&g);
	}
	if (rc == BERR_OK) {
		set_phase(&g, "sweep");
		rc = sweep_blobs(&g);
	}
	if (rc == BERR_OK && !o->dry_run) {
		rc = store_sweep(s, g.t0.tv_sec, &n);
		st->uploads_removed = n;
	}
	set_phase(&g, NULL);
	gc_unlock(&g);
	gc_mark_release(&g.all);
	gc_mark_release(&g.repo);
	clock_gettime(CLOCK_MONOTONIC, &b);
	st->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	if (rc == BERR_OK && !o->dry_run)
		store_gc_report_write(s, st); /* for /metrics (store/stats.h); logged if it fails */
	return rc;
}

long gc_parse_duration(const char *s)
{
	char *end;
	long long v, mul = 1;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
		if (end[1])
			return -1;
	}
	if (v > LONG_MAX / mul / 2)
		return -1;
	return (long)(v * mul);
}
