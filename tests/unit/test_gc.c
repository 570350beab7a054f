/*
 * test_gc.c - store/gc.c: what the collector keeps and removes (3
 * repositories sharing layers, untagged manifests, an index and its
 * children, referrers), --dry-run, --untagged, the gc lock (busy, stale,
 * taken over), the trash left by a dead collector; and the protocol under
 * fire: forked writers linking blobs and putting manifests while the
 * collector runs over and over with grace 0, and collectors killed with
 * SIGKILL at random moments.  Afterwards fsck must find nothing and every
 * manifest PUT that succeeded must have all its blobs.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/fsck.h"
#include "store/gc.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"



/* ---- making content ---- */

static void blob(struct store *s, const char *repo, const char *text, struct digest *out)
{
	if (store_blob_put_buf(s, DIGEST_SHA256, text, strlen(text), out) != BERR_OK ||
	    (repo && store_blob_link(s, repo, out) != BERR_OK)) {
		fprintf(stderr, "blob %s: %s\n", text, berr_detail());
		exit(2);
	}
}


/* An image manifest naming cfg and layers (and a subject when given). */
static void image_doc(char *doc, size_t size, const struct digest *cfg, const struct digest *layers,
		      size_t n, const struct digest *subject)
{
	char ds[DIGEST_STR_MAX];
	size_t i, len;

	len = (size_t)snprintf(doc, size, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST_S
			       "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
			       "\"digest\":\"%s\",\"size\":1},\"layers\":[", digest_format(cfg, ds));
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(doc + len, size - len, "%s{\"mediaType\":\"application/"
					"vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":1}",
					i ? "," : "", digest_format(&layers[i], ds));
	if (subject && len < size)
		len += (size_t)snprintf(doc + len, size - len, "],\"subject\":{\"mediaType\":\""
					MT_OCI_MANIFEST_S "\",\"digest\":\"%s\",\"size\":1}}",
					digest_format(subject, ds));
	else if (len < size)
		snprintf(doc + len, size - len, "]}");
}

static enum berr push_image(struct store *s, const char *repo, const struct digest *cfg,
			    const struct digest *layers, size_t n, const struct digest *subject,
			    const char *tag, struct digest *out)
{
	char doc[4096];

	image_doc(doc, sizeof(doc), cfg, layers, n, subject);
	return push(s, repo, doc, tag, out);
}

static enum berr push_index(struct store *s, const char *repo, const struct digest *kids,
			    size_t n, const char *tag, struct digest *out)
{
	char doc[4096], ds[DIGEST_STR_MAX];
	size_t i, len;

	len = (size_t)snprintf(doc, sizeof(doc), "{\"schemaVersion\":2,\"mediaType\":\""
			       MT_OCI_INDEX_S "\",\"manifests\":[");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(doc + len, sizeof(doc) - len, "%s{\"mediaType\":\""
					MT_OCI_MANIFEST_S "\",\"digest\":\"%s\",\"size\":1}",
					i ? "," : "", digest_format(&kids[i], ds));
	snprintf(doc + len, sizeof(doc) - len, "]}");
	return push(s, repo, doc, tag, out);
}

/* ---- looking at the store ---- */

static long age_by;

static int age_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	struct timespec t[2];

	(void)ftw;
	if (type != FTW_F && type != FTW_D && type != FTW_DP)
		return 0;
	t[0].tv_sec = t[1].tv_sec = sb->st_mtime - age_by;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Everything in the store looks `secs` older. */
static void age_all(struct store *s, long secs)
{
	age_by = secs;
	nftw(s->root, age_one, 32, FTW_PHYS | FTW_DEPTH);
}

static long nfiles;
static int count_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	nfiles += type == FTW_F && !strstr(path, "/gc/") && !strstr(path, "/tmp/");
	return 0;
}

static long count_files(struct store *s)
{
	nfiles = 0;
	nftw(s->root, count_one, 32, FTW_PHYS);
	return nfiles;
}

static long fsck_problems;
static void fsck_note(void *ctx, const struct fsck_problem *p)
{
	char object[4096];

	(void)ctx;
	if (p->kind != FSCK_STALE_TAG)
		fprintf(stderr, "  fsck: %s %s: %s\n", fsck_kind_name(p->kind),
			fsck_problem_object(p, object, sizeof(object)), p->detail);
}

