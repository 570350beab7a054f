/*
 * ctl_store.c - the administrators' store commands (ctl_store.h): online
 * garbage collection, repositories, tags, disk usage and upload sessions,
 * and the table that dispatches them.  They work on the store directly,
 * like everything in berthctl, while pools keep serving: each change goes
 * through the same store/ functions the API uses, so it keeps the same
 * ordering and races closed (store/delete.c, store/gc.c).
 *
 * Output is one line per thing for people, one JSON document with --json;
 * errors go to stderr as "berthctl CMD: what failed: why" (ctl/ctl.c has
 * the helpers every command file shares for that).
 *
 * `fsck` lives in ctl/ctl_fsck.c, `lock` and `unlock` in ctl/ctl_lock.c;
 * all are dispatched from here.  repo rm and tag rm respect those locks
 * (store/locks.c) unless --force.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci/ref.h"
#include "store/gc.h"
#include "store/layout.h"
#include "util/fs.h"
#include "util/mem.h"
#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "ctl/ctl_fsck.h"
#include "ctl/ctl_lock.h"
#include "ctl/ctl_store.h"

struct cmd {
	const char *name;
	const char *usage;
	int (*run)(const struct config *cfg, struct store *st, int argc, char **argv);
};

static const struct cmd *find_cmd(const char *name, const char *sub);

static int help(const char *name, const char *sub)
{
	const struct cmd *c = find_cmd(name, sub);

	return ctl_help(c ? c->usage : name);
}

/* ---- gc ---- */

struct gc_out {
	int json, verbose, dry_run, tty;
	json_t *items;
};

static void gc_item_cb(void *ctx, const char *kind, const char *object, long long bytes)
{
	struct gc_out *o = ctx;
	char hb[32];

	if (!o->dry_run)
		ctl_audit_gc(kind, object, bytes);
	if (o->json) {
		json_array_append_new(o->items, json_pack("{s:s, s:s, s:I}", "kind", kind,
							  "object", object, "bytes", (json_int_t)bytes));
		return;
	}
	if (!o->dry_run && !o->verbose)
		return;
	if (o->tty)
		fprintf(stderr, "\r\033[K");
	if (bytes > 0)
		printf("%s %-10s %s (%s)\n", o->dry_run ? "would remove" : "removed", kind, object,
		       ctl_human(bytes, hb, sizeof(hb)));
	else
		printf("%s %-10s %s\n", o->dry_run ? "would remove" : "removed", kind, object);
}

static void gc_progress_cb(void *ctx, const char *phase, long done)
{
	struct gc_out *o = ctx;

	if (o->tty && phase)
		fprintf(stderr, "\r\033[Kgc: %s: %ld looked at", phase, done);
}

static void gc_print(const struct gc_stats *s, int dry_run)
{
	char hf[32], hk[32], up[64] = "";
	const char *rm = dry_run ? "would remove" : "removed";

	printf("gc%s: %ld repositories (%s %ld); manifests: %ld kept, %s %ld%s",
	       dry_run ? " (dry run)" : "", s->repos, rm, s->repos_removed, s->manifests_kept, rm,
	       s->manifests_removed, s->manifests_dangling ? "" : "\n");
	if (s->manifests_dangling)
		printf(", %ld dangling links (see fsck --repair)\n", s->manifests_dangling);
	printf("blobs: %ld kept (%s; %ld unreferenced but within the grace period, %ld touched by "
	       "a writer while being removed), %s %ld (%s %s)\n", s->blobs_kept,
	       ctl_human(s->bytes_kept, hk, sizeof(hk)), s->blobs_recent, s->blobs_raced, rm,
	       s->blobs_removed, ctl_human(s->bytes_freed, hf, sizeof(hf)),
	       dry_run ? "to free" : "freed");
	if (!dry_run) /* a dry run sweeps nothing */
		snprintf(up, sizeof(up), ", %ld expired uploads/temporaries", s->uploads_removed);
	printf("also %s: %ld repository links, %ld referrer/parent entries%s; "
	       "%ld put back from a dead collector's trash\n", rm, s->links_removed,
	       s->entries_removed, up, s->trash_recovered);
	printf("took %.3f s\n", s->seconds);
}

