/*
 * users.c - local users (bcrypt) and repository tokens (SHA-256 of a random
 * secret); the file formats are described in users.h.
 *
 * Hashing: bcrypt "$2b$" through libcrypt's crypt_gensalt_rn() and
 * crypt_rn() from <crypt.h>.  On Debian that is libxcrypt (libcrypt1), part
 * of the base system, so no new dependency: link with -lcrypt, build with
 * libcrypt-dev.  crypt_gensalt_rn() with a NULL random buffer takes its salt
 * from the kernel's CSPRNG.
 *
 * Timing: a login for a user who does not exist runs bcrypt once against
 * DUMMY_HASH (cost 10, the default), so "no such user" and "wrong password"
 * take the same time.  Users hashed with another cost make that slightly
 * imperfect; the default cost keeps it exact.  Hash comparisons use
 * CRYPTO_memcmp.  Token secrets are 256 random bits, so a single SHA-256 is
 * enough (no stretching needed against guessing).
 *
 * The bcrypt cache (auth_users_verify_cached): a table per process, since
 * workers share nothing and a shared table would hold what lets a reader
 * skip bcrypt.  The HMAC key is drawn from the CSPRNG in each process (a
 * forked worker draws its own and forgets its parent's entries), so an
 * entry is useless outside the process and a memory dump shows no
 * password.  A hit compares the stored hash with the file's current one:
 * the file is read on every login anyway, so this costs nothing and makes
 * a password change or removal end the entry at once, on every host.
 *
 * Editing: file_edit() is the one place that rewrites either file: lock
 * (<file>.lock, O_EXCL), read, let a callback replace, drop or append the
 * line of one name, write a temporary file 0600 in the same directory,
 * fsync, rename, fsync the directory, unlock.  Lines it does not touch,
 * comments included, are copied byte for byte.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth/users.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define FILE_MAX (4u << 20)
#define LOCK_STALE_SECONDS 120
/* bcrypt("berth dummy: this password is never accepted"), cost 10. */
#define DUMMY_HASH "$2b$10$OiQcDLeOUC5ZAnvfZeKgH.2k41cy5tbpdU7UygJ5.zJa7HY5tltzq"
#define BAD_LOGIN "invalid username or password"

int auth_name_valid(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '\0' || name[0] == '-')
		return 0;
	for (n = 0; name[n]; n++) {
		char c = name[n];
		if (n >= AUTH_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

size_t auth_name_canonical(const char *in, char *out, size_t size)
{
	size_t n;

	if (size == 0)
		return 0;
	while (*in == ' ' || *in == '\t')
		in++;
	for (n = 0; in[n] && n + 1 < size; n++)
		out[n] = in[n] >= 'A' && in[n] <= 'Z' ? (char)(in[n] - 'A' + 'a') : in[n];
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
	return n;
}

void auth_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* ---------------------------------------------------------------- files */

/* The whole file, NUL terminated; a missing file reads as empty. */
static enum berr file_read(const char *path, char **buf)
{
	size_t len;
	enum berr rc = fs_read_small(path, FILE_MAX, buf, &len, BERR_NAME_UNKNOWN);

	if (rc == BERR_NAME_UNKNOWN) {
		*buf = strdup("");
		return *buf ? BERR_OK : berr_sys("allocating for", path);
	}
	return rc;
}

/* Does `line` (not NUL terminated, `len` bytes) start with `name` + `sep`? */
static int line_is(const char *line, size_t len, const char *name, char sep)
{
	size_t n = strlen(name);

	return len > n && line[n] == sep && memcmp(line, name, n) == 0;
}

/* Next line of *p: its start and length without the newline. */
static int next_line(const char **p, const char **line, size_t *len)
{
	const char *s = *p, *e;

	if (*s == '\0')
		return 0;
	e = strchr(s, '\n');
	*line = s;
	*len = e ? (size_t)(e - s) : strlen(s);
	*p = e ? e + 1 : s + *len;
	return 1;
}

static enum berr lock_take(const char *path, char *lock, size_t locksize)
{
	struct stat st;
	enum berr rc;
	int fd;

	if ((rc = fs_path(lock, locksize, "%s.lock", path)))
		return rc;
	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			return BERR_OK;
		}
		if (errno != EEXIST)
			return berr_sys("creating lock", lock);
		/* A berthctl killed mid-edit leaves its lock behind. */
		if (stat(lock, &st) == 0 && time(NULL) - st.st_mtime > LOCK_STALE_SECONDS)
			unlink(lock);
		else
			break;
	}
	return berr_set(BERR_BUSY, "%s is being changed by another berthctl; retry "
			"(or remove %s if no berthctl is running)", path, lock);
}

