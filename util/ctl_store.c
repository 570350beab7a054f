/*
 * ctl_store.c - the administrators' store commands (ctl_store.h): online
 * garbage collection, repositories, tags, disk usage, upload sessions and
 * fsck with repair.  They work on the store directly, like everything in
 * berthctl, while pools keep serving: each change goes through the same
 * store/ functions the API uses, so it keeps the same ordering and races
 * closed (store/delete.c, store/gc.c).
 *
 * Output is one line per thing for people, one JSON document with --json;
 * errors go to stderr as "berthctl CMD: what failed: why".
 *
 * `lock` and `unlock` live in util/ctl_lock.c and are dispatched from here.
 * repo rm and tag rm respect those locks (store/locks.c) unless --force.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/fs.h"
#include "store/fsck.h"
#include "store/gc.h"
#include "store/ref.h"
#include "util/ctl_lock.h"
#include "util/ctl_store.h"

enum { EX_OK = 0, EX_PROBLEM = 1, EX_USAGE = 2, EX_STORE = 3 };

struct cmd {
	const char *name;
	const char *usage;
	int (*run)(const struct config *cfg, struct store *st, int argc, char **argv);
};

static const struct cmd *find_cmd(const char *name, const char *sub);

static int fail(int code, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "berthctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* Exit code for a store error: not found / refused 1, malformed 2, else 3. */
static int exit_for(enum berr rc)
{
	switch (rc) {
	case BERR_OK: return EX_OK;
	case BERR_NAME_INVALID: case BERR_MANIFEST_INVALID: case BERR_DIGEST_INVALID:
		return EX_USAGE;
	case BERR_NAME_UNKNOWN: case BERR_MANIFEST_UNKNOWN: case BERR_BLOB_UNKNOWN:
	case BERR_BLOB_UPLOAD_UNKNOWN: case BERR_BUSY: case BERR_DENIED:
		return EX_PROBLEM;
	default: return EX_STORE;
	}
}

static void json_print(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

static const char *human(long long n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lld B", n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

/* What every command takes: --json, --help, positional arguments. */
struct args {
	int json, help, bad;
	const char *pos[2];
	int npos;
};

/* Parse argv[1..]: option names[k] sets vals[k] (to the next argument
 * when the name ends in '=', e.g. "--grace=" takes "--grace 1h"). */
static int parse_args(const char *cmd, int argc, char **argv, const char *const *names,
		      const char **vals, int maxpos, struct args *a)
{
	int i, k;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "--json") == 0) {
			a->json = 1;
			continue;
		}
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			a->help = 1;
			continue;
		}
		for (k = 0; names && names[k]; k++) {
			size_t n = strlen(names[k]);
			int valued = names[k][n - 1] == '=';

			if (strncmp(s, names[k], valued ? n - 1 : n) != 0 || s[valued ? n - 1 : n])
				continue;
			if (valued) {
				if (i + 1 >= argc)
					return fail(EX_USAGE, cmd, "%s needs a value", s);
				vals[k] = argv[++i];
			} else {
				vals[k] = s;
			}
			break;
		}
		if (names && names[k])
			continue;
		if (s[0] == '-')
			return fail(EX_USAGE, cmd, "unknown option %s (see --help)", s);
		if (a->npos >= maxpos)
			return fail(EX_USAGE, cmd, "unexpected argument \"%s\" (see --help)", s);
		a->pos[a->npos++] = s;
	}
	return EX_OK;
}