static long fsck(struct store *s)
{
	struct fsck_counts c;

	if (store_fsck(s, 1, fsck_note, NULL, &c) != BERR_OK)
		return -1;
	fsck_problems = c.problems;
	return c.problems;
}

static int blob_exists(struct store *s, const struct digest *d)
{
	return store_blob_stat(s, d, NULL) == BERR_OK;
}

static int manifest_ok(struct store *s, const char *repo, const struct digest *d)
{
	char mt[128], *buf = NULL;
	struct manifest m;
	size_t len;
	int ok;

	if (store_manifest_linked(s, repo, d, mt, sizeof(mt)) ||
	    store_blob_read(s, d, MANIFEST_MAX_SIZE, &buf, &len))
		return 0;
	ok = manifest_parse(&m, mt, buf, len) == BERR_OK && store_manifest_check_refs(s, repo, &m) == BERR_OK;
	if (ok)
		manifest_release(&m);
	free(buf);
	return ok;
}

static enum berr run_gc(struct store *s, int dry, int untagged, long grace, struct gc_stats *st)
{
	struct gc_options o = { 0 };

	o.dry_run = dry;
	o.untagged = untagged;
	o.grace = grace;
	return store_gc(s, &o, st);
}

/* ---- the cases ---- */

struct fixture {
	struct digest shared, l1, l2, l3, cfg, img1, img2, img3, untagged, kid1, kid2, index,
		sig, sig_of_untagged, orphan, young_orphan, loose;
};

/* repos a, b, c share `shared`; a has an untagged image and an index with
 * two children; b has a signature (referrer) of its tagged image and one of
 * an untagged image; a blob nobody references, a link nobody uses. */
static void build(struct store *s, struct fixture *f)
{
	struct digest ls[2], kids[2];

	blob(s, "a", "shared layer", &f->shared);
	blob(s, "b", "shared layer", &f->shared);
	blob(s, "c", "shared layer", &f->shared);
	blob(s, "a", "layer one", &f->l1);
	blob(s, "b", "layer two", &f->l2);
	blob(s, "c", "layer three", &f->l3);
	blob(s, "a", "{}", &f->cfg);
	blob(s, "b", "{}", &f->cfg);
	blob(s, "c", "{}", &f->cfg);
	ls[0] = f->shared;
	ls[1] = f->l1;
	CHECK_INT(push_image(s, "a", &f->cfg, ls, 2, NULL, "v1", &f->img1), BERR_OK);
	ls[1] = f->l2;
	CHECK_INT(push_image(s, "b", &f->cfg, ls, 2, NULL, "v1", &f->img2), BERR_OK);
	ls[1] = f->l3;
	CHECK_INT(push_image(s, "c", &f->cfg, ls, 2, NULL, "latest", &f->img3), BERR_OK);
	CHECK_INT(push_image(s, "a", &f->cfg, &f->shared, 1, NULL, NULL, &f->untagged), BERR_OK);
	ls[0] = f->l1;
	CHECK_INT(push_image(s, "a", &f->cfg, ls, 1, NULL, NULL, &kids[0]), BERR_OK);
	CHECK_INT(push_image(s, "a", &f->cfg, &f->shared, 1, &f->img1, NULL, &kids[1]), BERR_OK);
	f->kid1 = kids[0];
	f->kid2 = kids[1];
	CHECK_INT(push_index(s, "a", kids, 2, "multi", &f->index), BERR_OK);
	CHECK_INT(push_image(s, "b", &f->cfg, NULL, 0, &f->img2, NULL, &f->sig), BERR_OK);
	{
		struct digest u;

		CHECK_INT(push_image(s, "b", &f->cfg, &f->l2, 1, NULL, NULL, &u), BERR_OK);
		CHECK_INT(push_image(s, "b", &f->cfg, NULL, 0, &u, NULL, &f->sig_of_untagged), BERR_OK);
	}
	blob(s, NULL, "nobody wants me", &f->orphan);
	blob(s, "c", "linked, never referenced", &f->loose);
	age_all(s, 7200);
	blob(s, NULL, "too young to die", &f->young_orphan);
}