/* Write `buf` to `path` atomically, mode 0600, keeping the old file's
 * owner: berthctl often runs as root while the pool reads the file as its
 * own user. */
static enum berr file_replace(const char *path, const char *buf, size_t len)
{
	return fs_write_file(NULL, path, buf, len, FS_SECRET_MODE, FS_REPLACE | FS_KEEP_OWNER,
			     NULL);
}

/* Given the current line of the name (NULL: absent), produce its new line
 * in *out (malloc'd, no newline; NULL: drop it / add nothing). */
typedef enum berr (*edit_fn)(const char *old, size_t oldlen, void *ctx, char **out);

static enum berr edit_append(char **dst, size_t *len, size_t *cap, const char *s, size_t n)
{
	enum berr rc = mem_grow(dst, cap, *len + n + 2, 1, 256, "edit buffer");

	if (rc)
		return rc;
	memcpy(*dst + *len, s, n);
	*len += n;
	(*dst)[*len] = '\0';
	return BERR_OK;
}

static enum berr file_edit(const char *path, const char *name, char sep, const char *header,
			   edit_fn fn, void *ctx)
{
	char lock[PATH_MAX], *in = NULL, *out = NULL, *repl = NULL;
	const char *p, *line;
	size_t len, olen = 0, ocap = 0;
	int found = 0;
	enum berr rc;

	if ((rc = lock_take(path, lock, sizeof lock)))
		return rc;
	if ((rc = file_read(path, &in)))
		goto out;
	if (in[0] == '\0' && header && (rc = edit_append(&out, &olen, &ocap, header, strlen(header))))
		goto out;
	for (p = in; next_line(&p, &line, &len);) {
		if (!found && line_is(line, len, name, sep)) {
			found = 1;
			if ((rc = fn(line, len, ctx, &repl)))
				goto out;
			if (repl == NULL)
				continue;
			line = repl;
			len = strlen(repl);
		}
		if ((rc = edit_append(&out, &olen, &ocap, line, len)) ||
		    (rc = edit_append(&out, &olen, &ocap, "\n", 1)))
			goto out;
		free(repl);
		repl = NULL;
	}
	if (!found) {
		if ((rc = fn(NULL, 0, ctx, &repl)))
			goto out;
		if (repl && ((rc = edit_append(&out, &olen, &ocap, repl, strlen(repl))) ||
			     (rc = edit_append(&out, &olen, &ocap, "\n", 1))))
			goto out;
	}
	rc = file_replace(path, out ? out : "", olen);
out:
	unlink(lock);
	free(repl);
	free(in);
	free(out);
	return rc;
}

/* ---------------------------------------------------------------- users */