static int help(const char *name, const char *sub)
{
	const struct cmd *c = find_cmd(name, sub);

	printf("usage: berthctl %s\n", c ? c->usage : name);
	printf("exit codes: 0 ok, 1 problem or not found, 2 usage error, 3 store unreadable\n");
	return EX_OK;
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
		       human(bytes, hb, sizeof(hb)));
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
	char hf[32], hk[32];
	const char *rm = dry_run ? "would remove" : "removed";

	printf("gc%s: %ld repositories (%s %ld); manifests: %ld kept, %s %ld%s",
	       dry_run ? " (dry run)" : "", s->repos, rm, s->repos_removed, s->manifests_kept, rm,
	       s->manifests_removed, s->manifests_dangling ? "" : "\n");
	if (s->manifests_dangling)
		printf(", %ld dangling links (see fsck --repair)\n", s->manifests_dangling);
	printf("blobs: %ld kept (%s; %ld unreferenced but within the grace period, %ld touched by "
	       "a writer while being removed), %s %ld (%s %s)\n", s->blobs_kept,
	       human(s->bytes_kept, hk, sizeof(hk)), s->blobs_recent, s->blobs_raced, rm,
	       s->blobs_removed, human(s->bytes_freed, hf, sizeof(hf)),
	       dry_run ? "to free" : "freed");
	printf("also %s: %ld repository links, %ld referrer/parent entries%s%ld%s; "
	       "%ld put back from a dead collector's trash\n", rm, s->links_removed,
	       s->entries_removed, dry_run ? "" : ", ", dry_run ? 0 : s->uploads_removed,
	       dry_run ? "" : " expired uploads/temporaries", s->trash_recovered);
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
	struct args a;
	enum berr rc;
	int ex;

	if ((ex = parse_args("gc", argc, argv, names, v, 0, &a)))
		return ex;
	if (a.help)
		return help("gc", NULL);
	o.dry_run = v[0] != NULL;
	o.untagged = v[1] != NULL;
	o.grace = 3600;
	if (v[2] && (!o.untagged || (o.older_than = gc_parse_duration(v[2])) < 0))
		return fail(EX_USAGE, "gc", o.untagged ? "--older-than %s: not a duration (7d, 12h, "
			    "30m, 45s)" : "--older-than %s only goes with --untagged", v[2]);
	if (v[3] && (o.grace = gc_parse_duration(v[3])) < 0)
		return fail(EX_USAGE, "gc", "--grace %s: not a duration (1h, 30m, 0)", v[3]);
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
		return fail(rc == BERR_BUSY ? EX_PROBLEM : EX_STORE, "gc", "%s", berr_detail());
	}
	if (a.json)
		json_print(gc_json(&s, o.dry_run, out.items));
	else
		gc_print(&s, o.dry_run);
	return EX_OK;
}

/* ---- repositories and tags ---- */

static long count_files(const char *dir)
{
	struct dirent *de;
	long n = 0;
	DIR *d;

	if (!(d = opendir(dir)))
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static long count_links(struct store *st, const char *name, const char *kind)
{
	char dir[PATH_MAX];
	long n = 0;

	if (fs_path(dir, sizeof(dir), "%s/repos/%s/%s/sha256", st->root, name, kind) == BERR_OK)
		n += count_files(dir);
	if (fs_path(dir, sizeof(dir), "%s/repos/%s/%s/sha512", st->root, name, kind) == BERR_OK)
		n += count_files(dir);
	berr_clear();
	return n;
}

static int cmd_repo_ls(const struct config *cfg, struct store *st, int argc, char **argv)
{
	char **names = NULL, dir[PATH_MAX];
	size_t n = 0, i;
	json_t *arr = NULL;
	struct args a;
	int more, ex;

	if ((ex = parse_args("repo ls", argc, argv, NULL, NULL, 0, &a)))
		return ex;
	if (a.help)
		return help("repo", "ls");
	if (store_catalog(st, NULL, -1, &names, &n, &more))
		return fail(EX_STORE, "repo ls", "%s", berr_detail());
	if (a.json)
		arr = json_array();
	else if (n)
		printf("%-40s %8s %10s %10s\n", "REPOSITORY", "TAGS", "MANIFESTS", "BLOB LINKS");
	for (i = 0; i < n; i++) {
		long tags = 0, man = count_links(st, names[i], "_manifests");
		long blobs = count_links(st, names[i], "_blobs");

		if (fs_path(dir, sizeof(dir), "%s/repos/%s/_tags", st->root, names[i]) == BERR_OK)
			tags = count_files(dir);
		if (a.json)
			json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "name", names[i],
				"tags", (json_int_t)tags, "manifests", (json_int_t)man,
				"blob_links", (json_int_t)blobs));
		else
			printf("%-40s %8ld %10ld %10ld\n", names[i], tags, man, blobs);
	}
	store_tag_list_free(names, n);
	if (a.json)
		json_print(json_pack("{s:o}", "repositories", arr));
	return EX_OK;
}

static int check_repo(const char *cmd, struct store *st, const char *name)
{
	if (ref_name_check(name) != BERR_OK)
		return fail(EX_USAGE, cmd, "\"%s\" is not a valid repository name", name);
	if (!store_repo_exists(st, name))
		return fail(EX_PROBLEM, cmd, "repository %s is not known", name);
	return EX_OK;
}

