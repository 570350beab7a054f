/*
 * fault.c - libberthfault.so: make the store's system calls fail on demand.
 *
 * An LD_PRELOAD shim for the fault-injection tests (tests/integration/
 * t150-faults.sh).  It wraps the calls through which berth changes the
 * disk and, while a rule matches, returns -1 with the rule's errno instead
 * of making the call:
 *
 *   write    write, pwrite, pwrite64, writev, pwritev  (by the fd's path)
 *   fsync    fsync, fdatasync                          (by the fd's path)
 *   rename   rename, renameat, renameat2               (either path)
 *   mkdir    mkdir, mkdirat
 *   link     link, linkat                              (either path)
 *   unlink   unlink, unlinkat
 *   truncate ftruncate, ftruncate64                    (by the fd's path)
 *
 * Control, at run time, so that one berthd runs a whole test and faults
 * are switched on and off between requests: BERTH_FAULT_FILE names a file
 * of rules, one a line, `#` comments:
 *
 *   OP ERRNO SUBSTRING [COUNT]      e.g.  fsync ENOSPC /store/tmp/ 0
 *
 * OP as above (or `any`), ERRNO a name (EIO ENOSPC EDQUOT EROFS EACCES
 * EPERM ENOMEM) or a number, SUBSTRING what the path must contain (`*`:
 * any path; a trailing `$` makes it a suffix: `/data$`), COUNT how many times the rule fires in each process (0 or
 * absent: every time).  The file is stat()ed on every wrapped call and
 * parsed again when its inode, size or mtime changed, so replace it
 * atomically (write a temporary, mv); an absent file means no faults.  An
 * fd's path is read from /proc/self/fd; the *at() calls and relative names
 * are matched by the names as given, joined to their directory fd's path.
 *
 * Every injected fault appends "pid OP ERRNO path\n" to BERTH_FAULT_LOG
 * when that is set, so a test can tell that the fault it set up fired.
 *
 * Without BERTH_FAULT_FILE every call goes straight through.  The shim
 * serialises its rule table with a mutex of its own (berth's upload helper
 * thread writes too) and calls nothing it wraps.  It is built without
 * sanitizers: under an ASan build of berthd, preload the ASan runtime first
 * (LD_PRELOAD="libasan.so.N libberthfault.so"), as ASan demands; the tests
 * do that (tests/fault/lib-fault.sh).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_RULES 32

enum op { OP_ANY, OP_WRITE, OP_FSYNC, OP_RENAME, OP_MKDIR, OP_LINK, OP_UNLINK, OP_TRUNCATE,
	  OP__COUNT };
static const char *const op_names[OP__COUNT] = { "any", "write", "fsync", "rename", "mkdir",
						 "link", "unlink", "truncate" };

struct rule {
	enum op op;
	int err;
	char sub[256];
	long count; /* 0: unlimited */
	long fired;
};

static struct {
	pthread_mutex_t mu;
	int inited;
	const char *file, *log;
	struct stat seen;
	int loaded;
	struct rule r[MAX_RULES];
	int n;
} F = { .mu = PTHREAD_MUTEX_INITIALIZER };

static const struct { const char *name; int err; } errnames[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS },
	{ "EACCES", EACCES }, { "EPERM", EPERM }, { "ENOMEM", ENOMEM },
};

/* The next definition of `name` after this library (libc, or ASan's). */
static void *real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL)
		abort(); /* a wrapped call with no definition: nothing sane to do */
	return p;
}