/* bcrypt `password` with `setting` (a salt or a full hash) into out. */
static int bcrypt_run(const char *password, const char *setting, char out[CRYPT_OUTPUT_SIZE])
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	int ok = 0;

	if (cd == NULL)
		return 0;
	if (crypt_rn(password, setting, cd, sizeof *cd) != NULL && cd->output[0] != '*') {
		memcpy(out, cd->output, CRYPT_OUTPUT_SIZE);
		ok = 1;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

/* The stored hash of `user` (malloc'd) or NULL. */
static char *user_hash(const char *file, const char *user)
{
	const char *p, *line;
	size_t len, n = strlen(user);

	for (p = file; next_line(&p, &line, &len);) {
		if (line[0] != '#' && line_is(line, len, user, ':'))
			return strndup(line + n + 1, len - n - 1);
	}
	return NULL;
}

/* ---- the cache of successful checks (see the top of this file) ---- */

#define CACHE_HASH_MAX 128      /* a bcrypt hash is 60 characters */

static struct cache_entry {
	unsigned char mac[SHA256_DIGEST_LENGTH];
	char hash[CACHE_HASH_MAX];
	time_t expires;         /* 0: free */
} cache[AUTH_USERS_CACHE];
static unsigned char cache_key[32];
static pid_t cache_pid;
static unsigned long cache_hits, cache_misses;

void auth_users_cache_stats(unsigned long *hits, unsigned long *misses)
{
	*hits = cache_hits;
	*misses = cache_misses;
}

/* HMAC-SHA256(process key, user NUL password) into mac; 0 on failure. */
static int cache_mac(const char *user, const char *password,
		     unsigned char mac[SHA256_DIGEST_LENGTH])
{
	unsigned char msg[AUTH_NAME_MAX + 1 + AUTH_PASSWORD_MAX];
	size_t nu = strlen(user), np = strlen(password);
	unsigned len = 0;
	int ok;

	if (cache_pid != getpid()) {    /* first use, or a fork: a key of our own */
		memset(cache, 0, sizeof cache);
		if (RAND_bytes(cache_key, sizeof cache_key) != 1)
			return 0;
		cache_pid = getpid();
	}
	if (nu > AUTH_NAME_MAX || np > AUTH_PASSWORD_MAX)
		return 0;
	memcpy(msg, user, nu);
	msg[nu] = '\0';
	memcpy(msg + nu + 1, password, np);
	ok = HMAC(EVP_sha256(), cache_key, sizeof cache_key, msg, nu + 1 + np, mac, &len) != NULL &&
	     len == SHA256_DIGEST_LENGTH;
	OPENSSL_cleanse(msg, sizeof msg);
	return ok;
}

/* The live entry for mac, or NULL. */
static struct cache_entry *cache_find(const unsigned char *mac, time_t now)
{
	for (size_t i = 0; i < AUTH_USERS_CACHE; i++)
		if (cache[i].expires > now && CRYPTO_memcmp(cache[i].mac, mac, sizeof cache[i].mac) == 0)
			return &cache[i];
	return NULL;
}

static void cache_store(const unsigned char *mac, const char *hash, long ttl, time_t now)
{
	struct cache_entry *e = cache_find(mac, now), *victim = &cache[0];

	if (strlen(hash) >= CACHE_HASH_MAX)
		return;
	for (size_t i = 0; e == NULL && i < AUTH_USERS_CACHE; i++)
		if (cache[i].expires < victim->expires)       /* free or soonest gone */
			victim = &cache[i];
	if (e == NULL)
		e = victim;
	memcpy(e->mac, mac, sizeof e->mac);
	snprintf(e->hash, sizeof e->hash, "%s", hash);
	e->expires = now + ttl;
}

/* One bcrypt of `password` against `hash` (NULL: the dummy): 1 if it matches. */
static int bcrypt_matches(const char *path, const char *user, const char *hash,
			  const char *password)
{
	char out[CRYPT_OUTPUT_SIZE];
	int match = 0;

	if (hash && strncmp(hash, "$2", 2) != 0)
		log_warn("%s: user %s has no bcrypt hash; login refused", path, user);
	cache_misses++;
	if (bcrypt_run(password ? password : "", hash ? hash : DUMMY_HASH, out) && hash &&
	    password && password[0] && strlen(password) <= AUTH_PASSWORD_MAX &&
	    strlen(out) == strlen(hash))
		match = CRYPTO_memcmp(out, hash, strlen(hash)) == 0;
	explicit_bzero(out, sizeof out);
	return match;
}

enum berr auth_users_verify_cached(const char *path, const char *user, const char *password,
				   long ttl, time_t now)
{
	unsigned char mac[SHA256_DIGEST_LENGTH];
	struct cache_entry *e = NULL;
	char *file = NULL, *hash = NULL;
	int keyed = 0, match;
	enum berr rc;

	if ((rc = file_read(path, &file)))
		return rc;
	if (auth_name_valid(user))
		hash = user_hash(file, user);
	if (ttl > 0 && hash && password && password[0])
		keyed = cache_mac(user, password, mac);
	if (keyed && (e = cache_find(mac, now)) != NULL && strcmp(e->hash, hash) != 0) {
		e->expires = 0;         /* the password changed since */
		e = NULL;
	}
	if (e != NULL) {
		cache_hits++;
		match = 1;
	} else if ((match = bcrypt_matches(path, user, hash, password)) && keyed) {
		cache_store(mac, hash, ttl, now);
	}
	OPENSSL_cleanse(mac, sizeof mac);
	free(hash);
	free(file);
	return match ? BERR_OK : berr_set(BERR_UNAUTHORIZED, BAD_LOGIN);
}

enum berr auth_users_verify(const char *path, const char *user, const char *password)
{
	return auth_users_verify_cached(path, user, password, 0, 0);
}

struct user_edit {
	const char *user;
	const char *hash;       /* NULL: remove */
	int create;
};

static enum berr user_edit_line(const char *old, size_t oldlen, void *ctx, char **out)
{
	struct user_edit *e = ctx;

	(void)oldlen;
	*out = NULL;
	if (old && e->create)
		return berr_set(BERR_DENIED, "user %s exists", e->user);
	if (old == NULL && !e->create)
		return berr_set(BERR_NAME_UNKNOWN, "no user %s", e->user);
	if (e->hash && asprintf(out, "%s:%s", e->user, e->hash) < 0) {
		*out = NULL;
		return berr_sys("allocating", "user line");
	}
	return BERR_OK;
}

static const char USERS_HEADER[] =
	"# berth local users (berthctl user add|passwd|rm): NAME:BCRYPT-HASH\n";

enum berr auth_users_set(const char *path, const char *user, const char *password,
			 int cost, int create)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], hash[CRYPT_OUTPUT_SIZE];
	struct user_edit e = { user, hash, create };
	enum berr rc;

	if (!auth_name_valid(user))
		return berr_set(BERR_NAME_INVALID, "invalid user name \"%s\": use 1-%d of "
				"A-Z a-z 0-9 . _ -, not starting with -", user, AUTH_NAME_MAX);
	if (password == NULL || password[0] == '\0')
		return berr_set(BERR_UNAUTHORIZED, "the password is empty");
	if (strlen(password) > AUTH_PASSWORD_MAX)
		return berr_set(BERR_UNAUTHORIZED, "the password is longer than %d bytes "
				"(bcrypt would ignore the rest)", AUTH_PASSWORD_MAX);
	if (crypt_gensalt_rn("$2b$", cost ? (unsigned long)cost : AUTH_BCRYPT_COST, NULL, 0,
			     salt, sizeof salt) == NULL)
		return berr_set(BERR_INTERNAL, "crypt_gensalt_rn($2b$, cost %d): %s", cost,
				strerror(errno));
	if (!bcrypt_run(password, salt, hash))
		return berr_set(BERR_INTERNAL, "bcrypt failed (is libxcrypt too old for $2b$?)");
	rc = file_edit(path, user, ':', USERS_HEADER, user_edit_line, &e);
	explicit_bzero(hash, sizeof hash);
	return rc;
}

