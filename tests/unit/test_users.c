/*
 * test_users.c - the local users file (bcrypt) and repository tokens:
 * round trips, wrong and unknown logins, the atomic 0600 rewrite, the life
 * of a token (create, verify, expire, revoke), the per-process cache of
 * successful bcrypt checks (hit, miss after passwd or rm, keyed on name and
 * password apart, expiry, a forked worker's own key; tokens never run
 * bcrypt), canonical names and user revocations.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/users.h"
#include "util/fs.h"
#include "unit.h"

#define COST 4          /* the cheapest bcrypt: tests need speed, not strength */

static char dir[] = "/tmp/berth-test-users.XXXXXX";
static char users[256], tokens[256];

static void test_names(void)
{
	CHECK(auth_name_valid("alice"));
	CHECK(auth_name_valid("a.b_c-d9"));
	CHECK(auth_name_valid("A"));
	CHECK(!auth_name_valid(""));
	CHECK(!auth_name_valid("-rf"));
	CHECK(!auth_name_valid("a:b"));
	CHECK(!auth_name_valid("a b"));
	CHECK(!auth_name_valid("a/b"));
	CHECK(!auth_name_valid("j\xc3\xbcrgen"));
	CHECK(auth_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 64 */
	CHECK(!auth_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_users_roundtrip(void)
{
	struct stat st;
	char **names = NULL, *file = NULL;
	size_t n = 0, len;

	CHECK_INT(auth_users_verify(users, "alice", "x"), BERR_UNAUTHORIZED); /* no file */
	CHECK_INT(auth_users_set(users, "alice", "alice-pw", COST, 1), BERR_OK);
	CHECK_INT(auth_users_set(users, "bob", "bob-pw", COST, 1), BERR_OK);
	CHECK_INT(auth_users_set(users, "alice", "other", COST, 1), BERR_DENIED);
	CHECK_INT(auth_users_set(users, "nobody", "pw", COST, 0), BERR_NAME_UNKNOWN);
	CHECK_INT(auth_users_set(users, "-x", "pw", COST, 1), BERR_NAME_INVALID);
	CHECK_INT(auth_users_set(users, "carol", "", COST, 1), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_set(users, "carol", "0123456789012345678901234567890123456789"
				 "01234567890123456789012345678901x", COST, 1), BERR_UNAUTHORIZED);

	CHECK_INT(auth_users_verify(users, "alice", "alice-pw"), BERR_OK);
	CHECK_INT(auth_users_verify(users, "bob", "bob-pw"), BERR_OK);
	CHECK_INT(auth_users_verify(users, "alice", "bob-pw"), BERR_UNAUTHORIZED);
	CHECK_STR(berr_detail(), "invalid username or password");
	CHECK_INT(auth_users_verify(users, "alice", ""), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_verify(users, "alice", NULL), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_verify(users, "mallory", "alice-pw"), BERR_UNAUTHORIZED);
	CHECK_STR(berr_detail(), "invalid username or password");
	CHECK_INT(auth_users_verify(users, "alice:x", "alice-pw"), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_verify(users, "ALICE", "alice-pw"), BERR_UNAUTHORIZED);

	CHECK_INT(stat(users, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK(fs_read_small(users, 1 << 20, &file, &len, BERR_NAME_UNKNOWN) == BERR_OK);
	CHECK(file && file[0] == '#');
	CHECK(file && strstr(file, "\nalice:$2b$04$") != NULL);
	free(file);

	CHECK_INT(auth_users_set(users, "alice", "new-pw", COST, 0), BERR_OK);
	CHECK_INT(auth_users_verify(users, "alice", "alice-pw"), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_verify(users, "alice", "new-pw"), BERR_OK);
	CHECK_INT(auth_users_verify(users, "bob", "bob-pw"), BERR_OK);

	CHECK_INT(auth_users_list(users, &names, &n), BERR_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(names[0], "alice");
		CHECK_STR(names[1], "bob");
		CHECK(names[2] == NULL);
	}
	auth_strv_free(names);

	CHECK_INT(auth_users_remove(users, "alice"), BERR_OK);
	CHECK_INT(auth_users_remove(users, "alice"), BERR_NAME_UNKNOWN);
	CHECK(!auth_users_exists(users, "alice"));
	CHECK(auth_users_exists(users, "bob"));
	CHECK_INT(auth_users_verify(users, "alice", "new-pw"), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_verify(users, "bob", "bob-pw"), BERR_OK);
}

/* A rewrite keeps comments and foreign lines, leaves no temporary file and
 * no lock, keeps mode 0600 even if someone loosened it, and a held lock
 * makes a second writer fail cleanly. */
static void test_users_rewrite(void)
{
	char lock[300], *file = NULL, cmd[600];
	struct stat st;
	size_t len;
	FILE *f;

	f = fopen(users, "a");
	CHECK(f != NULL);
	if (f) {
		fputs("# kept comment\n", f);
		fclose(f);
	}
	chmod(users, 0644);
	CHECK_INT(auth_users_set(users, "dave", "dave-pw", COST, 1), BERR_OK);
	CHECK_INT(stat(users, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK(fs_read_small(users, 1 << 20, &file, &len, BERR_NAME_UNKNOWN) == BERR_OK);
	CHECK(file && strstr(file, "# kept comment\ndave:") != NULL);
	free(file);
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep -v -e '^users$' -e '^tokens$')\"", dir);
	CHECK_INT(system(cmd), 0);

	snprintf(lock, sizeof lock, "%s.lock", users);
	f = fopen(lock, "w");
	if (f)
		fclose(f);
	CHECK_INT(auth_users_set(users, "erin", "pw", COST, 1), BERR_BUSY);
	CHECK(strstr(berr_detail(), "another berthctl") != NULL);
	unlink(lock);
	CHECK_INT(auth_users_set(users, "erin", "pw", COST, 1), BERR_OK);
	CHECK_INT(auth_users_verify(users, "dave", "dave-pw"), BERR_OK);
}

static void test_scopes(void)
{
	CHECK(auth_repotoken_scope_valid("repository:ci/app:pull,push"));
	CHECK(auth_repotoken_scope_valid("repository:ci/app:pull"));
	CHECK(auth_repotoken_scope_valid("repository:team-a/*:*"));
	CHECK(auth_repotoken_scope_valid("repository:x:pull,push,delete"));
	CHECK(auth_repotoken_scope_valid("registry:catalog:*"));
	CHECK(!auth_repotoken_scope_valid("repository:ci/app:"));
	CHECK(!auth_repotoken_scope_valid("repository::pull"));
	CHECK(!auth_repotoken_scope_valid("repository:ci/app:pull,"));
	CHECK(!auth_repotoken_scope_valid("repository:ci/app:admin"));
	CHECK(!auth_repotoken_scope_valid("repository:Ci/App:pull"));
	CHECK(!auth_repotoken_scope_valid("repository:ci app:pull"));
	CHECK(!auth_repotoken_scope_valid("registry:catalog:pull"));
	CHECK(!auth_repotoken_scope_valid(""));
}

static void test_tokens(void)
{
	char *scopes[] = { "repository:ci/app:pull,push", "repository:ci/lib:pull" };
	char secret[AUTH_TOKEN_STR_SIZE], secret2[AUTH_TOKEN_STR_SIZE], bad[AUTH_TOKEN_STR_SIZE];
	struct auth_repotoken *t = NULL, *list = NULL;
	struct stat st;
	size_t n = 0;
	time_t now = 1767225600;

	CHECK_INT(auth_repotoken_verify(tokens, "ci", "berth_x", now, &t), BERR_UNAUTHORIZED);
	CHECK_INT(auth_repotoken_create(tokens, "ci", scopes, 2, now, 0, secret, sizeof secret),
		  BERR_OK);
	CHECK_INT(strlen(secret), 6 + 43);
	CHECK(strncmp(secret, "berth_", 6) == 0);
	CHECK_INT(auth_repotoken_create(tokens, "ci", scopes, 1, now, 0, secret2, sizeof secret2),
		  BERR_DENIED);
	CHECK_INT(auth_repotoken_create(tokens, "x", NULL, 0, now, 0, secret2, sizeof secret2),
		  BERR_NAME_INVALID);
	CHECK_INT(auth_repotoken_create(tokens, "short", scopes, 1, now, now + 3600, secret2,
					sizeof secret2), BERR_OK);
	CHECK(strcmp(secret, secret2) != 0);
	CHECK_INT(stat(tokens, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);

	CHECK_INT(auth_repotoken_verify(tokens, "ci", secret, now + 86400 * 365, &t), BERR_OK);
	CHECK(t != NULL);
	if (t) {
		CHECK_STR(t->name, "ci");
		CHECK_INT(t->nscopes, 2);
		CHECK_STR(t->scopes[0], "repository:ci/app:pull,push");
		CHECK_STR(t->scopes[1], "repository:ci/lib:pull");
		CHECK_INT(t->expires, 0);
	}
	auth_repotoken_free(t);
	t = NULL;
	/* The secret of one token is not the password of another. */
	CHECK_INT(auth_repotoken_verify(tokens, "short", secret, now, NULL), BERR_UNAUTHORIZED);
	CHECK_INT(auth_repotoken_verify(tokens, "nobody", secret, now, NULL), BERR_UNAUTHORIZED);
	/* One flipped character, a truncated secret, a non-canonical tail. */
	snprintf(bad, sizeof bad, "%s", secret);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	CHECK_INT(auth_repotoken_verify(tokens, "ci", bad, now, NULL), BERR_UNAUTHORIZED);
	CHECK_STR(berr_detail(), "invalid username or password");
	bad[10] = secret[10];
	bad[20] = '\0';
	CHECK_INT(auth_repotoken_verify(tokens, "ci", bad, now, NULL), BERR_UNAUTHORIZED);
	CHECK_INT(auth_repotoken_verify(tokens, "ci", secret + 6, now, NULL), BERR_UNAUTHORIZED);
	CHECK_INT(auth_repotoken_verify(tokens, "ci", "", now, NULL), BERR_UNAUTHORIZED);

	/* Expiry. */
	CHECK_INT(auth_repotoken_verify(tokens, "short", secret2, now + 3599, NULL), BERR_OK);
	CHECK_INT(auth_repotoken_verify(tokens, "short", secret2, now + 3600, NULL), BERR_UNAUTHORIZED);
	CHECK_STR(berr_detail(), "token short has expired");

	/* Revocation. */
	CHECK_INT(auth_repotoken_revoke(tokens, "ci"), BERR_OK);
	CHECK_INT(auth_repotoken_revoke(tokens, "ci"), BERR_OK);
	CHECK_INT(auth_repotoken_revoke(tokens, "nobody"), BERR_NAME_UNKNOWN);
	CHECK_INT(auth_repotoken_verify(tokens, "ci", secret, now, NULL), BERR_UNAUTHORIZED);
	CHECK_STR(berr_detail(), "token ci has been revoked");
	CHECK_INT(auth_repotoken_create(tokens, "ci", scopes, 1, now, 0, secret2, sizeof secret2),
		  BERR_DENIED);

	CHECK_INT(auth_repotoken_list(tokens, &list, &n), BERR_OK);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(list[0].name, "ci");
		CHECK_INT(list[0].revoked, 1);
		CHECK_INT(list[0].created, now);
		CHECK_INT(list[0].nscopes, 2);
		CHECK_STR(list[1].name, "short");
		CHECK_INT(list[1].revoked, 0);
		CHECK_INT(list[1].expires, now + 3600);
	}
	auth_repotoken_list_free(list, n);
}


/* bcrypt runs (cache misses) and hits since the last call. */
static unsigned long last_hits, last_misses;
static void cache_delta(unsigned long *hits, unsigned long *misses)
{
	unsigned long h, m;

	auth_users_cache_stats(&h, &m);
	*hits = h - last_hits;
	*misses = m - last_misses;
	last_hits = h;
	last_misses = m;
}
#define CHECK_CACHE(h, m) do { \
	unsigned long h_, m_; \
	cache_delta(&h_, &m_); \
	CHECK_INT(h_, h); \
	CHECK_INT(m_, m); \
} while (0)

static void test_cache(void)
{
	char secret[AUTH_TOKEN_STR_SIZE], *scopes[] = { "repository:ci/app:pull" };
	time_t t0 = 1767225600;
	int status = -1;
	pid_t pid;

	CHECK_INT(auth_users_set(users, "gwen", "gwen-pw", COST, 1), BERR_OK);
	CHECK_INT(auth_users_set(users, "ab", "cd", COST, 1), BERR_OK);
	CHECK_INT(auth_users_set(users, "a", "bcd", COST, 1), BERR_OK);
	auth_users_cache_stats(&last_hits, &last_misses);      /* count from here */
	CHECK_CACHE(0, 0);
	/* The first check runs bcrypt, the next ones do not. */
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0), BERR_OK);
	CHECK_CACHE(0, 1);
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 1), BERR_OK);
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 299), BERR_OK);
	CHECK_CACHE(2, 0);
	/* A wrong password is never a hit; nor another user with her password. */
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw ", 300, t0 + 2), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_verify_cached(users, "bob", "gwen-pw", 300, t0 + 2), BERR_UNAUTHORIZED);
	CHECK_CACHE(0, 2);
	/* Expiry: ttl seconds after the check that ran bcrypt. */
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 300), BERR_OK);
	CHECK_CACHE(0, 1);
	/* ttl 0: no cache at all. */
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 0, t0 + 301), BERR_OK);
	CHECK_CACHE(0, 1);
	/* Name and password are keyed apart: "ab"/"cd" is not "a"/"bcd". */
	CHECK_INT(auth_users_verify_cached(users, "ab", "cd", 300, t0), BERR_OK);
	CHECK_INT(auth_users_verify_cached(users, "a", "bcd", 300, t0), BERR_OK);
	CHECK_CACHE(0, 2);
	CHECK_INT(auth_users_verify_cached(users, "a", "bcd", 300, t0), BERR_OK);
	CHECK_CACHE(1, 0);
	/* A forked worker draws its own key and starts empty. */
	if ((pid = fork()) == 0) {
		unsigned long h, m;
		auth_users_cache_stats(&h, &m);
		auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 400);
		auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 401);
		auth_users_cache_stats(&h, &m);
		_exit(m - last_misses == 1 && h - last_hits == 1 ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	/* A password change ends the entry at once. */
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 400), BERR_OK);
	CHECK_CACHE(1, 0);
	CHECK_INT(auth_users_set(users, "gwen", "gwen-new", COST, 0), BERR_OK);
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 401), BERR_UNAUTHORIZED);
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-new", 300, t0 + 401), BERR_OK);
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-new", 300, t0 + 402), BERR_OK);
	CHECK_CACHE(1, 2);
	/* Changing back to the old password is a new hash: no stale hit. */
	CHECK_INT(auth_users_set(users, "gwen", "gwen-pw", COST, 0), BERR_OK);
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 403), BERR_OK);
	CHECK_CACHE(0, 1);
	/* So does removing the user. */
	CHECK_INT(auth_users_remove(users, "gwen"), BERR_OK);
	CHECK_INT(auth_users_verify_cached(users, "gwen", "gwen-pw", 300, t0 + 404), BERR_UNAUTHORIZED);
	CHECK_CACHE(0, 1);
	/* Repository tokens never run bcrypt, right or wrong. */
	CHECK_INT(auth_repotoken_create(tokens, "cache-ci", scopes, 1, t0, 0, secret, sizeof secret),
		  BERR_OK);
	CHECK_INT(auth_repotoken_verify(tokens, "cache-ci", secret, t0, NULL), BERR_OK);
	CHECK_INT(auth_repotoken_verify(tokens, "cache-ci", "berth_wrong", t0, NULL), BERR_UNAUTHORIZED);
	CHECK_CACHE(0, 0);
}