static json_t *gc_json(const struct gc_stats *s, int dry_run, json_t *items)
{
	return json_pack("{s:b, s:I, s:f, s:{s:I, s:I}, s:{s:I, s:I, s:I}, "
			 "s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:o}",
		"dry_run", dry_run, "epoch", (json_int_t)s->epoch, "seconds", s->seconds,
		"repositories", "seen", (json_int_t)s->repos, "removed", (json_int_t)s->repos_removed,
		"manifests", "kept", (json_int_t)s->manifests_kept,
		"removed", (json_int_t)s->manifests_removed,
		"dangling", (json_int_t)s->manifests_dangling,
		"blobs", "kept", (json_int_t)s->blobs_kept, "removed", (json_int_t)s->blobs_removed,
		"recent", (json_int_t)s->blobs_recent, "raced", (json_int_t)s->blobs_raced,
		"bytes_kept", (json_int_t)s->bytes_kept, "bytes_freed", (json_int_t)s->bytes_freed,
		"links_removed", (json_int_t)s->links_removed,
		"entries_removed", (json_int_t)s->entries_removed,
		"uploads_removed", (json_int_t)s->uploads_removed,
		"trash_recovered", (json_int_t)s->trash_recovered, "removed", items);
}

static int cmd_gc(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--dry-run", "--untagged", "--older-than=",
					     "--grace=", "--verbose", "-v", NULL };
	const char *v[6] = { 0 };
	struct gc_options o = { 0 };
	struct gc_out out = { 0 };
	struct gc_stats s;
	struct ctl_args a;
	enum berr rc;
	int ex;

	if ((ex = ctl_parse_args("gc", argc, argv, names, v, 0, &a)))
		return ex;
	if (a.help)
		return help("gc", NULL);
	o.dry_run = v[0] != NULL;
	o.untagged = v[1] != NULL;
	o.grace = 3600;
	if (v[2] && (!o.untagged || (o.older_than = gc_parse_duration(v[2])) < 0))
		return ctl_fail(CTL_EX_USAGE, "gc", o.untagged ? "--older-than %s: not a duration "
				"(7d, 12h, 30m, 45s)" : "--older-than %s only goes with --untagged",
				v[2]);
	if (v[3] && (o.grace = gc_parse_duration(v[3])) < 0)
		return ctl_fail(CTL_EX_USAGE, "gc", "--grace %s: not a duration (1h, 30m, 0)", v[3]);
	out.json = a.json;
	out.verbose = v[4] || v[5];
	out.dry_run = o.dry_run;
	out.tty = !a.json && isatty(STDERR_FILENO);
	out.items = a.json ? json_array() : NULL;
	o.item = gc_item_cb;
	o.progress = gc_progress_cb;
	o.ctx = &out;
	if (cfg && cfg->upload_ttl > 0)
		st->upload_ttl = cfg->upload_ttl;
	rc = store_gc(st, &o, &s);
	if (out.tty)
		fprintf(stderr, "\r\033[K");
	if (rc) {
		json_decref(out.items);
		return ctl_fail(rc == BERR_BUSY ? CTL_EX_PROBLEM : CTL_EX_STORE, "gc", "%s",
				berr_detail());
	}
	if (a.json)
		ctl_json_print(gc_json(&s, o.dry_run, out.items));
	else
		gc_print(&s, o.dry_run);
	return CTL_EX_OK;
}

/* ---- repositories and tags ---- */

static int cmd_repo_ls(const struct config *cfg, struct store *st, int argc, char **argv)
{
	char **names = NULL;
	struct store_repo_counts c;
	size_t n = 0, i;
	json_t *arr = NULL;
	struct ctl_args a;
	int more, ex;

	if ((ex = ctl_parse_args("repo ls", argc, argv, NULL, NULL, 0, &a)))
		return ex;
	if (a.help)
		return help("repo", "ls");
	if (store_catalog(st, NULL, -1, &names, &n, &more))
		return ctl_fail(CTL_EX_STORE, "repo ls", "%s", berr_detail());
	if (a.json)
		arr = json_array();
	else if (n)
		printf("%-40s %8s %10s %10s\n", "REPOSITORY", "TAGS", "MANIFESTS", "BLOB LINKS");
	for (i = 0; i < n; i++) {
		if (store_repo_count(st, names[i], &c) != BERR_OK)
			memset(&c, 0, sizeof(c)); /* a name the catalog gave: cannot happen */
		if (a.json)
			json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "name", names[i],
				"tags", (json_int_t)c.tags, "manifests", (json_int_t)c.manifests,
				"blob_links", (json_int_t)c.blob_links));
		else
			printf("%-40s %8ld %10ld %10ld\n", names[i], c.tags, c.manifests,
			       c.blob_links);
	}
	store_tag_list_free(names, n);
	if (a.json)
		ctl_json_print(json_pack("{s:o}", "repositories", arr));
	return CTL_EX_OK;
}