/* Rename one of the repository's own directories into tmp/ and remove it
 * there: readers see it whole or gone. */
static enum berr drop_dir(struct store *st, const char *name, const char *sub)
{
	char dir[PATH_MAX], dead[PATH_MAX], rnd[17];
	enum berr rc;

	rc = fs_path(dir, sizeof(dir), "%s/repos/%s/%s", st->root, name, sub);
	if (rc == BERR_OK)
		rc = fs_random_hex(rnd, 8);
	if (rc == BERR_OK)
		rc = fs_path(dead, sizeof(dead), "%s/tmp/dead.repo.%s", st->root, rnd);
	if (rc)
		return rc;
	if (rename(dir, dead) != 0)
		return errno == ENOENT ? BERR_OK : berr_sys("moving aside", dir);
	fs_fsync_parent(dir);
	return fs_remove_tree(dead);
}

static int cmd_repo_rm(const struct config *cfg, struct store *st, int argc, char **argv)
{
	/* Publishing order backwards: tags, manifests, their entries, blob
	 * links; the locks last, once nothing they guard is left. */
	static const char *const subs[] = { "_tags", "_manifests", "_referrers", "_parents", "_blobs",
					    "_locks" };
	static const char *const names[] = { "--force", NULL };
	const char *v[1] = { 0 };
	char dir[PATH_MAX], up[REF_NAME_MAX + 1], *slash;
	long man, blobs, tags = 0, locks = 0;
	struct args a;
	enum berr rc = BERR_OK;
	size_t i;
	int ex;

	if ((ex = parse_args("repo rm", argc, argv, names, v, 1, &a)))
		return ex;
	if (a.help)
		return help("repo", "rm");
	if (a.npos != 1)
		return fail(EX_USAGE, "repo rm", "which repository? (berthctl repo rm NAME)");
	if ((ex = check_repo("repo rm", st, a.pos[0])))
		return ex;
	if (!v[0] && (rc = store_lock_check_repo_remove(st, a.pos[0])))
		return fail(exit_for(rc), "repo rm", "%s%s", berr_detail(),
			    rc == BERR_DENIED ? " (or repo rm --force)" : "");
	man = count_links(st, a.pos[0], "_manifests");
	blobs = count_links(st, a.pos[0], "_blobs");
	if (fs_path(dir, sizeof(dir), "%s/repos/%s/_tags", st->root, a.pos[0]) == BERR_OK)
		tags = count_files(dir);
	if (fs_path(dir, sizeof(dir), "%s/repos/%s/_locks", st->root, a.pos[0]) == BERR_OK)
		locks = count_files(dir);
	for (i = 0; rc == BERR_OK && i < sizeof(subs) / sizeof(subs[0]); i++)
		rc = drop_dir(st, a.pos[0], subs[i]);
	if (rc)
		return fail(EX_STORE, "repo rm", "%s", berr_detail());
	snprintf(up, sizeof(up), "%s", a.pos[0]);
	do { /* its directory, and parents that only held it */
		if (fs_path(dir, sizeof(dir), "%s/repos/%s", st->root, up) || rmdir(dir) != 0)
			break;
	} while ((slash = strrchr(up, '/')) && (*slash = '\0', 1));
	berr_clear();
	if (a.json)
		json_print(json_pack("{s:s, s:I, s:I, s:I, s:I}", "removed", a.pos[0], "tags",
				     (json_int_t)tags, "manifests", (json_int_t)man, "blob_links",
				     (json_int_t)blobs, "locks", (json_int_t)locks));
	else
		printf("removed repository %s (%ld tags, %ld manifests, %ld blob links%s); "
		       "blobs no other repository uses go at the next gc\n", a.pos[0], tags, man,
		       blobs, locks ? ", and its locks" : "");
	return EX_OK;
}

