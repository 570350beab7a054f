/*
 * gc_repo.c - the collector's work in one repository (protocol: store/gc.c):
 * read and parse every linked manifest, decide which stay (all of them, or
 * with --untagged the closure of the tagged and young ones), delete the
 * others through store_manifest_delete(), mark what the kept ones reach,
 * then sweep the repository's _blobs links nothing kept names, referrer /
 * parent entries of unlinked manifests, and the repository itself once
 * nothing is linked in it.  One repository's manifests are in memory at a
 * time.  Administrators' locks (store/locks.c): --untagged keeps a manifest
 * a no-delete lock protects (its digest's or the repository's) as if it were
 * tagged, and a repository holding a lock is never removed as empty.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/ref.h"
#include "store/gc_int.h"
#include "store/layout.h"
#include "util/fs.h"
#include "util/mem.h"

#define DELETE_PASSES 4
/* An empty repository is removed only when none of its directories changed
 * for this long (and for the grace): rmdir cannot lose data, but one racing
 * a push into the same repository would fail that push. */
#define REPO_IDLE 600

struct rman {
	struct digest d;
	struct timespec mtime;   /* of its link */
	struct manifest m;
	int tagged, keep, deleted;
};

struct rlist {
	struct rman *v;
	size_t n, cap;
	long files;              /* manifest links seen, dangling ones too */
};