static int check_repo(const char *cmd, struct store *st, const char *name)
{
	if (ref_name_check(name) != BERR_OK)
		return ctl_fail(CTL_EX_USAGE, cmd, "\"%s\" is not a valid repository name", name);
	if (!store_repo_exists(st, name))
		return ctl_fail(CTL_EX_PROBLEM, cmd, "repository %s is not known", name);
	return CTL_EX_OK;
}

static int cmd_repo_rm(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--force", NULL };
	const char *v[1] = { 0 };
	struct store_repo_counts c;
	struct ctl_args a;
	enum berr rc = BERR_OK;
	int ex;

	if ((ex = ctl_parse_args("repo rm", argc, argv, names, v, 1, &a)))
		return ex;
	if (a.help)
		return help("repo", "rm");
	if (a.npos != 1)
		return ctl_fail(CTL_EX_USAGE, "repo rm", "which repository? (berthctl repo rm NAME)");
	if ((ex = check_repo("repo rm", st, a.pos[0])))
		return ex;
	if (!v[0] && (rc = store_lock_check_repo_remove(st, a.pos[0])))
		return ctl_fail(ctl_exit_for(rc), "repo rm", "%s%s", berr_detail(),
				rc == BERR_DENIED ? " (or repo rm --force)" : "");
	if (store_repo_remove(st, a.pos[0], &c))
		return ctl_fail(CTL_EX_STORE, "repo rm", "%s", berr_detail());
	ctl_audit_note("repo_rm", a.pos[0], NULL, NULL, v[0] ? "forced" : NULL);
	if (a.json)
		ctl_json_print(json_pack("{s:s, s:I, s:I, s:I, s:I}", "removed", a.pos[0], "tags",
					 (json_int_t)c.tags, "manifests", (json_int_t)c.manifests,
					 "blob_links", (json_int_t)c.blob_links, "locks",
					 (json_int_t)c.locks));
	else
		printf("removed repository %s (%ld tags, %ld manifests, %ld blob links%s); "
		       "blobs no other repository uses go at the next gc\n", a.pos[0], c.tags,
		       c.manifests, c.blob_links, c.locks ? ", and its locks" : "");
	return CTL_EX_OK;
}

static int cmd_tag_ls(const struct config *cfg, struct store *st, int argc, char **argv)
{
	char **tags = NULL, ds[DIGEST_STR_MAX];
	size_t n = 0, i;
	struct digest d;
	json_t *arr = NULL;
	struct ctl_args a;
	int more, ex;

	if ((ex = ctl_parse_args("tag ls", argc, argv, NULL, NULL, 1, &a)))
		return ex;
	if (a.help)
		return help("tag", "ls");
	if (a.npos != 1)
		return ctl_fail(CTL_EX_USAGE, "tag ls", "which repository? (berthctl tag ls NAME)");
	if ((ex = check_repo("tag ls", st, a.pos[0])))
		return ex;
	if (store_tag_list(st, a.pos[0], NULL, -1, &tags, &n, &more))
		return ctl_fail(ctl_exit_for(BERR_NAME_UNKNOWN), "tag ls", "%s", berr_detail());
	if (a.json)
		arr = json_array();
	for (i = 0; i < n; i++) {
		struct berr_ctx probe; /* a stale tag is listed, not an error */
		int ok;

		berr_enter(&probe);
		ok = store_tag_resolve(st, a.pos[0], tags[i], &d) == BERR_OK;
		berr_leave(&probe);
		if (a.json)
			json_array_append_new(arr, json_pack("{s:s, s:s?}", "tag", tags[i],
							     "digest", ok ? digest_format(&d, ds) : NULL));
		else
			printf("%-40s %s\n", tags[i], ok ? digest_format(&d, ds) :
			       "(stale: names a manifest that is gone)");
	}
	store_tag_list_free(tags, n);
	if (a.json)
		ctl_json_print(json_pack("{s:s, s:o}", "repository", a.pos[0], "tags", arr));
	return CTL_EX_OK;
}