enum berr auth_users_remove(const char *path, const char *user)
{
	struct user_edit e = { user, NULL, 0 };

	if (!auth_name_valid(user))
		return berr_set(BERR_NAME_UNKNOWN, "no user %s", user);
	return file_edit(path, user, ':', USERS_HEADER, user_edit_line, &e);
}

int auth_users_exists(const char *path, const char *user)
{
	char *file = NULL, *hash = NULL;

	if (!auth_name_valid(user) || file_read(path, &file))
		return 0;
	hash = user_hash(file, user);
	free(file);
	free(hash);
	return hash != NULL;
}

enum berr auth_users_list(const char *path, char ***names, size_t *count)
{
	char *file = NULL, **v = NULL;
	const char *p, *line, *colon;
	size_t len, n = 0, cap = 0;
	enum berr rc;

	*names = NULL;
	*count = 0;
	if ((rc = file_read(path, &file)))
		return rc;
	if ((rc = mem_grow(&v, &cap, 1, sizeof *v, 8, path)))
		goto out;
	v[0] = NULL;
	for (p = file; next_line(&p, &line, &len);) {
		colon = memchr(line, ':', len);
		if (line[0] == '#' || colon == NULL)
			continue;
		if ((rc = mem_grow(&v, &cap, n + 2, sizeof *v, 8, path)))
			goto out;
		if ((v[n] = strndup(line, (size_t)(colon - line))) == NULL) {
			rc = berr_sys("allocating for", path);
			goto out;
		}
		v[++n] = NULL;
	}
	*names = v;
	*count = n;
	v = NULL;
out:
	auth_strv_free(v);
	free(file);
	return rc;
}