#define REAL(ret, name, ...) \
	static ret (*real_##name)(__VA_ARGS__); \
	if (real_##name == NULL) \
		real_##name = (ret (*)(__VA_ARGS__))real(#name)

static int parse_errno(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strcmp(s, errnames[i].name) == 0)
			return errnames[i].err;
	return atoi(s);
}

static int parse_op(const char *s)
{
	int i;

	for (i = 0; i < OP__COUNT; i++)
		if (strcmp(s, op_names[i]) == 0)
			return i;
	return -1;
}

/* One line into r; 0 if it is a rule. */
static int parse_line(char *line, struct rule *r)
{
	char op[16], err[16];
	long count = 0;
	int n, o;

	n = sscanf(line, " %15s %15s %255s %ld", op, err, r->sub, &count);
	if (n < 3 || op[0] == '#' || (o = parse_op(op)) < 0)
		return -1;
	r->op = (enum op)o;
	r->err = parse_errno(err);
	r->count = count > 0 ? count : 0;
	r->fired = 0;
	return r->err > 0 ? 0 : -1;
}

/* Called with F.mu held: read the rules again if the file changed. */
static void reload(void)
{
	char line[512];
	struct stat st;
	FILE *f;

	if (stat(F.file, &st) != 0) {
		F.n = 0;
		F.loaded = 0;
		return;
	}
	if (F.loaded && st.st_ino == F.seen.st_ino && st.st_size == F.seen.st_size &&
	    st.st_mtim.tv_sec == F.seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == F.seen.st_mtim.tv_nsec)
		return;
	F.n = 0;
	F.seen = st;
	F.loaded = 1;
	f = fopen(F.file, "re");
	if (f == NULL)
		return;
	while (F.n < MAX_RULES && fgets(line, sizeof(line), f))
		if (parse_line(line, &F.r[F.n]) == 0)
			F.n++;
	fclose(f);
}

static void note(enum op op, int err, const char *path)
{
	char line[PATH_MAX + 64];
	int fd, n;
	REAL(ssize_t, write, int, const void *, size_t);

	if (F.log == NULL)
		return;
	fd = open(F.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%ld %s %s %s\n", (long)getpid(), op_names[op],
		     strerrorname_np(err) ? strerrorname_np(err) : "?", path);
	if (n > 0)
		(void)!real_write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	close(fd);
}

/* `path` contains `sub`; "*" matches any path, a trailing '$' anchors
 * `sub` at the end ("/data$": a file named data). */
static int matches(const char *sub, const char *path)
{
	size_t n = strlen(sub), pn;

	if (path == NULL)
		return 0;
	if (strcmp(sub, "*") == 0)
		return 1;
	if (n == 0 || sub[n - 1] != '$')
		return strstr(path, sub) != NULL;
	pn = strlen(path);
	return pn >= n - 1 && memcmp(path + pn - (n - 1), sub, n - 1) == 0;
}

/* The errno to fail `op` on p1 (or p2) with, 0 to let the call through. */
static int decide(enum op op, const char *p1, const char *p2)
{
	struct rule *r;
	int i, err = 0;

	pthread_mutex_lock(&F.mu);
	if (!F.inited) {
		F.file = getenv("BERTH_FAULT_FILE");
		F.log = getenv("BERTH_FAULT_LOG");
		F.inited = 1;
	}
	if (F.file)
		reload();
	for (i = 0; F.file && i < F.n && err == 0; i++) {
		r = &F.r[i];
		if (r->op != OP_ANY && r->op != op)
			continue;
		if (r->count && r->fired >= r->count)
			continue;
		if (!matches(r->sub, p1) && !matches(r->sub, p2))
			continue;
		r->fired++;
		err = r->err;
		note(op, err, p1 ? p1 : "");
	}
	pthread_mutex_unlock(&F.mu);
	return err;
}

static int active(void)
{
	return getenv("BERTH_FAULT_FILE") != NULL;
}

/* Path of fd (or "" if unknown) into buf. */
static const char *fd_path(int fd, char *buf, size_t len)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* `name` relative to dirfd, as an absolute path where it can be told. */
static const char *at_path(int dirfd, const char *name, char *buf, size_t len)
{
	char dir[PATH_MAX];

	if (name[0] == '/' || dirfd == AT_FDCWD)
		return name;
	fd_path(dirfd, dir, sizeof(dir));
	if ((size_t)snprintf(buf, len, "%.*s/%s", (int)(len / 2), dir, name) >= len)
		return name; /* too long to join: match the name alone */
	return buf;
}

static int fail_fd(enum op op, int fd)
{
	char path[PATH_MAX];
	int err;

	if (!active())
		return 0;
	err = decide(op, fd_path(fd, path, sizeof(path)), NULL);
	if (err)
		errno = err;
	return err;
}

static int fail_paths(enum op op, const char *a, const char *b)
{
	int err;

	if (!active())
		return 0;
	err = decide(op, a, b);
	if (err)
		errno = err;
	return err;
}

/* ---- the wrapped calls ---- */

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, write, int, const void *, size_t);
	return fail_fd(OP_WRITE, fd) ? -1 : real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
	return fail_fd(OP_WRITE, fd) ? -1 : real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL(ssize_t, pwrite64, int, const void *, size_t, off64_t);
	return fail_fd(OP_WRITE, fd) ? -1 : real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(ssize_t, writev, int, const struct iovec *, int);
	return fail_fd(OP_WRITE, fd) ? -1 : real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
	return fail_fd(OP_WRITE, fd) ? -1 : real_pwritev(fd, iov, cnt, off);
}