static int cmd_tag_rm(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--force", NULL };
	const char *v[1] = { 0 };
	char name[REF_NAME_MAX + REF_TAG_MAX + 2], *colon, ds[DIGEST_STR_MAX];
	struct digest d;
	struct ctl_args a;
	enum berr rc;
	int ex, had, locked = 0;

	if ((ex = ctl_parse_args("tag rm", argc, argv, names, v, 1, &a)))
		return ex;
	if (a.help)
		return help("tag", "rm");
	if (a.npos != 1 || snprintf(name, sizeof(name), "%s", a.pos[0]) >= (int)sizeof(name) ||
	    !(colon = strrchr(name, ':')) || strchr(colon, '/'))
		return ctl_fail(CTL_EX_USAGE, "tag rm",
				"expected NAME:TAG (berthctl tag rm myapp:1.0)");
	*colon = '\0';
	if ((ex = check_repo("tag rm", st, name)))
		return ex;
	if (ref_tag_check(colon + 1) != BERR_OK)
		return ctl_fail(CTL_EX_USAGE, "tag rm", "\"%s\" is not a valid tag", colon + 1);
	if (!v[0] && (rc = store_lock_check_delete(st, name, colon + 1, NULL)))
		return ctl_fail(ctl_exit_for(rc), "tag rm", "%s%s", berr_detail(),
				rc == BERR_DENIED ? " (or tag rm --force)" : "");
	had = store_tag_resolve(st, name, colon + 1, &d) == BERR_OK;
	rc = store_tag_delete(st, name, colon + 1);
	/* Forced: the tag's own lock goes with it, or it would bind a new tag
	 * of the same name. */
	if (v[0] && (rc == BERR_OK || rc == BERR_MANIFEST_UNKNOWN) &&
	    store_lock_clear(st, name, colon + 1, NULL, NULL, &locked) == BERR_OK && locked)
		rc = BERR_OK;
	if (rc)
		return ctl_fail(ctl_exit_for(rc), "tag rm", "%s", berr_detail());
	if (a.json)
		ctl_json_print(json_pack("{s:s, s:s, s:s?, s:b}", "repository", name, "removed",
					 colon + 1, "digest", had ? digest_format(&d, ds) : NULL,
					 "unlocked", locked));
	else
		printf("removed tag %s:%s%s%s%s\n", name, colon + 1, had ? ", it named " : "",
		       had ? digest_format(&d, ds) : "", locked ? ", and its lock" : "");
	return CTL_EX_OK;
}

/* ---- du ---- */

struct du_ent {
	char key[DIGEST_STR_MAX];
	long long size;
};

struct du {
	struct du_ent *v;
	size_t n, cap;
};

static int cmp_du(const void *a, const void *b)
{
	return strcmp(((const struct du_ent *)a)->key, ((const struct du_ent *)b)->key);
}

/* Sizes of the blobs linked in one link directory (sub) of the repository,
 * added to *bytes and remembered in du (for the distinct total). */
static enum berr du_links(struct store *st, const char *name, enum layout_sub sub, struct du *du,
			  long long *bytes, long *count)
{
	char dir[PATH_MAX];
	struct berr_ctx probe; /* a link whose blob is gone counts nothing */
	struct dirent *de;
	struct digest d;
	int64_t size;
	enum berr rc = BERR_OK;
	size_t i;
	DIR *dh;

	for (i = 0; rc == BERR_OK && i < LAYOUT_ALG_COUNT; i++) {
		if (layout_alg_dir(st, name, sub, layout_algs[i], dir, sizeof(dir)) ||
		    !(dh = opendir(dir)))
			continue;
		while (rc == BERR_OK && (de = readdir(dh))) {
			if (layout_link_digest(digest_alg_name(layout_algs[i]), de->d_name, &d))
				continue;
			berr_enter(&probe);
			rc = store_blob_stat(st, &d, &size);
			berr_leave(&probe);
			if (rc) {
				rc = BERR_OK;
				continue;
			}
			*bytes += size;
			(*count)++;
			rc = mem_grow(&du->v, &du->cap, du->n + 1, sizeof(*du->v), 256, "du");
			if (rc == BERR_OK) {
				digest_format(&d, du->v[du->n].key);
				du->v[du->n++].size = size;
			}
		}
		closedir(dh);
	}
	return rc;
}