static void test_keep_and_sweep(void)
{
	struct store s;
	struct fixture f;
	struct gc_stats st;
	char link[PATH_MAX];

	store_fresh(&s);
	build(&s, &f);
	CHECK_INT(fsck(&s), 0);
	CHECK_INT(run_gc(&s, 0, 0, 3600, &st), BERR_OK);
	CHECK_INT(st.repos, 3);
	CHECK_INT(st.manifests_removed, 0);
	CHECK_INT(st.manifests_kept, 10);
	CHECK_INT(st.blobs_removed, 2); /* the orphan and the loose layer */
	CHECK_INT(st.links_removed, 1);
	CHECK(st.bytes_freed == (long long)(strlen("nobody wants me") + strlen("linked, never referenced")));
	CHECK_INT(st.blobs_recent, 1);
	CHECK(!blob_exists(&s, &f.orphan));
	CHECK(!blob_exists(&s, &f.loose));
	CHECK(blob_exists(&s, &f.young_orphan));
	snprintf(link, sizeof(link), "%s/repos/c/_blobs/sha256/%s", s.root, f.loose.hex);
	CHECK(!fs_exists(link));
	CHECK(manifest_ok(&s, "a", &f.img1) && manifest_ok(&s, "b", &f.img2) &&
	      manifest_ok(&s, "c", &f.img3));
	CHECK(manifest_ok(&s, "a", &f.untagged) && manifest_ok(&s, "a", &f.index) &&
	      manifest_ok(&s, "a", &f.kid1) && manifest_ok(&s, "a", &f.kid2));
	CHECK(manifest_ok(&s, "b", &f.sig) && manifest_ok(&s, "b", &f.sig_of_untagged));
	CHECK_INT(fsck(&s), 0);
	/* a second run finds nothing more (the young orphan is still young) */
	CHECK_INT(run_gc(&s, 0, 0, 3600, &st), BERR_OK);
	CHECK_INT(st.blobs_removed + st.links_removed + st.manifests_removed, 0);
	/* grace 0 takes the young orphan too */
	age_all(&s, 10);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_OK);
	CHECK_INT(st.blobs_removed, 1);
	CHECK(!blob_exists(&s, &f.young_orphan));
	CHECK_INT(fsck(&s), 0);
	store_close(&s);
}

static void test_dry_run(void)
{
	struct store s;
	struct fixture f;
	struct gc_stats st;
	long before;

	store_fresh(&s);
	build(&s, &f);
	before = count_files(&s);
	CHECK_INT(run_gc(&s, 1, 1, 0, &st), BERR_OK);
	CHECK(st.blobs_removed >= 3); /* orphans, loose, untagged-only content */
	CHECK(st.manifests_removed >= 2);
	CHECK_INT(count_files(&s), before);
	CHECK(blob_exists(&s, &f.orphan) && blob_exists(&s, &f.loose));
	CHECK(manifest_ok(&s, "a", &f.untagged));
	store_close(&s);
}

static void test_untagged(void)
{
	struct store s;
	struct fixture f;
	struct gc_stats st;

	store_fresh(&s);
	build(&s, &f);
	CHECK_INT(run_gc(&s, 0, 1, 0, &st), BERR_OK);
	/* gone: the untagged image, the untagged one in b and its signature */
	CHECK(!manifest_ok(&s, "a", &f.untagged));
	CHECK(!manifest_ok(&s, "b", &f.sig_of_untagged));
	CHECK_INT(st.manifests_removed, 3);
	/* kept: tagged images, the tagged index and its (untagged) children,
	 * the signature of a tagged image */
	CHECK(manifest_ok(&s, "a", &f.img1) && manifest_ok(&s, "a", &f.index));
	CHECK(manifest_ok(&s, "a", &f.kid1) && manifest_ok(&s, "a", &f.kid2));
	CHECK(manifest_ok(&s, "b", &f.sig) && manifest_ok(&s, "b", &f.img2));
	CHECK(blob_exists(&s, &f.shared) && blob_exists(&s, &f.l2));
	CHECK(!blob_exists(&s, &f.untagged));
	CHECK_INT(fsck(&s), 0);
	store_close(&s);
}

