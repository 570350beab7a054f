/*
 * login-inproc.c - what a login costs in one process, without HTTP: 200
 * repository-token checks, 200 local-user checks without the bcrypt cache
 * (every login runs bcrypt, as before the cache) and 200 with it
 * (login_cache_ttl 300: the first runs bcrypt).  Not built by `make`:
 *
 *   make && cc -O2 -I. -D_GNU_SOURCE -o build/login-inproc bench/login-inproc.c \
 *       build/libberth.a -lcrypto -lcrypt && build/login-inproc
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "auth/users.h"

#define N 200

static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

int main(void)
{
	char dir[] = "/tmp/berth-login-inproc.XXXXXX", users[300], tokens[300], cmd[400];
	char secret[AUTH_TOKEN_STR_SIZE], *scopes[] = { "repository:ci/app:pull" };
	struct timespec t;
	time_t now = time(NULL);
	int bad = 0;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(users, sizeof users, "%s/users", dir);
	snprintf(tokens, sizeof tokens, "%s/tokens", dir);
	if (auth_users_set(users, "alice", "alice-pw", 0, 1) ||
	    auth_repotoken_create(tokens, "ci", scopes, 1, now, 0, secret, sizeof secret))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < N; i++)
		bad += auth_repotoken_verify(tokens, "ci", secret, now, NULL) != BERR_OK;
	printf("%d repository-token logins:             %8.1f ms\n", N, ms_since(&t));
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < N; i++)
		bad += auth_users_verify(users, "alice", "alice-pw") != BERR_OK;
	printf("%d local-user logins, no cache (bcrypt %d): %8.1f ms\n", N, AUTH_BCRYPT_COST,
	       ms_since(&t));
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < N; i++)
		bad += auth_users_verify_cached(users, "alice", "alice-pw", 300, now) != BERR_OK;
	printf("%d local-user logins, cache (ttl 300):  %8.1f ms\n", N, ms_since(&t));
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	printf("failed checks: %d\n", bad);
	return bad != 0;
}