static int cmd_tag_ls(const struct config *cfg, struct store *st, int argc, char **argv)
{
	char **tags = NULL, ds[DIGEST_STR_MAX];
	size_t n = 0, i;
	struct digest d;
	json_t *arr = NULL;
	struct args a;
	int more, ex;

	if ((ex = parse_args("tag ls", argc, argv, NULL, NULL, 1, &a)))
		return ex;
	if (a.help)
		return help("tag", "ls");
	if (a.npos != 1)
		return fail(EX_USAGE, "tag ls", "which repository? (berthctl tag ls NAME)");
	if ((ex = check_repo("tag ls", st, a.pos[0])))
		return ex;
	if (store_tag_list(st, a.pos[0], NULL, -1, &tags, &n, &more))
		return fail(exit_for(BERR_NAME_UNKNOWN), "tag ls", "%s", berr_detail());
	if (a.json)
		arr = json_array();
	for (i = 0; i < n; i++) {
		int ok = store_tag_resolve(st, a.pos[0], tags[i], &d) == BERR_OK;

		berr_clear();
		if (a.json)
			json_array_append_new(arr, json_pack("{s:s, s:s?}", "tag", tags[i],
							     "digest", ok ? digest_format(&d, ds) : NULL));
		else
			printf("%-40s %s\n", tags[i], ok ? digest_format(&d, ds) :
			       "(stale: names a manifest that is gone)");
	}
	store_tag_list_free(tags, n);
	if (a.json)
		json_print(json_pack("{s:s, s:o}", "repository", a.pos[0], "tags", arr));
	return EX_OK;
}