static void write_file(const char *path, const char *content, long age)
{
	struct timespec t[2];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		exit(2);
	close(fd);
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= age;
	t[1] = t[0];
	utimensat(AT_FDCWD, path, t, 0);
}

static void test_lock(void)
{
	struct store s;
	struct gc_stats st;
	char lock[PATH_MAX], dir[PATH_MAX], host[256], content[512];
	pid_t dead;

	store_fresh(&s);
	if (fs_path(dir, sizeof(dir), "%s/gc", s.root) || fs_path(lock, sizeof(lock), "%s/lock", dir))
		exit(2);
	fs_mkdir_p(dir);
	gethostname(host, sizeof(host));
	/* a live collector: this very process, fresh lock */
	snprintf(content, sizeof(content), "%s %ld %lld feedface\n", host, (long)getpid(),
		 (long long)time(NULL));
	write_file(lock, content, 0);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_BUSY);
	CHECK(strstr(berr_detail(), "another gc is running on") != NULL);
	CHECK(strstr(berr_detail(), host) != NULL);
	CHECK(fs_exists(lock));
	/* another host, fresh: busy too */
	write_file(lock, "elsewhere 1 1700000000 beef\n", 5);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_BUSY);
	CHECK(strstr(berr_detail(), "elsewhere pid 1") != NULL);
	/* another host, silent for longer than lock_stale: taken over */
	write_file(lock, "elsewhere 1 1700000000 beef\n", s.lock_stale + 30);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_OK);
	CHECK(!fs_exists(lock)); /* released at the end */
	/* a dead collector of this host (SIGKILLed): taken over at once */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	snprintf(content, sizeof(content), "%s %ld %lld dead\n", host, (long)dead,
		 (long long)time(NULL));
	write_file(lock, content, 0);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_OK);
	store_close(&s);
}

static void test_trash_recovery(void)
{
	struct store s;
	struct fixture f;
	struct gc_stats st;
	char from[PATH_MAX], to[PATH_MAX];

	store_fresh(&s);
	build(&s, &f);
	/* a dead collector left a referenced blob and an old orphan in its
	 * trash, and a link moved aside */
	snprintf(to, sizeof(to), "%s/gc/trash", s.root);
	fs_mkdir_p(to);
	store_blob_path(&s, &f.l1, from, sizeof(from));
	snprintf(to, sizeof(to), "%s/gc/trash/sha256-%s", s.root, f.l1.hex);
	CHECK(rename(from, to) == 0);
	store_blob_path(&s, &f.orphan, from, sizeof(from));
	snprintf(to, sizeof(to), "%s/gc/trash/sha256-%s", s.root, f.orphan.hex);
	CHECK(rename(from, to) == 0);
	snprintf(from, sizeof(from), "%s/repos/b/_blobs/sha256/%s", s.root, f.l2.hex);
	snprintf(to, sizeof(to), "%s/repos/b/_blobs/sha256/.gc.%s", s.root, f.l2.hex);
	CHECK(rename(from, to) == 0);
	CHECK(fsck(&s) > 0);
	CHECK_INT(run_gc(&s, 0, 0, 3600, &st), BERR_OK);
	CHECK_INT(st.trash_recovered, 3);
	CHECK(blob_exists(&s, &f.l1));
	CHECK(!blob_exists(&s, &f.orphan)); /* back, judged again: old, unreferenced */
	CHECK(manifest_ok(&s, "b", &f.img2));
	CHECK_INT(fsck(&s), 0);
	/* a recent, unreferenced one goes back and stays */
	store_blob_path(&s, &f.young_orphan, from, sizeof(from));
	snprintf(to, sizeof(to), "%s/gc/trash/sha256-%s", s.root, f.young_orphan.hex);
	CHECK(rename(from, to) == 0);
	CHECK_INT(run_gc(&s, 0, 0, 3600, &st), BERR_OK);
	CHECK(blob_exists(&s, &f.young_orphan));
	store_close(&s);
}