static void rlist_release(struct rlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		manifest_release(&l->v[i].m);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_rman(const void *a, const void *b)
{
	const struct rman *x = a, *y = b;

	if (x->d.alg != y->d.alg)
		return x->d.alg < y->d.alg ? -1 : 1;
	return strcmp(x->d.hex, y->d.hex);
}

static struct rman *rlist_find(struct rlist *l, const struct digest *d)
{
	struct rman key;

	if (l->n == 0)
		return NULL;
	key.d = *d;
	return bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_rman);
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Read and parse the manifest linked as `ent` in dfd (_manifests/<alg>). */
static enum berr load_one(struct gc *g, const char *name, const char *alg, int dfd,
			  const char *ent, struct rlist *l)
{
	char ds[DIGEST_STR_MAX], mt[256], *buf = NULL;
	struct berr_ctx probe;
	struct rman *r;
	struct stat sb;
	struct digest d;
	size_t len;
	enum berr rc;

	if (layout_link_digest(alg, ent, &d) != 0)
		return BERR_OK;
	if (fstatat(dfd, ent, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return BERR_OK; /* deleted meanwhile */
	l->files++;
	berr_enter(&probe);
	rc = store_manifest_linked(g->s, name, &d, mt, sizeof(mt));
	if (rc == BERR_OK)
		rc = store_blob_read(g->s, &d, MANIFEST_MAX_SIZE, &buf, &len);
	if (rc == BERR_MANIFEST_UNKNOWN || rc == BERR_BLOB_UNKNOWN) {
		berr_leave(&probe);
		g->st->manifests_dangling++; /* fsck --repair's business */
		return BERR_OK;
	}
	if (berr_pass(&probe, rc))
		return rc;
	if ((rc = mem_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 16, "manifests"))) {
		free(buf);
		return rc;
	}
	r = &l->v[l->n];
	memset(r, 0, sizeof(*r));
	r->d = d;
	r->mtime = sb.st_mtim;
	berr_enter(&probe);
	rc = manifest_parse(&r->m, mt, buf, len);
	berr_leave(&probe);
	free(buf);
	if (rc)
		return berr_set(BERR_INTERNAL, "%s@%s cannot be parsed (%s): gc cannot tell what it "
				"references and stopped before sweeping any blob; see berthctl fsck",
				name, digest_format(&d, ds), probe.detail);
	l->n++;
	return BERR_OK;
}

static enum berr load_manifests(struct gc *g, const char *name, struct rlist *l)
{
	char dir[PATH_MAX];
	struct dirent *de;
	enum berr rc = BERR_OK;
	size_t i;
	DIR *dh;

	for (i = 0; rc == BERR_OK && i < LAYOUT_ALG_COUNT; i++) {
		rc = layout_alg_dir(g->s, name, LAYOUT_MANIFESTS, layout_algs[i], dir, sizeof(dir));
		if (rc)
			break;
		if (!(dh = opendir(dir))) {
			if (errno != ENOENT && errno != ENOTDIR)
				rc = berr_sys("opendir", dir);
			continue;
		}
		while (rc == BERR_OK && (de = readdir(dh)))
			if ((rc = gc_tick(g)) == BERR_OK)
				rc = load_one(g, name, digest_alg_name(layout_algs[i]), dirfd(dh),
					      de->d_name, l);
		closedir(dh);
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_rman);
	return rc;
}

static void read_tags(struct gc *g, const char *name, struct rlist *l)
{
	char dir[PATH_MAX], path[PATH_MAX], buf[DIGEST_STR_MAX + 8];
	struct berr_ctx quiet; /* an unreadable tag only leaves its manifest untagged */
	struct dirent *de;
	struct digest d;
	struct rman *r;
	DIR *dh;

	berr_enter(&quiet);
	if (layout_repo_sub(g->s, name, LAYOUT_TAGS, dir, sizeof(dir)) || !(dh = opendir(dir))) {
		berr_leave(&quiet);
		return;
	}
	while ((de = readdir(dh))) {
		if (!layout_is_tag(de->d_name) ||
		    fs_path(path, sizeof(path), "%s/%s", dir, de->d_name) != BERR_OK ||
		    fs_read_str(path, buf, sizeof(buf), NULL, BERR_MANIFEST_UNKNOWN) != BERR_OK)
			continue;
		buf[strcspn(buf, " \t\r\n")] = '\0';
		if (digest_parse_quiet(&d, buf) && (r = rlist_find(l, &d)))
			r->tagged = 1;
	}
	closedir(dh);
	berr_leave(&quiet);
}

/* Locked against deletion (or the lock cannot be read: keep it too). */
static int delete_locked(struct gc *g, const char *name, const struct digest *d)
{
	struct berr_ctx probe;
	enum berr rc;

	berr_enter(&probe);
	rc = store_lock_check_delete(g->s, name, NULL, d);
	berr_leave(&probe);
	return rc != BERR_OK;
}

/* Which manifests stay: all of them, or with --untagged the closure of the
 * tagged, the young and the delete-locked ones under "children of a kept
 * index" and "referrers of a kept subject". */
static void decide(struct gc *g, const char *name, struct rlist *l)
{
	struct rman *r, *k;
	size_t i, j;
	int changed = 1;

	for (i = 0; i < l->n; i++) {
		r = &l->v[i];
		r->keep = !g->o->untagged || r->tagged || !ts_before(&r->mtime, &g->young) ||
			  delete_locked(g, name, &r->d);
	}
	while (g->o->untagged && changed) {
		changed = 0;
		for (i = 0; i < l->n; i++) {
			r = &l->v[i];
			for (j = 0; r->keep && j < r->m.nrefs; j++)
				if (r->m.refs[j].kind == MREF_MANIFEST &&
				    (k = rlist_find(l, &r->m.refs[j].digest)) && !k->keep)
					changed = k->keep = 1;
			if (!r->keep && r->m.has_subject && (k = rlist_find(l, &r->m.subject.digest)) &&
			    k->keep)
				changed = r->keep = 1;
		}
	}
}

/* --untagged: delete what decide() dropped.  Indexes go before their
 * children (a child is refused while a linked index names it), hence the
 * passes; one still refused at the end is kept (a PUT named it meanwhile). */
static enum berr delete_unkept(struct gc *g, const char *name, struct rlist *l)
{
	char obj[REF_NAME_MAX + DIGEST_STR_MAX + 2], ds[DIGEST_STR_MAX], link[PATH_MAX];
	struct berr_ctx refused;
	struct stat sb;
	struct rman *r;
	enum berr rc = BERR_OK;
	size_t i;
	int pass;

	for (pass = 0; rc == BERR_OK && pass < DELETE_PASSES; pass++) {
		for (i = 0; rc == BERR_OK && i < l->n; i++) {
			r = &l->v[i];
			if (r->keep || r->deleted || (rc = gc_tick(g)))
				continue;
			snprintf(obj, sizeof(obj), "%s@%s", name, digest_format(&r->d, ds));
			if (!g->o->dry_run) {
				rc = layout_link(g->s, name, LAYOUT_MANIFESTS, &r->d, link,
						 sizeof(link));
				if (rc)
					break;
				if (lstat(link, &sb) == 0 && !gc_older(&sb, &g->young)) {
					r->keep = 1; /* pushed again since we looked */
					continue;
				}
				/* refused (an index named it meanwhile) or gone:
				 * an answer, not a failure of the run */
				berr_enter(&refused);
				rc = store_manifest_delete(g->s, name, &r->d, 0);
				if (rc == BERR_DENIED || rc == BERR_MANIFEST_UNKNOWN) {
					berr_leave(&refused);
					r->deleted = rc == BERR_MANIFEST_UNKNOWN;
					rc = BERR_OK;
					continue;
				}
				if (berr_pass(&refused, rc))
					break;
			}
			r->deleted = 1;
			g->st->manifests_removed++;
			gc_item(g, "manifest", obj, 0);
		}
	}
	for (i = 0; i < l->n; i++)
		if (!l->v[i].deleted)
			l->v[i].keep = 1;
	return rc;
}

static enum berr mark_kept(struct gc *g, struct rlist *l)
{
	const struct manifest_ref *ref;
	enum berr rc = BERR_OK;
	size_t i, j;

	for (i = 0; rc == BERR_OK && i < l->n; i++) {
		if (!l->v[i].keep)
			continue;
		g->st->manifests_kept++;
		rc = gc_mark_add(&g->all, &l->v[i].d);
		if (rc == BERR_OK)
			rc = gc_mark_add(&g->repo, &l->v[i].d);
		for (j = 0; rc == BERR_OK && j < l->v[i].m.nrefs; j++) {
			ref = &l->v[i].m.refs[j];
			if (ref->external)
				continue;
			rc = gc_mark_add(&g->all, &ref->digest);
			if (rc == BERR_OK)
				rc = gc_mark_add(&g->repo, &ref->digest);
		}
	}
	return rc;
}

/* _blobs links that no kept manifest of the repository names. */
static enum berr sweep_links(struct gc *g, const char *name, long *left)
{
	char dir[PATH_MAX], ds[DIGEST_STR_MAX], obj[REF_NAME_MAX + DIGEST_STR_MAX + 2];
	struct dirent *de;
	struct digest d;
	enum berr rc = BERR_OK;
	size_t i;
	DIR *dh;
	int r;

	for (i = 0; rc == BERR_OK && i < LAYOUT_ALG_COUNT; i++) {
		rc = layout_alg_dir(g->s, name, LAYOUT_BLOBS, layout_algs[i], dir, sizeof(dir));
		if (rc || !(dh = opendir(dir)))
			continue;
		while (rc == BERR_OK && (de = readdir(dh))) {
			if (de->d_name[0] == '.') {
				gc_recover_dot(g, dirfd(dh), de->d_name);
				continue;
			}
			if (layout_link_digest(digest_alg_name(layout_algs[i]), de->d_name, &d) != 0)
				continue;
			digest_format(&d, ds);
			if ((rc = gc_tick(g)))
				break;
			if (gc_mark_has(&g->repo, &d) || gc_touched_since(g, dirfd(dh), de->d_name, NULL)) {
				(*left)++;
				continue;
			}
			snprintf(obj, sizeof(obj), "%s@%s", name, ds);
			r = g->o->dry_run ? 1 : gc_remove_two_phase(g, dirfd(dh), de->d_name, obj,
								  gc_touched_since, NULL);
			if (r < 0)
				rc = BERR_INTERNAL;
			else if (r == 0)
				(*left)++;
			else {
				g->st->links_removed++;
				gc_item(g, "link", obj, 0);
			}
		}
		closedir(dh);
	}
	return rc;
}

/* Judge for an entry moved aside: needed again if its manifest is linked. */
static int entry_needed(struct gc *g, int dirfd, const char *trashed, void *arg)
{
	(void)g;
	(void)dirfd;
	(void)trashed;
	return fs_exists(arg);
}

/* Entries of one key directory (_referrers/<alg>/<hex> or _parents/...). */
static enum berr sweep_entry_dir(struct gc *g, const char *name, const char *dir)
{
	char link[PATH_MAX], obj[PATH_MAX];
	struct dirent *de;
	struct digest d;
	enum berr rc = BERR_OK;
	DIR *dh;
	int r;

	if (!(dh = opendir(dir)))
		return BERR_OK;
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (de->d_name[0] == '.') {
			gc_recover_dot(g, dirfd(dh), de->d_name);
			continue;
		}
		if (layout_entry_digest(de->d_name, &d) != 0 || (rc = gc_tick(g)))
			continue;
		rc = layout_link(g->s, name, LAYOUT_MANIFESTS, &d, link, sizeof(link));
		if (rc || fs_exists(link) || gc_touched_since(g, dirfd(dh), de->d_name, NULL))
			continue;
		if (snprintf(obj, sizeof(obj), "%s/%s", dir, de->d_name) >= (int)sizeof(obj))
			continue;
		r = g->o->dry_run ? 1 : gc_remove_two_phase(g, dirfd(dh), de->d_name, obj,
							  entry_needed, link);
		if (r < 0)
			rc = BERR_INTERNAL;
		else if (r > 0) {
			g->st->entries_removed++;
			gc_item(g, "entry", obj, 0);
		}
	}
	closedir(dh);
	if (rc == BERR_OK && !g->o->dry_run)
		rmdir(dir); /* when empty; a writer's new entry keeps it */
	return rc;
}

static enum berr sweep_entries(struct gc *g, const char *name)
{
	char dir[PATH_MAX], sub[PATH_MAX];
	struct dirent *de;
	enum berr rc = BERR_OK;
	size_t i, j;
	DIR *dh;

	for (i = 0; rc == BERR_OK && i < LAYOUT_SUB_COUNT * LAYOUT_ALG_COUNT; i++) {
		if (!(layout_subs[i / LAYOUT_ALG_COUNT].flags & LAYOUT_ENTRIES))
			continue;
		rc = layout_alg_dir(g->s, name, (enum layout_sub)(i / LAYOUT_ALG_COUNT),
				    layout_algs[i % LAYOUT_ALG_COUNT], dir, sizeof(dir));
		if (rc || !(dh = opendir(dir)))
			continue;
		for (j = 0; rc == BERR_OK && (de = readdir(dh)); j++) {
			if (de->d_name[0] == '.')
				continue;
			rc = fs_path(sub, sizeof(sub), "%s/%s", dir, de->d_name);
			if (rc == BERR_OK)
				rc = sweep_entry_dir(g, name, sub);
		}
		closedir(dh);
	}
	return rc;
}

/* rmdir `path` and the directories below it that are empty; never a file. */
static void rmdir_empty(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *dh;

	if (!(dh = opendir(path)))
		return;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.' && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
		    fs_path(sub, sizeof(sub), "%s/%s", path, de->d_name) == BERR_OK)
			rmdir_empty(sub);
	closedir(dh);
	rmdir(path);
}