static int cmd_tag_rm(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--force", NULL };
	const char *v[1] = { 0 };
	char name[REF_NAME_MAX + REF_TAG_MAX + 2], *colon, ds[DIGEST_STR_MAX];
	struct digest d;
	struct args a;
	enum berr rc;
	int ex, had, locked = 0;

	if ((ex = parse_args("tag rm", argc, argv, names, v, 1, &a)))
		return ex;
	if (a.help)
		return help("tag", "rm");
	if (a.npos != 1 || snprintf(name, sizeof(name), "%s", a.pos[0]) >= (int)sizeof(name) ||
	    !(colon = strrchr(name, ':')) || strchr(colon, '/'))
		return fail(EX_USAGE, "tag rm", "expected NAME:TAG (berthctl tag rm myapp:1.0)");
	*colon = '\0';
	if ((ex = check_repo("tag rm", st, name)))
		return ex;
	if (ref_tag_check(colon + 1) != BERR_OK)
		return fail(EX_USAGE, "tag rm", "\"%s\" is not a valid tag", colon + 1);
	if (!v[0] && (rc = store_lock_check_delete(st, name, colon + 1, NULL)))
		return fail(exit_for(rc), "tag rm", "%s%s", berr_detail(),
			    rc == BERR_DENIED ? " (or tag rm --force)" : "");
	had = store_tag_resolve(st, name, colon + 1, &d) == BERR_OK;
	rc = store_tag_delete(st, name, colon + 1);
	/* Forced: the tag's own lock goes with it, or it would bind a new tag
	 * of the same name. */
	if (v[0] && (rc == BERR_OK || rc == BERR_MANIFEST_UNKNOWN) &&
	    store_lock_clear(st, name, colon + 1, NULL, NULL, &locked) == BERR_OK && locked)
		rc = BERR_OK;
	if (rc)
		return fail(exit_for(rc), "tag rm", "%s", berr_detail());
	if (a.json)
		json_print(json_pack("{s:s, s:s, s:s?, s:b}", "repository", name, "removed", colon + 1,
				     "digest", had ? digest_format(&d, ds) : NULL, "unlocked", locked));
	else
		printf("removed tag %s:%s%s%s%s\n", name, colon + 1, had ? ", it named " : "",
		       had ? digest_format(&d, ds) : "", locked ? ", and its lock" : "");
	return EX_OK;
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

/* Sizes of the blobs linked in repos/<name>/<kind>/<alg>/, added to
 * *bytes and remembered in du (for the distinct total). */
static enum berr du_links(struct store *st, const char *name, const char *kind, struct du *du,
			  long long *bytes, long *count)
{
	static const char *const algs[] = { "sha256", "sha512" };
	char dir[PATH_MAX], ds[DIGEST_STR_MAX + 8];
	struct dirent *de;
	struct du_ent *nv;
	struct digest d;
	int64_t size;
	size_t i;
	DIR *dh;

	for (i = 0; i < 2; i++) {
		if (fs_path(dir, sizeof(dir), "%s/repos/%s/%s/%s", st->root, name, kind, algs[i]) ||
		    !(dh = opendir(dir)))
			continue;
		while ((de = readdir(dh))) {
			if (de->d_name[0] == '.' ||
			    snprintf(ds, sizeof(ds), "%s:%s", algs[i], de->d_name) >= (int)sizeof(ds) ||
			    digest_parse(&d, ds) || store_blob_stat(st, &d, &size))
				continue;
			*bytes += size;
			(*count)++;
			if (du->n == du->cap) {
				du->cap = du->cap ? du->cap * 2 : 256;
				if (!(nv = realloc(du->v, du->cap * sizeof(*nv)))) {
					closedir(dh);
					return berr_set(BERR_INTERNAL, "out of memory");
				}
				du->v = nv;
			}
			digest_format(&d, du->v[du->n].key);
			du->v[du->n++].size = size;
		}
		closedir(dh);
	}
	berr_clear();
	return BERR_OK;
}

/* Bytes of every file under blobs/ (what the disk holds). */
static long long du_stored(struct store *st, long *files)
{
	char dir[PATH_MAX], fan[PATH_MAX];
	struct dirent *de, *fe;
	struct stat sb;
	long long total = 0;
	const char *alg;
	DIR *dh, *fh;
	int i;

	for (i = 0; i < 2; i++) {
		alg = i ? "sha512" : "sha256";
		if (fs_path(dir, sizeof(dir), "%s/blobs/%s", st->root, alg) || !(dh = opendir(dir)))
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
	berr_clear();
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
	struct args a;
	int more, ex;

	if ((ex = parse_args("du", argc, argv, NULL, NULL, 0, &a)))
		return ex;
	if (a.help)
		return help("du", NULL);
	if (store_catalog(st, NULL, -1, &names, &n, &more))
		return fail(EX_STORE, "du", "%s", berr_detail());
	if (a.json)
		arr = json_array();
	else if (n)
		printf("%-40s %8s %14s\n", "REPOSITORY", "BLOBS", "BYTES");
	for (i = 0; i < n; i++) {
		long long bytes = 0;
		long count = 0;
		size_t from = du.n, j, k;

		if (du_links(st, names[i], "_blobs", &du, &bytes, &count) ||
		    du_links(st, names[i], "_manifests", &du, &bytes, &count)) {
			store_tag_list_free(names, n);
			free(du.v);
			json_decref(arr);
			return fail(EX_STORE, "du", "%s", berr_detail());
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
			printf("%-40s %8ld %14lld  %s\n", names[i], count, bytes, human(bytes, h1, sizeof(h1)));
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
		json_print(json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "repositories", arr,
			"total_bytes", (json_int_t)sum, "unique_bytes", (json_int_t)uniq,
			"dedup_saved_bytes", (json_int_t)(sum - uniq), "stored_bytes", (json_int_t)stored,
			"stored_blobs", (json_int_t)nstored,
			"unlinked_bytes", (json_int_t)(stored > uniq ? stored - uniq : 0)));
		return EX_OK;
	}
	printf("total over repositories: %s; distinct blobs: %s; deduplication saves %s\n",
	       human(sum, h1, sizeof(h1)), human(uniq, h2, sizeof(h2)),
	       human(sum - uniq, h3, sizeof(h3)));
	printf("on disk: %ld blobs, %s, of which %s linked nowhere (gc removes it)\n", nstored,
	       human(stored, h1, sizeof(h1)), human(stored > uniq ? stored - uniq : 0, h4, sizeof(h4)));
	return EX_OK;
}

/* ---- upload sessions ---- */

static int cmd_uploads_ls(const struct config *cfg, struct store *st, int argc, char **argv)
{
	char dir[PATH_MAX], lock[PATH_MAX];
	struct dirent *de;
	struct upload u;
	time_t now = time(NULL);
	json_t *arr = NULL;
	struct args a;
	DIR *dh;
	int ex, busy, old;

	if ((ex = parse_args("uploads ls", argc, argv, NULL, NULL, 0, &a)))
		return ex;
	if (a.help)
		return help("uploads", "ls");
	if (cfg && cfg->upload_ttl > 0)
		st->upload_ttl = cfg->upload_ttl;
	if (fs_path(dir, sizeof(dir), "%s/uploads", st->root) || !(dh = opendir(dir)))
		return fail(EX_STORE, "uploads ls", "opening %s: %s", dir, strerror(errno));
	if (a.json)
		arr = json_array();
	else
		printf("%-36s %-30s %12s %9s %s\n", "SESSION", "REPOSITORY", "BYTES", "IDLE (s)", "STATE");
	while ((de = readdir(dh))) {
		if (ref_upload_id_check(de->d_name) != BERR_OK || store_upload_info(st, de->d_name, &u)) {
			berr_clear();
			continue; /* not a session, or one being created or removed */
		}
		busy = fs_path(lock, sizeof(lock), "%s/%s/lock", dir, u.id) == BERR_OK && fs_exists(lock);
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
		json_print(json_pack("{s:o, s:I}", "uploads", arr, "ttl", (json_int_t)st->upload_ttl));
	return EX_OK;
}

static int cmd_uploads_purge(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--older-than=", NULL };
	const char *v[1] = { 0 };
	struct store copy;
	struct args a;
	long age;
	int ex, n = 0;

	if ((ex = parse_args("uploads purge", argc, argv, names, v, 0, &a)))
		return ex;
	if (a.help)
		return help("uploads", "purge");
	if (!v[0])
		return fail(EX_USAGE, "uploads purge", "--older-than DUR is required (e.g. 1d)");
	if ((age = gc_parse_duration(v[0])) < 0)
		return fail(EX_USAGE, "uploads purge", "--older-than %s: not a duration (1d, 12h, 30m)",
			    v[0]);
	copy = *st;
	copy.upload_ttl = age;
	if (store_sweep(&copy, time(NULL), &n))
		return fail(EX_STORE, "uploads purge", "%s", berr_detail());
	if (a.json)
		json_print(json_pack("{s:I, s:I}", "removed", (json_int_t)n, "older_than", (json_int_t)age));
	else
		printf("removed %d upload sessions idle longer than %s (and temporaries older than "
		       "an hour); sessions in use were left alone\n", n, v[0]);
	return EX_OK;
}

/* ---- fsck ---- */

struct problem {
	char *kind, *object;
};

struct fsck_out {
	int json;
	json_t *problems;
	struct problem *v;
	size_t n, cap;
};

static void fsck_cb(void *ctx, const char *kind, const char *object, const char *detail)
{
	struct fsck_out *o = ctx;
	struct problem *nv;

	if (o->json)
		json_array_append_new(o->problems, json_pack("{s:s, s:s, s:s}", "kind", kind,
							     "object", object, "detail", detail));
	else
		printf("%-24s %s: %s\n", kind, object, detail);
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		if (!(nv = realloc(o->v, o->cap * sizeof(*nv))))
			return;
		o->v = nv;
	}
	o->v[o->n].kind = strdup(kind);
	o->v[o->n].object = strdup(object);
	if (o->v[o->n].kind && o->v[o->n].object)
		o->n++;
}

static void fsck_forget(struct fsck_out *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].kind);
		free(o->v[i].object);
	}
	o->n = 0;
}