/* Bytes of every file under blobs/<alg>/<xx>/ (what the disk holds). */
static long long du_stored(struct store *st, long *files)
{
	char dir[PATH_MAX], fan[PATH_MAX];
	struct dirent *de, *fe;
	struct stat sb;
	long long total = 0;
	DIR *dh, *fh;
	size_t i;

	for (i = 0; i < LAYOUT_ALG_COUNT; i++) {
		if (layout_blob_alg_dir(st, layout_algs[i], dir, sizeof(dir)) || !(dh = opendir(dir)))
			continue;
		while ((de = readdir(dh))) {
			if (de->d_name[0] == '.' ||
			    fs_path(fan, sizeof(fan), "%s/%s", dir, de->d_name) || !(fh = opendir(fan)))
				continue;
			while ((fe = readdir(fh)))
				if (fe->d_name[0] != '.' &&
				    fstatat(dirfd(fh), fe->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
					total += sb.st_size;
					(*files)++;
				}
			closedir(fh);
		}
		closedir(dh);
	}
	return total;
}

static int cmd_du(const struct config *cfg, struct store *st, int argc, char **argv)
{
	char **names = NULL, h1[32], h2[32], h3[32], h4[32];
	long long sum = 0, uniq = 0, stored;
	long nstored = 0;
	struct du du = { 0 };
	size_t n = 0, i;
	json_t *arr = NULL;
	struct ctl_args a;
	int more, ex;

	if ((ex = ctl_parse_args("du", argc, argv, NULL, NULL, 0, &a)))
		return ex;
	if (a.help)
		return help("du", NULL);
	if (store_catalog(st, NULL, -1, &names, &n, &more))
		return ctl_fail(CTL_EX_STORE, "du", "%s", berr_detail());
	if (a.json)
		arr = json_array();
	else if (n)
		printf("%-40s %8s %14s\n", "REPOSITORY", "BLOBS", "BYTES");
	for (i = 0; i < n; i++) {
		long long bytes = 0;
		long count = 0;
		size_t from = du.n, j, k;

		if (du_links(st, names[i], LAYOUT_BLOBS, &du, &bytes, &count) ||
		    du_links(st, names[i], LAYOUT_MANIFESTS, &du, &bytes, &count)) {
			store_tag_list_free(names, n);
			free(du.v);
			json_decref(arr);
			return ctl_fail(CTL_EX_STORE, "du", "%s", berr_detail());
		}
		/* a manifest linked as blob too counts once per repository */
		qsort(du.v + from, du.n - from, sizeof(*du.v), cmp_du);
		for (j = k = from; j < du.n; j++) {
			if (k > from && strcmp(du.v[k - 1].key, du.v[j].key) == 0) {
				bytes -= du.v[j].size;
				count--;
				continue;
			}
			du.v[k++] = du.v[j];
		}
		du.n = k;
		sum += bytes;
		if (a.json)
			json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "name", names[i],
				"blobs", (json_int_t)count, "bytes", (json_int_t)bytes));
		else
			printf("%-40s %8ld %14lld  %s\n", names[i], count, bytes,
			       ctl_human(bytes, h1, sizeof(h1)));
	}
	if (du.n > 1)
		qsort(du.v, du.n, sizeof(*du.v), cmp_du);
	for (i = 0; i < du.n; i++)
		if (i == 0 || strcmp(du.v[i - 1].key, du.v[i].key) != 0)
			uniq += du.v[i].size;
	stored = du_stored(st, &nstored);
	store_tag_list_free(names, n);
	free(du.v);
	if (a.json) {
		ctl_json_print(json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "repositories", arr,
			"total_bytes", (json_int_t)sum, "unique_bytes", (json_int_t)uniq,
			"dedup_saved_bytes", (json_int_t)(sum - uniq), "stored_bytes", (json_int_t)stored,
			"stored_blobs", (json_int_t)nstored,
			"unlinked_bytes", (json_int_t)(stored > uniq ? stored - uniq : 0)));
		return CTL_EX_OK;
	}
	printf("total over repositories: %s; distinct blobs: %s; deduplication saves %s\n",
	       ctl_human(sum, h1, sizeof(h1)), ctl_human(uniq, h2, sizeof(h2)),
	       ctl_human(sum - uniq, h3, sizeof(h3)));
	printf("on disk: %ld blobs, %s, of which %s linked nowhere (gc removes it)\n", nstored,
	       ctl_human(stored, h1, sizeof(h1)),
	       ctl_human(stored > uniq ? stored - uniq : 0, h4, sizeof(h4)));
	return CTL_EX_OK;
}

