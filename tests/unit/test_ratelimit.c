/*
 * test_ratelimit.c - the failed-login limit: per user, per address, the
 * window sliding past, success clearing the user, and failures recorded by
 * many processes at once all counted (no lost updates without a lock).
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/ratelimit.h"
#include "unit.h"

static char dir[] = "/tmp/berth-test-ratelimit.XXXXXX";

static void test_per_user(struct auth_ratelimit *rl)
{
	time_t t0 = 1767225600;
	long retry = -1;

	CHECK_INT(auth_ratelimit_check(rl, "alice", "10.0.0.1", t0, &retry), BERR_OK);
	CHECK_INT(retry, 0);
	/* 3 failures from 3 addresses: the user is blocked everywhere. */
	CHECK_INT(auth_ratelimit_fail(rl, "alice", "10.0.0.1", t0), BERR_OK);
	CHECK_INT(auth_ratelimit_fail(rl, "alice", "10.0.0.2", t0 + 10), BERR_OK);
	CHECK_INT(auth_ratelimit_check(rl, "alice", "10.0.0.9", t0 + 10, &retry), BERR_OK);
	CHECK_INT(auth_ratelimit_fail(rl, "alice", "10.0.0.3", t0 + 20), BERR_OK);
	CHECK_INT(auth_ratelimit_check(rl, "alice", "10.0.0.9", t0 + 20, &retry),
		  BERR_TOOMANYREQUESTS);
	CHECK_INT(retry, 80);   /* the first failure leaves the 100 s window at t0+100 */
	CHECK_STR(berr_detail(), "too many failed logins for this user; retry in 80 s");
	/* Case does not give an attacker a fresh counter. */
	CHECK_INT(auth_ratelimit_check(rl, "ALICE", "10.0.0.9", t0 + 20, &retry),
		  BERR_TOOMANYREQUESTS);
	/* Other users are not affected. */
	CHECK_INT(auth_ratelimit_check(rl, "bob", "10.0.0.9", t0 + 20, &retry), BERR_OK);
	/* The window slides: at t0+100 the first failure is gone. */
	CHECK_INT(auth_ratelimit_check(rl, "alice", "10.0.0.9", t0 + 99, &retry),
		  BERR_TOOMANYREQUESTS);
	CHECK_INT(retry, 1);
	CHECK_INT(auth_ratelimit_check(rl, "alice", "10.0.0.9", t0 + 100, &retry), BERR_OK);
	/* A success clears the user. */
	CHECK_INT(auth_ratelimit_fail(rl, "alice", NULL, t0 + 100), BERR_OK);
	CHECK_INT(auth_ratelimit_check(rl, "alice", NULL, t0 + 100, &retry), BERR_TOOMANYREQUESTS);
	CHECK_INT(auth_ratelimit_success(rl, "alice"), BERR_OK);
	CHECK_INT(auth_ratelimit_check(rl, "alice", NULL, t0 + 100, &retry), BERR_OK);
	CHECK_INT(auth_ratelimit_success(rl, "never-failed"), BERR_OK);
}

static void test_per_address(struct auth_ratelimit *rl)
{
	time_t t0 = 1767300000;
	long retry = 0;
	char user[32];

	/* Password spraying: one address, a different user each time. */
	for (int i = 0; i < 3; i++) {
		snprintf(user, sizeof user, "spray%d", i);
		CHECK_INT(auth_ratelimit_check(rl, user, "192.0.2.7", t0 + i, &retry), BERR_OK);
		CHECK_INT(auth_ratelimit_fail(rl, user, "192.0.2.7", t0 + i), BERR_OK);
	}
	CHECK_INT(auth_ratelimit_check(rl, "spray9", "192.0.2.7", t0 + 5, &retry),
		  BERR_TOOMANYREQUESTS);
	CHECK_INT(retry, 95);
	CHECK_STR(berr_detail(), "too many failed logins from this address; retry in 95 s");
	CHECK_INT(auth_ratelimit_check(rl, "spray9", "192.0.2.8", t0 + 5, &retry), BERR_OK);
	/* A successful login of one user does not reset the address. */
	CHECK_INT(auth_ratelimit_success(rl, "spray0"), BERR_OK);
	CHECK_INT(auth_ratelimit_check(rl, "spray0", "192.0.2.7", t0 + 5, &retry),
		  BERR_TOOMANYREQUESTS);
	/* The sweep removes what has expired, and only that. */
	CHECK_INT(auth_ratelimit_sweep(rl, t0 + 50), BERR_OK);
	CHECK_INT(auth_ratelimit_check(rl, "x", "192.0.2.7", t0 + 50, &retry), BERR_TOOMANYREQUESTS);
	CHECK_INT(auth_ratelimit_sweep(rl, t0 + 200), BERR_OK);
	CHECK_INT(auth_ratelimit_check(rl, "x", "192.0.2.7", t0 + 200, &retry), BERR_OK);
}

/* 16 processes x 25 failures for one user at the same instant: all 400
 * recorded (a read-modify-write counter would lose some). */
static void test_concurrent(const char *state)
{
	struct auth_ratelimit rl;
	time_t t0 = 1767400000;
	int nproc = 16, each = 25, ok = 1, status;
	long retry = 0;

	CHECK_INT(auth_ratelimit_init_dir(&rl, state, nproc * each, 100), BERR_OK);
	for (int p = 0; p < nproc; p++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < each; i++)
				if (auth_ratelimit_fail(&rl, "target", NULL, t0))
					_exit(1);
			_exit(0);
		}
		if (pid < 0)
			ok = 0;
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	CHECK(ok);
	CHECK_INT(auth_ratelimit_check(&rl, "target", NULL, t0, &retry), BERR_TOOMANYREQUESTS);
	auth_ratelimit_release(&rl);
	/* One fewer than recorded must still pass: the count is exact. */
	CHECK_INT(auth_ratelimit_init_dir(&rl, state, nproc * each + 1, 100), BERR_OK);
	CHECK_INT(auth_ratelimit_check(&rl, "target", NULL, t0, &retry), BERR_OK);
	auth_ratelimit_release(&rl);
}

int main(void)
{
	struct auth_ratelimit rl;
	char cmd[300];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	CHECK_INT(auth_ratelimit_init_dir(&rl, NULL, 3, 100), BERR_INTERNAL);
	CHECK_INT(auth_ratelimit_init_dir(&rl, dir, 3, 100), BERR_OK);
	test_per_user(&rl);
	test_per_address(&rl);
	auth_ratelimit_release(&rl);
	test_concurrent(dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