/* ---------------------------------------------------------------- tokens */

static const char B64URL[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of n bytes into out (4 * n / 3 + 2 bytes). */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = B64URL[v >> 18 & 63];
		out[o++] = B64URL[v >> 12 & 63];
		out[o++] = B64URL[v >> 6 & 63];
		out[o++] = B64URL[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned)in[i] << 16;
		out[o++] = B64URL[v >> 18 & 63];
		out[o++] = B64URL[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = B64URL[v >> 18 & 63];
		out[o++] = B64URL[v >> 12 & 63];
		out[o++] = B64URL[v >> 6 & 63];
	}
	out[o] = '\0';
}

/* "berth_" + base64url of exactly AUTH_TOKEN_SECRET_BYTES into raw; 0 if the
 * text is not that (re-encoding must give the same text: canonical only). */
static int secret_decode(const char *s, unsigned char raw[AUTH_TOKEN_SECRET_BYTES])
{
	size_t plen = strlen(AUTH_TOKEN_PREFIX), o = 0, bits = 0;
	char again[AUTH_TOKEN_STR_SIZE];
	unsigned acc = 0;
	const char *p;

	if (s == NULL || strncmp(s, AUTH_TOKEN_PREFIX, plen) != 0 ||
	    strlen(s + plen) != (AUTH_TOKEN_SECRET_BYTES * 4 + 2) / 3)
		return 0;
	for (p = s + plen; *p; p++) {
		const char *c = strchr(B64URL, *p);
		if (c == NULL)
			return 0;
		acc = (acc << 6 | (unsigned)(c - B64URL)) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < AUTH_TOKEN_SECRET_BYTES)
				raw[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (o != AUTH_TOKEN_SECRET_BYTES)
		return 0;
	b64url_encode(raw, AUTH_TOKEN_SECRET_BYTES, again);
	return strcmp(again, s + plen) == 0;
}

static void sha256_hex(const unsigned char *in, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(in, n, md);
	for (size_t i = 0; i < sizeof md; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int auth_repotoken_scope_valid(const char *scope)
{
	const char *name, *acts, *a;
	size_t n;

	if (scope == NULL)
		return 0;
	if (strcmp(scope, "registry:catalog:*") == 0)
		return 1;
	if (strncmp(scope, "repository:", 11) != 0)
		return 0;
	name = scope + 11;
	acts = strrchr(name, ':');
	if (acts == NULL || acts == name || acts[1] == '\0')
		return 0;
	/* Repository names (and * patterns such as team/ *): no blanks, no ':'. */
	n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-/*");
	if (name + n != acts)
		return 0;
	for (a = acts + 1; *a;) {
		n = strcspn(a, ",");
		if (!((n == 4 && (!strncmp(a, "pull", 4) || !strncmp(a, "push", 4))) ||
		      (n == 6 && !strncmp(a, "delete", 6)) || (n == 1 && *a == '*')))
			return 0;
		a += n;
		if (*a == ',' && *++a == '\0')
			return 0;
	}
	return 1;
}

void auth_repotoken_free(struct auth_repotoken *t)
{
	if (t == NULL)
		return;
	free(t->name);
	auth_strv_free(t->scopes);
	free(t);
}

void auth_repotoken_list_free(struct auth_repotoken *list, size_t count)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free(list[i].name);
		auth_strv_free(list[i].scopes);
	}
	free(list);
}

/* Parse one token line into *t (fields owned by t).  0 if malformed. */
static int token_parse(const char *line, size_t len, struct auth_repotoken *t)
{
	char *copy = strndup(line, len), *save = NULL, *f[5], *s;
	long long created, expires;
	size_t cap = 0;
	int revoked, ok = 0;

	memset(t, 0, sizeof *t);
	if (copy == NULL)
		return 0;
	for (int i = 0; i < 5; i++)
		if ((f[i] = strtok_r(i ? NULL : copy, " \t", &save)) == NULL)
			goto out;
	if (!auth_name_valid(f[0]) || strlen(f[1]) != 64 ||
	    sscanf(f[2], "%lld", &created) != 1 || sscanf(f[3], "%lld", &expires) != 1 ||
	    sscanf(f[4], "%d", &revoked) != 1)
		goto out;
	t->name = strdup(f[0]);
	memcpy(t->hash, f[1], 65);
	t->created = (time_t)created;
	t->expires = (time_t)expires;
	t->revoked = revoked != 0;
	if (t->name == NULL || mem_grow(&t->scopes, &cap, 1, sizeof *t->scopes, 4, "token"))
		goto out;
	t->scopes[0] = NULL;
	while ((s = strtok_r(NULL, " \t", &save)) != NULL) {
		if (mem_grow(&t->scopes, &cap, t->nscopes + 2, sizeof *t->scopes, 4, "token"))
			goto out;
		if ((t->scopes[t->nscopes] = strdup(s)) == NULL)
			goto out;
		t->scopes[++t->nscopes] = NULL;
	}
	ok = t->nscopes > 0;
out:
	free(copy);
	if (!ok) {
		free(t->name);
		auth_strv_free(t->scopes);
		memset(t, 0, sizeof *t);
	}
	return ok;
}

/* The formatted line of *t (malloc'd) or NULL. */
static char *token_format(const struct auth_repotoken *t)
{
	char *line = NULL, *more;

	if (asprintf(&line, "%s %s %lld %lld %d", t->name, t->hash, (long long)t->created,
		     (long long)t->expires, t->revoked) < 0)
		return NULL;
	for (size_t i = 0; i < t->nscopes; i++) {
		if (asprintf(&more, "%s %s", line, t->scopes[i]) < 0) {
			free(line);
			return NULL;
		}
		free(line);
		line = more;
	}
	return line;
}

static const char TOKENS_HEADER[] =
	"# berth repository tokens (berthctl token create|revoke)\n"
	"# NAME SHA256(SECRET) CREATED EXPIRES(0=never) REVOKED SCOPE...\n";

struct token_edit {
	const struct auth_repotoken *add;   /* create: the new token */
	const char *name;                   /* revoke: the name */
};

static enum berr token_edit_line(const char *old, size_t oldlen, void *ctx, char **out)
{
	struct token_edit *e = ctx;
	struct auth_repotoken t;

	*out = NULL;
	if (e->add) {
		if (old)
			return berr_set(BERR_DENIED, "token %s exists", e->add->name);
		*out = token_format(e->add);
		return *out ? BERR_OK : berr_sys("allocating", "token line");
	}
	if (old == NULL)
		return berr_set(BERR_NAME_UNKNOWN, "no token %s", e->name);
	if (!token_parse(old, oldlen, &t))
		return berr_set(BERR_INTERNAL, "token %s: malformed line", e->name);
	t.revoked = 1;
	*out = token_format(&t);
	free(t.name);
	auth_strv_free(t.scopes);
	return *out ? BERR_OK : berr_sys("allocating", "token line");
}

enum berr auth_repotoken_create(const char *path, const char *name, char *const *scopes,
				size_t nscopes, time_t now, time_t expires, char *secret,
				size_t secret_size)
{
	unsigned char raw[AUTH_TOKEN_SECRET_BYTES];
	char enc[AUTH_TOKEN_STR_SIZE];
	struct auth_repotoken t = { .name = (char *)name, .created = now, .expires = expires,
				    .scopes = (char **)scopes, .nscopes = nscopes };
	struct token_edit e = { &t, NULL };
	enum berr rc;

	if (!auth_name_valid(name))
		return berr_set(BERR_NAME_INVALID, "invalid token name \"%s\": use 1-%d of "
				"A-Z a-z 0-9 . _ -, not starting with -", name, AUTH_NAME_MAX);
	if (nscopes == 0)
		return berr_set(BERR_NAME_INVALID, "a token needs at least one --scope");
	for (size_t i = 0; i < nscopes; i++)
		if (!auth_repotoken_scope_valid(scopes[i]))
			return berr_set(BERR_NAME_INVALID, "invalid scope \"%s\": want "
					"repository:NAME:ACTIONS (pull,push,delete or *) or "
					"registry:catalog:*", scopes[i]);
	if (secret_size < AUTH_TOKEN_STR_SIZE)
		return berr_set(BERR_INTERNAL, "token secret buffer too small");
	if (RAND_bytes(raw, sizeof raw) != 1)
		return berr_set(BERR_INTERNAL, "RAND_bytes failed");
	sha256_hex(raw, sizeof raw, t.hash);
	b64url_encode(raw, sizeof raw, enc);
	OPENSSL_cleanse(raw, sizeof raw);
	rc = file_edit(path, name, ' ', TOKENS_HEADER, token_edit_line, &e);
	if (rc == BERR_OK)
		snprintf(secret, secret_size, "%s%s", AUTH_TOKEN_PREFIX, enc);
	OPENSSL_cleanse(enc, sizeof enc);
	return rc;
}

enum berr auth_repotoken_revoke(const char *path, const char *name)
{
	struct token_edit e = { NULL, name };

	if (!auth_name_valid(name))
		return berr_set(BERR_NAME_UNKNOWN, "no token %s", name);
	return file_edit(path, name, ' ', TOKENS_HEADER, token_edit_line, &e);
}

enum berr auth_repotoken_list(const char *path, struct auth_repotoken **list, size_t *count)
{
	struct auth_repotoken *v = NULL, t;
	const char *p, *line;
	char *file = NULL;
	size_t len, n = 0, cap = 0;
	enum berr rc;

	*list = NULL;
	*count = 0;
	if ((rc = file_read(path, &file)))
		return rc;
	for (p = file; next_line(&p, &line, &len);) {
		if (line[0] == '#' || len == 0)
			continue;
		if (!token_parse(line, len, &t)) {
			log_warn("%s: ignoring a malformed line", path);
			continue;
		}
		if ((rc = mem_grow(&v, &cap, n + 1, sizeof *v, 8, path))) {
			free(t.name);
			auth_strv_free(t.scopes);
			auth_repotoken_list_free(v, n);
			free(file);
			return rc;
		}
		v[n++] = t;
	}
	free(file);
	*list = v;
	*count = n;
	return BERR_OK;
}

enum berr auth_repotoken_verify(const char *path, const char *name, const char *secret,
				time_t now, struct auth_repotoken **out)
{
	return auth_repotoken_check(path, name, secret, now, out, NULL);
}

enum berr auth_repotoken_check(const char *path, const char *name, const char *secret,
			       time_t now, struct auth_repotoken **out,
			       enum auth_repotoken_state *state)
{
	static const char zero_hash[65] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	unsigned char raw[AUTH_TOKEN_SECRET_BYTES] = { 0 };
	struct auth_repotoken *list = NULL, *t = NULL;
	char got[65];
	size_t n = 0;
	int wellformed, match;
	enum auth_repotoken_state st = AUTH_TOKEN_BAD_SECRET;
	enum berr rc;

	if (out)
		*out = NULL;
	if (state)
		*state = st;
	if ((rc = auth_repotoken_list(path, &list, &n)))
		return rc;
	for (size_t i = 0; name && i < n && t == NULL; i++)
		if (strcmp(list[i].name, name) == 0)
			t = &list[i];
	/* Same work whether the name exists or the secret parses. */
	wellformed = secret_decode(secret, raw);
	sha256_hex(raw, sizeof raw, got);
	OPENSSL_cleanse(raw, sizeof raw);
	match = CRYPTO_memcmp(got, t ? t->hash : zero_hash, 64) == 0 && wellformed && t;
	if (!match)
		rc = berr_set(BERR_UNAUTHORIZED, BAD_LOGIN);
	else if (t->revoked)
		st = AUTH_TOKEN_REVOKED;
	else if (t->expires != 0 && now >= t->expires)
		st = AUTH_TOKEN_EXPIRED;
	else
		st = AUTH_TOKEN_VALID;
	if (st == AUTH_TOKEN_REVOKED)
		rc = berr_set(BERR_UNAUTHORIZED, "token %s has been revoked", t->name);
	else if (st == AUTH_TOKEN_EXPIRED)
		rc = berr_set(BERR_UNAUTHORIZED, "token %s has expired", t->name);
	if (state)
		*state = st;
	if (rc == BERR_OK && out) {
		if ((*out = calloc(1, sizeof **out)) == NULL) {
			rc = berr_sys("allocating", "token");
		} else {
			**out = *t;     /* move t out of the list */
			memset(t, 0, sizeof *t);
		}
	}
	auth_repotoken_list_free(list, n);
	return rc;
}

/* ---------------------------------------------------------------- revocation */

static enum berr revoke_path(const char *state_dir, const char *name, char *out, size_t size)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char canon[512], hex[2 * SHA256_DIGEST_LENGTH + 1];
	size_t n = auth_name_canonical(name, canon, sizeof canon);

	if (state_dir == NULL || state_dir[0] == '\0')
		return berr_set(BERR_INTERNAL, "state_dir is not set: revocations need a "
				"directory shared by all workers");
	if (n == 0)
		return berr_set(BERR_NAME_INVALID, "an empty user name");
	SHA256((const unsigned char *)canon, n, md);
	for (size_t i = 0; i < sizeof md; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return fs_path(out, size, "%s/revoked/user-%s", state_dir, hex);
}

enum berr auth_user_revoke(const char *state_dir, const char *name, time_t now)
{
	struct timespec ts[2] = { { now, 0 }, { now, 0 } };
	char path[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	enum berr rc;
	int fd;

	if ((rc = revoke_path(state_dir, name, path, sizeof path)) ||
	    (rc = fs_path(dir, sizeof dir, "%s/revoked", state_dir)) || (rc = fs_mkdir_p(dir)))
		return rc;
	/* Never move a revocation back (clocks of two hosts may disagree). */
	if (stat(path, &st) == 0 && st.st_mtime > now)
		return BERR_OK;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return berr_sys("creating", path);
	if (futimens(fd, ts) != 0)
		rc = berr_sys("setting the time of", path);
	else if (fsync(fd) != 0)
		rc = berr_sys("fsync", path);
	close(fd);
	return rc ? rc : fs_fsync_parent(path);
}

int auth_user_revoked(const char *state_dir, const char *name, time_t iat)
{
	char path[PATH_MAX];
	struct berr_ctx probe;
	struct stat st;
	int revoked;

	if (name == NULL)
		return 0;
	/* a name that has no revocation file was never revoked: an answer, not
	 * an error, so the probe runs in its own error context */
	berr_enter(&probe);
	if (revoke_path(state_dir, name, path, sizeof path) != BERR_OK)
		revoked = 0;
	else if (stat(path, &st) == 0 && st.st_mtime >= iat)
		revoked = 1;
	else
		revoked = auth_name_valid(name) &&
			  fs_path(path, sizeof path, "%s/revoked/user-%s", state_dir, name) == BERR_OK &&
			  stat(path, &st) == 0 && st.st_mtime >= iat;
	berr_leave(&probe);
	return revoked;
}

enum berr auth_repotoken_find(const char *path, const char *name, time_t now,
			      struct auth_repotoken **out)
{
	struct auth_repotoken *list = NULL, *t = NULL;
	size_t n = 0;
	enum berr rc;

	*out = NULL;
	if (!path || auth_repotoken_list(path, &list, &n))
		return berr_set(BERR_UNAUTHORIZED, "token %s no longer exists", name);
	for (size_t i = 0; i < n && !t; i++)
		if (strcmp(list[i].name, name) == 0)
			t = &list[i];
	if (!t)
		rc = berr_set(BERR_UNAUTHORIZED, "token %s no longer exists", name);
	else if (t->revoked || (t->expires && t->expires <= now))
		rc = berr_set(BERR_UNAUTHORIZED, "token %s is revoked or expired", name);
	else if (!(*out = calloc(1, sizeof(**out))))
		rc = berr_sys("allocating", "token");
	else {
		**out = *t;     /* move t out of the list */
		memset(t, 0, sizeof(*t));
		rc = BERR_OK;
	}
	auth_repotoken_list_free(list, n);
	return rc;
}