/* The stale tags of an emptied repository (a tag is set only on a linked
 * manifest), each unless touched since the cutoff. */
static void drop_stale_tags(struct gc *g, const char *name)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *dh;

	if (layout_repo_sub(g->s, name, LAYOUT_TAGS, dir, sizeof(dir)) || !(dh = opendir(dir)))
		return;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.' && !gc_touched_since(g, dirfd(dh), de->d_name, NULL))
			unlinkat(dirfd(dh), de->d_name, 0);
	closedir(dh);
}

/* Nothing linked is left: its tags can only be stale, and its directories
 * (the LAYOUT_CONTENT rows; a locked repository never gets here) go if
 * they are empty.  Best effort in its own error context: what stays is
 * looked at again by the next run. */
static void remove_repo(struct gc *g, const char *name)
{
	char sub[PATH_MAX];
	struct berr_ctx quiet;
	size_t i;

	if (g->o->dry_run) {
		g->st->repos_removed++;
		gc_item(g, "repository", name, 0);
		return;
	}
	berr_enter(&quiet);
	drop_stale_tags(g, name);
	for (i = 0; i < LAYOUT_SUB_COUNT; i++)
		if ((layout_subs[i].flags & LAYOUT_CONTENT) &&
		    layout_repo_sub(g->s, name, (enum layout_sub)i, sub, sizeof(sub)) == BERR_OK)
			rmdir_empty(sub);
	if (!store_repo_exists(g->s, name) &&
	    (layout_repo_rmdir(g->s, name) || !store_repo_exists(g->s, name))) {
		g->st->repos_removed++;
		gc_item(g, "repository", name, 0);
	}
	berr_leave(&quiet);
}