static void test_canonical(void)
{
	char out[16];

	CHECK_INT(auth_name_canonical("  Alice\t ", out, sizeof out), 5);
	CHECK_STR(out, "alice");
	CHECK_INT(auth_name_canonical("J\xc3\x9crgen@Corp", out, sizeof out), 12);
	CHECK_STR(out, "j\xc3\x9crgen@corp");   /* UTF-8 bytes kept as they are */
	CHECK_INT(auth_name_canonical("Ann Lee", out, sizeof out), 7);
	CHECK_STR(out, "ann lee");
	CHECK_INT(auth_name_canonical("   ", out, sizeof out), 0);
	CHECK_INT(auth_name_canonical("abcdefghijklmnopqrstuvwxyz", out, sizeof out), 15);
}

static void test_revoke(void)
{
	char state[300], old[400];
	time_t t0 = 1767225600;
	FILE *f;

	snprintf(state, sizeof state, "%s/state", dir);
	CHECK_INT(auth_user_revoke(NULL, "alice", t0), BERR_INTERNAL);
	CHECK(!auth_user_revoked(state, "alice", t0));
	CHECK_INT(auth_user_revoke(state, "Alice ", t0), BERR_OK);
	/* Tokens issued up to that second are revoked, later ones are not. */
	CHECK(auth_user_revoked(state, "alice", t0 - 86400));
	CHECK(auth_user_revoked(state, "alice", t0));
	CHECK(!auth_user_revoked(state, "alice", t0 + 1));
	CHECK(!auth_user_revoked(state, "bob", t0 - 86400));
	/* Directory names with '/', blanks and UTF-8 are hashed into a name. */
	CHECK_INT(auth_user_revoke(state, "../J\xc3\xbcrgen Corp/x", t0), BERR_OK);
	CHECK(auth_user_revoked(state, "../j\xc3\xbcrgen corp/x", t0 - 1));
	/* An earlier revocation time never replaces a later one. */
	CHECK_INT(auth_user_revoke(state, "alice", t0 - 100), BERR_OK);
	CHECK(auth_user_revoked(state, "alice", t0));
	/* The files of earlier versions still count. */
	snprintf(old, sizeof old, "%s/revoked/user-carl", state);
	f = fopen(old, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(auth_user_revoked(state, "carl", t0));
}

int main(void)
{
	char cmd[300];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(users, sizeof users, "%s/users", dir);
	snprintf(tokens, sizeof tokens, "%s/tokens", dir);
	test_names();
	test_users_roundtrip();
	test_users_rewrite();
	test_scopes();
	test_tokens();
	test_cache();
	test_canonical();
	test_revoke();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