static void test_empty_repo(void)
{
	struct store s;
	struct gc_stats st;
	struct digest d;
	char dir[PATH_MAX];

	store_fresh(&s);
	blob(&s, "team/app", "alone", &d);
	blob(&s, "keep", "kept", &d);
	CHECK_INT(push_image(&s, "keep", &d, NULL, 0, NULL, "t", &d), BERR_OK);
	age_all(&s, 100);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_OK); /* busy lately: stays */
	CHECK_INT(st.repos_removed, 0);
	age_all(&s, 3600);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_OK);
	CHECK_INT(st.repos_removed, 1);
	snprintf(dir, sizeof(dir), "%s/repos/team", s.root);
	CHECK(!fs_exists(dir));
	CHECK(store_repo_exists(&s, "keep"));
	CHECK_INT(fsck(&s), 0);
	store_close(&s);
}

/* ---- under fire ---- */

#define WRITERS 2

/* Push images whose layers are partly fresh, partly old orphans the
 * collector is after; log every manifest that got BERR_OK. */
static void writer(struct store *s, int id, const char *logpath, int rounds)
{
	char text[64], repo[16];
	struct digest layers[3], cfg, m;
	FILE *log = fopen(logpath, "w");
	int i, j, ok = 0;

	if (!log)
		_exit(2);
	srand((unsigned)getpid());
	snprintf(repo, sizeof(repo), "w%d", id);
	for (i = 0; i < rounds; i++) {
		snprintf(text, sizeof(text), "cfg %d %d", id, i);
		if (store_blob_put_buf(s, DIGEST_SHA256, text, strlen(text), &cfg) ||
		    store_blob_link(s, repo, &cfg))
			continue;
		for (j = 0; j < 3; j++) {
			/* j=0: fresh; j=1,2: one of 50 old orphans (maybe swept) */
			if (j == 0)
				snprintf(text, sizeof(text), "fresh %d %d", id, i);
			else
				snprintf(text, sizeof(text), "orphan %d", rand() % 50);
			store_blob_put_buf(s, DIGEST_SHA256, text, strlen(text), &layers[j]);
			if (store_blob_link(s, repo, &layers[j]) != BERR_OK)
				break; /* swept under us: a client would upload again */
		}
		if (j < 3)
			continue;
		if (push_image(s, repo, &cfg, layers, 3, NULL, i % 3 ? NULL : "t", &m) == BERR_OK) {
			fprintf(log, "%s %s\n", repo, m.hex);
			ok++;
		}
	}
	fclose(log);
	_exit(ok > 0 ? 0 : 3);
}

static void make_orphans(struct store *s, int n, long age)
{
	char text[64], path[PATH_MAX];
	struct timespec t[2];
	struct digest d;
	int i;

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= age;
	t[1] = t[0];
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "orphan %d", i);
		blob(s, NULL, text, &d);
		store_blob_path(s, &d, path, sizeof(path));
		utimensat(AT_FDCWD, path, t, 0);
	}
}

static void test_race_writers(void)
{
	char logs[WRITERS][PATH_MAX], line[256], repo[16], hex[80], ds[DIGEST_STR_MAX + 8];
	struct store s;
	struct gc_stats st;
	struct digest d;
	pid_t pids[WRITERS];
	int i, status, live, runs = 0, checked = 0, bad = 0, gc_err = 0;
	long removed = 0;
	FILE *f;

	store_fresh(&s);
	make_orphans(&s, 50, 3600);
	for (i = 0; i < WRITERS; i++) {
		snprintf(logs[i], sizeof(logs[i]), "%s/writer%d.log", base, i);
		if ((pids[i] = fork()) == 0)
			writer(&s, i, logs[i], 300);
	}
	for (live = WRITERS; live > 0;) {
		if (run_gc(&s, 0, 0, 0, &st) != BERR_OK) {
			fprintf(stderr, "gc: %s\n", berr_detail());
			gc_err++;
		}
		runs++;
		removed += st.blobs_removed;
		make_orphans(&s, 50, 3600); /* give it more to chase */
		for (i = 0, live = 0; i < WRITERS; i++)
			if (pids[i] > 0 && waitpid(pids[i], &status, WNOHANG) == 0)
				live++;
			else
				pids[i] = 0;
	}
	CHECK_INT(gc_err, 0);
	CHECK(runs > 3);
	CHECK(removed > 0);
	for (i = 0; i < WRITERS; i++) {
		if (!(f = fopen(logs[i], "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%15s %79s", repo, hex) != 2)
				continue;
			snprintf(ds, sizeof(ds), "sha256:%s", hex);
			if (digest_parse(&d, ds) != BERR_OK)
				continue;
			checked++;
			if (!manifest_ok(&s, repo, &d)) {
				bad++;
				fprintf(stderr, "  manifest %s@%s lost a blob\n", repo, ds);
			}
		}
		fclose(f);
	}
	printf("# race: %d gc runs, %ld blobs removed, %d successful manifest PUTs checked\n",
	       runs, removed, checked);
	CHECK(checked > 10);
	CHECK_INT(bad, 0);
	CHECK_INT(fsck(&s), 0);
	/* and once more with nothing going on */
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_OK);
	CHECK_INT(fsck(&s), 0);
	store_close(&s);
}