/* Has `path` changed since `before` (absent: no)? */
static int changed_since(const char *path, const struct timespec *before)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && !gc_older(&sb, before);
}

/* No directory of the repository where names appear (itself, its
 * LAYOUT_NAMED directories, per algorithm for links) changed since
 * T0 - max(grace, REPO_IDLE). */
static int repo_idle(struct gc *g, const char *name)
{
	struct timespec before = g->t0;
	char path[PATH_MAX];
	struct berr_ctx quiet;
	int idle;
	size_t i, j;

	before.tv_sec -= g->o->grace > REPO_IDLE ? g->o->grace : REPO_IDLE;
	berr_enter(&quiet);
	idle = layout_repo(g->s, name, path, sizeof(path)) == BERR_OK &&
	       !changed_since(path, &before);
	for (i = 0; idle && i < LAYOUT_SUB_COUNT; i++) {
		enum layout_sub sub = (enum layout_sub)i;

		if (!(layout_subs[i].flags & LAYOUT_NAMED))
			continue;
		if (!(layout_subs[i].flags & LAYOUT_LINKS)) {
			idle = layout_repo_sub(g->s, name, sub, path, sizeof(path)) == BERR_OK &&
			       !changed_since(path, &before);
			continue;
		}
		for (j = 0; idle && j < LAYOUT_ALG_COUNT; j++)
			idle = layout_alg_dir(g->s, name, sub, layout_algs[j], path,
					      sizeof(path)) == BERR_OK &&
			       !changed_since(path, &before);
	}
	berr_leave(&quiet);
	return idle;
}

enum berr gc_repo(struct gc *g, const char *name)
{
	struct rlist l = { 0 };
	enum berr rc;
	long left = 0;
	size_t i;
	int idle = repo_idle(g, name);

	gc_mark_clear(&g->repo);
	rc = load_manifests(g, name, &l);
	if (rc == BERR_OK) {
		read_tags(g, name, &l);
		decide(g, name, &l);
		rc = delete_unkept(g, name, &l);
	}
	if (rc == BERR_OK)
		rc = mark_kept(g, &l);
	if (rc == BERR_OK)
		rc = sweep_links(g, name, &left);
	if (rc == BERR_OK)
		rc = sweep_entries(g, name);
	if (rc == BERR_OK) {
		for (i = 0; i < l.n; i++)
			l.files -= l.v[i].deleted;
		if (l.files == 0 && left == 0 && idle && !store_lock_any(g->s, name))
			remove_repo(g, name);
	}
	rlist_release(&l);
	return rc;
}