/* "repo@alg:hex" -> name (in buf) and digest. */
static int split_at(const char *object, char *buf, size_t len, struct digest *d)
{
	char *at;

	if (snprintf(buf, len, "%s", object) >= (int)len || !(at = strrchr(buf, '@')))
		return -1;
	*at = '\0';
	return digest_parse(d, at + 1) == BERR_OK ? 0 : -1;
}

static enum berr quarantine(struct store *st, const char *from, const char *base, char *to,
			    size_t tolen)
{
	char dir[PATH_MAX], rnd[9];
	enum berr rc;

	rc = fs_path(dir, sizeof(dir), "%s/quarantine", st->root);
	if (rc == BERR_OK)
		rc = fs_mkdir_p(dir);
	if (rc == BERR_OK)
		rc = fs_random_hex(rnd, 4);
	if (rc == BERR_OK)
		rc = fs_path(to, tolen, "%s/%s.%s", dir, base, rnd);
	if (rc == BERR_OK && rename(from, to) != 0)
		rc = berr_sys("moving to quarantine", from);
	return rc;
}

/* Re-write the referrer / parent entries a linked manifest lacks. */
static enum berr rewrite_entries(struct store *st, const char *name, const struct digest *d)
{
	char mt[256], *buf = NULL;
	struct manifest m;
	size_t len;
	enum berr rc;