/* ---- upload sessions ---- */

static int cmd_uploads_ls(const struct config *cfg, struct store *st, int argc, char **argv)
{
	char dir[PATH_MAX], lock[PATH_MAX];
	struct berr_ctx probe;
	struct dirent *de;
	struct upload u;
	enum berr rc;
	time_t now = time(NULL);
	json_t *arr = NULL;
	struct ctl_args a;
	DIR *dh;
	int ex, busy, old;

	if ((ex = ctl_parse_args("uploads ls", argc, argv, NULL, NULL, 0, &a)))
		return ex;
	if (a.help)
		return help("uploads", "ls");
	if (cfg && cfg->upload_ttl > 0)
		st->upload_ttl = cfg->upload_ttl;
	if (layout_uploads_dir(st, dir, sizeof(dir)) || !(dh = opendir(dir)))
		return ctl_fail(CTL_EX_STORE, "uploads ls", "opening %s: %s", dir, strerror(errno));
	if (a.json)
		arr = json_array();
	else
		printf("%-36s %-30s %12s %9s %s\n", "SESSION", "REPOSITORY", "BYTES", "IDLE (s)", "STATE");
	while ((de = readdir(dh))) {
		if (!ref_upload_id_valid(de->d_name))
			continue; /* not a session */
		berr_enter(&probe);
		rc = store_upload_info(st, de->d_name, &u);
		busy = rc == BERR_OK &&
		       layout_upload(st, u.id, LAYOUT_UPLOAD_LOCK, lock, sizeof(lock)) == BERR_OK &&
		       fs_exists(lock);
		berr_leave(&probe);
		if (rc)
			continue; /* one being created or removed */
		old = u.updated + st->upload_ttl < now;
		if (a.json)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:b}",
				"id", u.id, "repository", u.repo, "bytes", (json_int_t)u.offset,
				"created", (json_int_t)u.created, "updated", (json_int_t)u.updated,
				"idle_seconds", (json_int_t)(now - u.updated), "in_use", busy, "expired", old));
		else
			printf("%-36s %-30s %12lld %9lld %s\n", u.id, u.repo, (long long)u.offset,
			       (long long)(now - u.updated), busy ? "in use" : old ? "expired" : "idle");
	}
	closedir(dh);
	if (a.json)
		ctl_json_print(json_pack("{s:o, s:I}", "uploads", arr, "ttl",
					 (json_int_t)st->upload_ttl));
	return CTL_EX_OK;
}

static int cmd_uploads_purge(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--older-than=", NULL };
	const char *v[1] = { 0 };
	struct store copy;
	struct ctl_args a;
	long age;
	int ex, n = 0;

	if ((ex = ctl_parse_args("uploads purge", argc, argv, names, v, 0, &a)))
		return ex;
	if (a.help)
		return help("uploads", "purge");
	if (!v[0])
		return ctl_fail(CTL_EX_USAGE, "uploads purge",
				"--older-than DUR is required (e.g. 1d)");
	if ((age = gc_parse_duration(v[0])) < 0)
		return ctl_fail(CTL_EX_USAGE, "uploads purge",
				"--older-than %s: not a duration (1d, 12h, 30m)", v[0]);
	copy = *st;
	copy.upload_ttl = age;
	if (store_sweep(&copy, time(NULL), &n))
		return ctl_fail(CTL_EX_STORE, "uploads purge", "%s", berr_detail());
	if (a.json)
		ctl_json_print(json_pack("{s:I, s:I}", "removed", (json_int_t)n, "older_than",
					 (json_int_t)age));
	else
		printf("removed %d upload sessions idle longer than %s (and temporaries older than "
		       "an hour); sessions in use were left alone\n", n, v[0]);
	return CTL_EX_OK;
}

/* ---- dispatch ---- */