int fsync(int fd)
{
	REAL(int, fsync, int);
	return fail_fd(OP_FSYNC, fd) ? -1 : real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(int, fdatasync, int);
	return fail_fd(OP_FSYNC, fd) ? -1 : real_fdatasync(fd);
}

int ftruncate(int fd, off_t len)
{
	REAL(int, ftruncate, int, off_t);
	return fail_fd(OP_TRUNCATE, fd) ? -1 : real_ftruncate(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
	REAL(int, ftruncate64, int, off64_t);
	return fail_fd(OP_TRUNCATE, fd) ? -1 : real_ftruncate64(fd, len);
}

int rename(const char *from, const char *to)
{
	REAL(int, rename, const char *, const char *);
	return fail_paths(OP_RENAME, to, from) ? -1 : real_rename(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];
	REAL(int, renameat, int, const char *, int, const char *);

	if (active() && fail_paths(OP_RENAME, at_path(fd2, to, b, sizeof(b)),
				   at_path(fd1, from, a, sizeof(a))))
		return -1;
	return real_renameat(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	char a[PATH_MAX], b[PATH_MAX];
	REAL(int, renameat2, int, const char *, int, const char *, unsigned);

	if (active() && fail_paths(OP_RENAME, at_path(fd2, to, b, sizeof(b)),
				   at_path(fd1, from, a, sizeof(a))))
		return -1;
	return real_renameat2(fd1, from, fd2, to, flags);
}

int mkdir(const char *path, mode_t mode)
{
	REAL(int, mkdir, const char *, mode_t);
	return fail_paths(OP_MKDIR, path, NULL) ? -1 : real_mkdir(path, mode);
}

int mkdirat(int fd, const char *path, mode_t mode)
{
	char a[PATH_MAX];
	REAL(int, mkdirat, int, const char *, mode_t);

	if (active() && fail_paths(OP_MKDIR, at_path(fd, path, a, sizeof(a)), NULL))
		return -1;
	return real_mkdirat(fd, path, mode);
}

int link(const char *from, const char *to)
{
	REAL(int, link, const char *, const char *);
	return fail_paths(OP_LINK, to, from) ? -1 : real_link(from, to);
}

int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	char a[PATH_MAX], b[PATH_MAX];
	REAL(int, linkat, int, const char *, int, const char *, int);

	if (active() && fail_paths(OP_LINK, at_path(fd2, to, b, sizeof(b)),
				   at_path(fd1, from, a, sizeof(a))))
		return -1;
	return real_linkat(fd1, from, fd2, to, flags);
}

int unlink(const char *path)
{
	REAL(int, unlink, const char *);
	return fail_paths(OP_UNLINK, path, NULL) ? -1 : real_unlink(path);
}

int unlinkat(int fd, const char *path, int flags)
{
	char a[PATH_MAX];
	REAL(int, unlinkat, int, const char *, int);

	if (active() && fail_paths(OP_UNLINK, at_path(fd, path, a, sizeof(a)), NULL))
		return -1;
	return real_unlinkat(fd, path, flags);
}