	rc = store_manifest_linked(st, name, d, mt, sizeof(mt));
	if (rc == BERR_OK)
		rc = store_blob_read(st, d, MANIFEST_MAX_SIZE, &buf, &len);
	if (rc == BERR_OK && (rc = manifest_parse(&m, mt, buf, len)) == BERR_OK) {
		rc = store_manifest_entries_write(st, name, &m, mt, d, len, 1);
		manifest_release(&m);
	}
	free(buf);
	return rc;
}

/* One repair; *action says what was done (NULL: nothing to do for it). */
static enum berr repair_one(struct store *st, const struct problem *p, char *action, size_t len)
{
	char name[PATH_MAX], path[PATH_MAX], to[PATH_MAX], *colon;
	const char *base;
	struct digest d;
	enum berr rc = BERR_OK;

	action[0] = '\0';
	if (strcmp(p->kind, "corrupt-blob") == 0 && digest_parse(&d, p->object) == BERR_OK) {
		snprintf(name, sizeof(name), "%s-%s", digest_alg_name(d.alg), d.hex);
		rc = store_blob_path(st, &d, path, sizeof(path));
		if (rc == BERR_OK && (rc = quarantine(st, path, name, to, sizeof(to))) == BERR_OK)
			snprintf(action, len, "moved to %s", to);
	} else if (strcmp(p->kind, "misplaced-blob") == 0) {
		base = strrchr(p->object, '/');
		rc = quarantine(st, p->object, base ? base + 1 : p->object, to, sizeof(to));
		if (rc == BERR_OK)
			snprintf(action, len, "moved to %s", to);
	} else if (strcmp(p->kind, "dangling-blob-link") == 0 && !split_at(p->object, name, sizeof(name), &d)) {
		if ((rc = store_blob_unlink(st, name, &d)) == BERR_OK)
			snprintf(action, len, "link removed");
	} else if (strcmp(p->kind, "dangling-manifest-link") == 0 &&
		   !split_at(p->object, name, sizeof(name), &d)) {
		rc = fs_path(path, sizeof(path), "%s/repos/%s/_manifests/%s/%s", st->root, name,
			     digest_alg_name(d.alg), d.hex);
		if (rc == BERR_OK && unlink(path) != 0 && errno != ENOENT)
			rc = berr_sys("removing", path);
		if (rc == BERR_OK)
			snprintf(action, len, "link removed");
	} else if ((strcmp(p->kind, "invalid-manifest") == 0 ||
		    strcmp(p->kind, "missing-reference") == 0) &&
		   !split_at(p->object, name, sizeof(name), &d)) {
		rc = store_manifest_delete(st, name, &d, 1);
		if (rc == BERR_OK)
			snprintf(action, len, "manifest and its tags deleted (it cannot be pulled)");
	} else if ((strcmp(p->kind, "missing-referrer-entry") == 0 ||
		    strcmp(p->kind, "missing-parent-entry") == 0) &&
		   !split_at(p->object, name, sizeof(name), &d)) {
		if ((rc = rewrite_entries(st, name, &d)) == BERR_OK)
			snprintf(action, len, "entries written again");
	} else if ((strcmp(p->kind, "dangling-tag") == 0 || strcmp(p->kind, "stale-tag") == 0) &&
		   snprintf(name, sizeof(name), "%s", p->object) < (int)sizeof(name) &&
		   (colon = strrchr(name, ':'))) {
		*colon = '\0';
		rc = store_tag_delete(st, name, colon + 1);
		if (rc == BERR_MANIFEST_UNKNOWN)
			rc = BERR_OK; /* gone meanwhile */
		if (rc == BERR_OK)
			snprintf(action, len, "tag removed");
	}
	berr_clear();
	return rc;
}