static const struct cmd cmds[] = {
	{ "gc", "gc [--dry-run] [--untagged [--older-than DUR]] [--grace DUR] [--json] [-v]\n"
	  "  collect garbage while the registry runs: blobs no manifest reaches, unused\n"
	  "  repository links, expired uploads, empty repositories.  --untagged also\n"
	  "  deletes manifests no tag and no kept index reaches (--older-than: only\n"
	  "  those linked longer ago, e.g. 7d).  --grace (default 1h): unreferenced\n"
	  "  things younger than this stay.  --dry-run lists what would go; -v lists\n"
	  "  what went.  One gc at a time: a second one exits 1 naming the first.",
	  cmd_gc },
	{ "repo ls", "repo ls [--json]\n  every repository with its tag, manifest and blob link counts",
	  cmd_repo_ls },
	{ "repo rm", "repo rm NAME [--force] [--json]\n  delete a repository (tags, manifests, "
	  "links, locks); its blobs go at the next\n  gc.  Refused while a no-delete lock is in it "
	  "(berthctl lock ls NAME), unless --force", cmd_repo_rm },
	{ "tag ls", "tag ls NAME [--json]\n  the tags of a repository and the digests they name",
	  cmd_tag_ls },
	{ "tag rm", "tag rm NAME:TAG [--force] [--json]\n  remove a tag (the manifest stays).  "
	  "Refused while the tag or the repository\n  has a no-delete lock, unless --force (which "
	  "removes the tag's lock too)", cmd_tag_rm },
	{ "du", "du [--json]\n  bytes per repository, their total, the distinct bytes, what "
	  "deduplication saves,\n  and what the disk holds", cmd_du },
	{ "uploads ls", "uploads ls [--json]\n  upload sessions: repository, bytes, idle time, state",
	  cmd_uploads_ls },
	{ "uploads purge", "uploads purge --older-than DUR [--json]\n  remove sessions idle longer "
	  "than DUR (sessions in use are left alone)", cmd_uploads_purge },
	{ "fsck", ctl_fsck_usage, ctl_fsck_run },
};

static const struct cmd *find_cmd(const char *name, const char *sub)
{
	char full[64];
	size_t i;

	snprintf(full, sizeof(full), "%s%s%s", name, sub ? " " : "", sub ? sub : "");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, full) == 0)
			return &cmds[i];
	return NULL;
}

static int has_sub(const char *name)
{
	return strcmp(name, "repo") == 0 || strcmp(name, "tag") == 0 || strcmp(name, "uploads") == 0;
}

int ctl_store_handles(const char *cmd)
{
	return cmd && (has_sub(cmd) || find_cmd(cmd, NULL) != NULL || ctl_lock_handles(cmd));
}

void ctl_store_usage(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		ctl_usage_line(f, cmds[i].usage);
	ctl_lock_usage(f);
}

static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int ctl_store_main(const struct config *cfg, struct store *st, int argc, char **argv)
{
	const struct cmd *c;
	size_t i;

	if (argc < 1 || !ctl_store_handles(argv[0]))
		return ctl_fail(CTL_EX_USAGE, argc ? argv[0] : "",
				"unknown command (try berthctl help)");
	if (ctl_lock_handles(argv[0]))
		return ctl_lock_main(cfg, st, argc, argv);
	if (!has_sub(argv[0])) {
		c = find_cmd(argv[0], NULL);
	} else if (argc < 2 || argv[1][0] == '-' || strcmp(argv[1], "help") == 0) {
		if (st == NULL || (argc >= 2 && wants_help(argc, argv))) {
			for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
				if (strncmp(cmds[i].name, argv[0], strlen(argv[0])) == 0)
					printf("usage: berthctl %s\n", cmds[i].usage);
			return CTL_EX_OK;
		}
		return ctl_fail(CTL_EX_USAGE, argv[0], "which one? (berthctl %s --help)", argv[0]);
	} else if (!(c = find_cmd(argv[0], argv[1]))) {
		return ctl_fail(CTL_EX_USAGE, argv[0],
				"unknown subcommand \"%s\" (berthctl %s --help)", argv[1], argv[0]);
	} else {
		argc--;
		argv++;
	}
	if (st == NULL) /* the caller saw a help request and opened nothing */
		return help(c->name, NULL);
	return c->run(cfg, st, argc, argv);
}