static void test_sigkill(void)
{
	struct store s;
	struct fixture f;
	struct gc_stats st;
	char trash[PATH_MAX];
	struct timespec wait;
	pid_t pid;
	int i, status, killed = 0;

	store_fresh(&s);
	build(&s, &f);
	srand((unsigned)time(NULL));
	for (i = 0; i < 25; i++) {
		make_orphans(&s, 300, 3600);
		if ((pid = fork()) == 0)
			_exit(run_gc(&s, 0, 0, 0, &st) == BERR_OK ? 0 : 1);
		wait.tv_sec = 0;
		wait.tv_nsec = (rand() % 15000) * 1000L;
		nanosleep(&wait, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		killed += WIFSIGNALED(status);
		if (fsck(&s) != 0) /* nothing referenced is ever moved */
			break;
	}
	printf("# sigkill: %d of 25 collectors killed mid-run\n", killed);
	CHECK_INT(fsck_problems, 0);
	CHECK(killed > 0);
	CHECK_INT(run_gc(&s, 0, 0, 0, &st), BERR_OK);
	CHECK_INT(fsck(&s), 0);
	CHECK(manifest_ok(&s, "a", &f.index) && manifest_ok(&s, "b", &f.sig));
	snprintf(trash, sizeof(trash), "%s/gc/trash", s.root);
	{
		int n = 0;
		struct stat sb;
		char p[PATH_MAX];

		for (i = 0; i < 50; i++) {
			char text[32];
			struct digest d;

			snprintf(text, sizeof(text), "orphan %d", i);
			digest_buf(DIGEST_SHA256, text, strlen(text), &d);
			n += fs_path(p, sizeof(p), "%s/sha256-%s", trash, d.hex) == BERR_OK &&
			     stat(p, &sb) == 0;
		}
		CHECK_INT(n, 0); /* the trash is empty after a clean run */
	}
	store_close(&s);
}

static void test_duration(void)
{
	CHECK_INT(gc_parse_duration("0"), 0);
	CHECK_INT(gc_parse_duration("45"), 45);
	CHECK_INT(gc_parse_duration("30m"), 1800);
	CHECK_INT(gc_parse_duration("1h"), 3600);
	CHECK_INT(gc_parse_duration("7d"), 7 * 86400);
	CHECK_INT(gc_parse_duration("2w"), 14 * 86400);
	CHECK_INT(gc_parse_duration("-1"), -1);
	CHECK_INT(gc_parse_duration("1y"), -1);
	CHECK_INT(gc_parse_duration("1hh"), -1);
	CHECK_INT(gc_parse_duration(""), -1);
	CHECK_INT(gc_parse_duration("99999999999999999999d"), -1);
}

int main(void)
{
	char cmd[600];

	snprintf(base, sizeof(base), "%s/berth-test-gc.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(base))
		return 2;
	test_duration();
	test_keep_and_sweep();
	test_dry_run();
	test_untagged();
	test_lock();
	test_trash_recovery();
	test_empty_repo();
	test_race_writers();
	test_sigkill();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (unit_fail == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	return unit_done();
}