static int cmd_fsck(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--quick", "--repair", NULL };
	const char *v[2] = { 0 };
	struct fsck_out o = { 0 };
	struct fsck_counts c, first;
	json_t *repairs = NULL;
	char action[PATH_MAX + 64];
	long repaired = 0, failed = 0;
	struct args a;
	size_t i;
	int ex, round;

	if ((ex = parse_args("fsck", argc, argv, names, v, 0, &a)))
		return ex;
	if (a.help)
		return help("fsck", NULL);
	o.json = a.json;
	if (a.json) {
		o.problems = json_array();
		repairs = json_array();
	}
	for (round = 0; round < 4; round++) {
		fsck_forget(&o);
		if (store_fsck(st, !v[0], fsck_cb, &o, &c)) {
			ex = fail(EX_STORE, "fsck", "%s", berr_detail());
			goto out;
		}
		if (round == 0)
			first = c;
		if (!v[1] || o.n == 0)
			break;
		/* Repairs can reveal more (a quarantined layer breaks its
		 * manifests): go round until nothing is left to do. */
		for (i = 0, ex = 0; i < o.n; i++) {
			enum berr rc = repair_one(st, &o.v[i], action, sizeof(action));

			if (rc == BERR_OK && !action[0])
				continue;
			if (rc)
				snprintf(action, sizeof(action), "repair failed: %s", berr_detail());
			ex++;
			repaired += rc == BERR_OK;
			failed += rc != BERR_OK;
			if (a.json)
				json_array_append_new(repairs, json_pack("{s:s, s:s, s:s}", "kind",
					o.v[i].kind, "object", o.v[i].object, "action", action));
			else
				printf("%-24s %s: %s\n", "repair", o.v[i].object, action);
		}
		if (ex == 0)
			break;
		if (!a.json)
			printf("fsck: checking again after the repairs\n");
	}
	if (a.json) {
		json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			"blobs", (json_int_t)c.blobs, "bytes", (json_int_t)c.bytes,
			"repositories", (json_int_t)c.repos, "blob_links", (json_int_t)c.blob_links,
			"manifests", (json_int_t)c.manifests, "tags", (json_int_t)c.tags,
			"problem_count", (json_int_t)c.problems, "problems", o.problems);
		o.problems = NULL;
		if (v[1]) {
			json_object_set_new(doc, "problems_before_repair", json_integer(first.problems));
			json_object_set_new(doc, "repaired", json_integer(repaired));
			json_object_set_new(doc, "repair_failed", json_integer(failed));
			json_object_set(doc, "repairs", repairs);
		}
		json_print(doc);
	} else {
		if (v[1])
			printf("fsck: %ld problem%s found, %ld repaired, %ld repairs failed\n",
			       first.problems, first.problems == 1 ? "" : "s", repaired, failed);
		printf("fsck: %ld blobs (%lld bytes%s), %ld repositories, %ld blob links, "
		       "%ld manifests, %ld tags: %ld problem%s\n", c.blobs, c.bytes,
		       v[0] ? " not re-hashed" : " re-hashed", c.repos, c.blob_links,
		       c.manifests, c.tags, c.problems, c.problems == 1 ? "" : "s");
	}
	ex = c.problems ? EX_PROBLEM : EX_OK;
out:
	fsck_forget(&o);
	free(o.v);
	json_decref(o.problems);
	json_decref(repairs);
	return ex;
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
	{ "fsck", "fsck [--quick] [--repair] [--json]\n  check the store: re-hash every blob "
	  "(--quick: don't), follow every link,\n  reference and tag; exit 1 if anything is wrong.  "
	  "--repair moves corrupt blobs\n  to quarantine/, removes dangling links and tags, deletes "
	  "manifests that\n  cannot be pulled, writes missing referrer/parent entries again",
	  cmd_fsck },
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
	const char *p;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		fputs("  ", f);
		for (p = cmds[i].usage; *p; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fputs("    ", f);
		}
		fputc('\n', f);
	}
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
		return fail(EX_USAGE, argc ? argv[0] : "", "unknown command (try berthctl help)");
	if (ctl_lock_handles(argv[0]))
		return ctl_lock_main(cfg, st, argc, argv);
	if (!has_sub(argv[0])) {
		c = find_cmd(argv[0], NULL);
	} else if (argc < 2 || argv[1][0] == '-' || strcmp(argv[1], "help") == 0) {
		if (st == NULL || (argc >= 2 && wants_help(argc, argv))) {
			for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
				if (strncmp(cmds[i].name, argv[0], strlen(argv[0])) == 0)
					printf("usage: berthctl %s\n", cmds[i].usage);
			return EX_OK;
		}
		return fail(EX_USAGE, argv[0], "which one? (berthctl %s --help)", argv[0]);
	} else if (!(c = find_cmd(argv[0], argv[1]))) {
		return fail(EX_USAGE, argv[0], "unknown subcommand \"%s\" (berthctl %s --help)",
			    argv[1], argv[0]);
	} else {
		argc--;
		argv++;
	}
	if (st == NULL) /* the caller saw a help request and opened nothing */
		return help(c->name, NULL);
	return c->run(cfg, st, argc, argv);
}
