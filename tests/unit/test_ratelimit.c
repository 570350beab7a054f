/*
 * test_ratelimit.c - failed-login delays: per (account, address) with
 * delays doubling and capped, per account with familiar addresses spared,
 * per address against spraying, the leaky bucket draining, the sweep, and
 * failures recorded by many processes at once all counted (no lost updates
 * without a lock).  Every time is an explicit `now`: nothing sleeps.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/ratelimit.h"
#include "unit.h"

static char dir[] = "/tmp/berth-test-ratelimit.XXXXXX";

/* The wait for user from addr at now (0: allowed). */
static long wait_for(struct auth_ratelimit *rl, const char *user, const char *addr, time_t now)
{
	long retry = -1;
	enum berr rc = auth_ratelimit_check(rl, user, addr, now, &retry);

	if (rc == BERR_OK)
		return retry == 0 ? 0 : -1;
	return rc == BERR_TOOMANYREQUESTS ? retry : -2;
}

static void fail_n(struct auth_ratelimit *rl, const char *user, const char *addr, time_t now,
		   int n)
{
	for (int i = 0; i < n; i++)
		CHECK_INT(auth_ratelimit_fail(rl, user, addr, now), BERR_OK);
}

static void test_pair(struct auth_ratelimit *rl)
{
	time_t t0 = 1767225600;
	long want;

	/* The first 5 failures cost nothing. */
	fail_n(rl, "alice", "10.0.0.1", t0, 5);
	CHECK_INT(wait_for(rl, "alice", "10.0.0.1", t0), 0);
	/* The 6th: 1 s before alice may be tried from there again. */
	fail_n(rl, "alice", "10.0.0.1", t0, 1);
	CHECK_INT(wait_for(rl, "alice", "10.0.0.1", t0), 1);
	CHECK_STR(berr_detail(), "too many failed logins for this account from this address; "
		  "retry in 1 s");
	/* Same account from another address, another account from there: free. */
	CHECK_INT(wait_for(rl, "alice", "10.0.0.2", t0), 0);
	CHECK_INT(wait_for(rl, "bob", "10.0.0.1", t0), 0);
	/* Case and blanks do not give a fresh counter. */
	CHECK_INT(wait_for(rl, " ALICE ", "10.0.0.1", t0), 1);
	CHECK_INT(wait_for(rl, "alice", "10.0.0.1", t0 + 1), 0);
	/* Each further failure doubles the delay, up to login_delay_max. */
	for (int n = 7; n <= 18; n++) {
		fail_n(rl, "alice", "10.0.0.1", t0 + 1, 1);
		want = n - 6 >= 10 ? 900 : 1L << (n - 6);
		CHECK_INT(wait_for(rl, "alice", "10.0.0.1", t0 + 1), want);
	}
	CHECK_INT(wait_for(rl, "alice", "10.0.0.1", t0 + 1 + 899), 1);
	CHECK_INT(wait_for(rl, "alice", "10.0.0.1", t0 + 1 + 900), 0);
	/* A success from there clears the pair. */
	CHECK_INT(auth_ratelimit_success(rl, "alice", "10.0.0.1", t0 + 2), BERR_OK);
	CHECK_INT(wait_for(rl, "alice", "10.0.0.1", t0 + 2), 0);
}

static void test_pair_drains(struct auth_ratelimit *rl)
{
	time_t t0 = 1767300000;

	/* 8 quick failures: level 8, 4 s to wait. */
	fail_n(rl, "carol", "10.0.0.3", t0, 8);
	CHECK_INT(wait_for(rl, "carol", "10.0.0.3", t0), 4);
	CHECK_INT(wait_for(rl, "carol", "10.0.0.3", t0 + 4), 0);
	/* One failure drains per window: after 3 quiet windows the level is
	 * 5, so one more failure makes 6: 1 s. */
	fail_n(rl, "carol", "10.0.0.3", t0 + 3 * 900, 1);
	CHECK_INT(wait_for(rl, "carol", "10.0.0.3", t0 + 3 * 900), 1);
	/* After 6 more quiet windows the bucket is empty: 5 free again. */
	fail_n(rl, "carol", "10.0.0.3", t0 + 9 * 900, 5);
	CHECK_INT(wait_for(rl, "carol", "10.0.0.3", t0 + 9 * 900), 0);
	fail_n(rl, "carol", "10.0.0.3", t0 + 9 * 900, 1);
	CHECK_INT(wait_for(rl, "carol", "10.0.0.3", t0 + 9 * 900), 1);
	/* A steady guesser past the allowance waits about a window per try:
	 * 30 tries, each as soon as allowed, take more than 10 windows. */
	time_t t = t0 + 100 * 900;
	for (int i = 0; i < 30; i++) {
		long w = wait_for(rl, "dave", "10.0.0.4", t);
		t += w > 0 ? w : 0;
		fail_n(rl, "dave", "10.0.0.4", t, 1);
	}
	CHECK(t - (t0 + 100 * 900) > 10 * 900);
}

static void test_account(struct auth_ratelimit *rl)
{
	time_t t0 = 1767400000, t1 = t0 + 40L * 86400;
	char addr[32];

	rl->account_limit = 8;
	/* erin's usual machine. */
	CHECK_INT(auth_ratelimit_success(rl, "erin", "192.168.1.5", t0), BERR_OK);
	/* A distributed guesser: 9 addresses, one try each. */
	for (int i = 0; i < 9; i++) {
		snprintf(addr, sizeof addr, "203.0.113.%d", i);
		fail_n(rl, "erin", addr, t0 + 100, 1);
	}
	CHECK_INT(wait_for(rl, "erin", "198.51.100.1", t0 + 100), 1);
	CHECK_STR(berr_detail(), "too many failed logins for this account; retry in 1 s");
	/* The owner's familiar address is not slowed, in any spelling. */
	CHECK_INT(wait_for(rl, "erin", "192.168.1.5", t0 + 100), 0);
	CHECK_INT(wait_for(rl, "Erin", "192.168.1.5", t0 + 100), 0);
	/* More guessing: delays grow to the cap for unfamiliar addresses. */
	for (int i = 0; i < 20; i++) {
		snprintf(addr, sizeof addr, "203.0.113.%d", 100 + i);
		fail_n(rl, "erin", addr, t0 + 101, 1);
	}
	CHECK_INT(wait_for(rl, "erin", "198.51.100.1", t0 + 101), 900);
	CHECK_INT(wait_for(rl, "erin", "192.168.1.5", t0 + 101), 0);
	/* Another account is not affected. */
	CHECK_INT(wait_for(rl, "frank", "198.51.100.1", t0 + 101), 0);
	/* A success elsewhere does not reset the account's count. */
	CHECK_INT(auth_ratelimit_success(rl, "erin", "192.168.1.6", t0 + 102), BERR_OK);
	CHECK_INT(wait_for(rl, "erin", "198.51.100.1", t0 + 102), 899);
	/* Familiarity ends 30 days after the last success. */
	for (int i = 0; i < 9; i++) {
		snprintf(addr, sizeof addr, "203.0.113.%d", 200 + i);
		fail_n(rl, "erin", addr, t1, 1);
	}
	CHECK_INT(wait_for(rl, "erin", "192.168.1.5", t1), 1);
	rl->account_limit = 50;
}

static void test_spray(struct auth_ratelimit *rl)
{
	time_t t0 = 1767500000;
	char user[32];

	rl->spray_limit = 3;
	CHECK_INT(auth_ratelimit_success(rl, "gina", "192.0.2.7", t0 - 10), BERR_OK);
	/* One person's many typos are one account. */
	fail_n(rl, "hank", "192.0.2.8", t0, 10);
	fail_n(rl, " HANK", "192.0.2.8", t0, 2);
	CHECK_INT(wait_for(rl, "ivan", "192.0.2.8", t0), 0);
	/* Three accounts failing from one address: still free. */
	for (int i = 1; i <= 3; i++) {
		snprintf(user, sizeof user, "spray%d", i);
		fail_n(rl, user, "192.0.2.7", t0, 1);
	}
	CHECK_INT(wait_for(rl, "spray9", "192.0.2.7", t0), 0);
	/* The fourth: the address is slowed, doubling per account. */
	fail_n(rl, "spray4", "192.0.2.7", t0, 1);
	CHECK_INT(wait_for(rl, "spray9", "192.0.2.7", t0), 1);
	CHECK_STR(berr_detail(), "too many failed logins for different accounts from this "
		  "address; retry in 1 s");
	fail_n(rl, "spray5", "192.0.2.7", t0 + 1, 1);
	fail_n(rl, "spray6", "192.0.2.7", t0 + 1, 1);
	CHECK_INT(wait_for(rl, "spray9", "192.0.2.7", t0 + 1), 4);
	/* ... except for accounts it is familiar with, and elsewhere. */
	CHECK_INT(wait_for(rl, "gina", "192.0.2.7", t0 + 1), 0);
	CHECK_INT(wait_for(rl, "spray9", "192.0.2.9", t0 + 1), 0);
	/* The window passes. */
	CHECK_INT(wait_for(rl, "spray9", "192.0.2.7", t0 + 1 + 900), 0);
	rl->spray_limit = 10;
}

/* Entries of `path` (not . and ..); -1 if it cannot be opened. */
static int count_entries(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_sweep(struct auth_ratelimit *rl)
{
	char fam[300];

	snprintf(fam, sizeof fam, "%s/familiar", rl->dir);
	CHECK(count_entries(rl->dir) > 1);
	CHECK(count_entries(fam) > 0);
	/* Long after everything: only the (empty) familiar directory remains. */
	CHECK_INT(auth_ratelimit_sweep(rl, 1767500000 + 365L * 86400), BERR_OK);
	CHECK_INT(count_entries(rl->dir), 1);
	CHECK_INT(count_entries(fam), 0);
}

/* 16 processes x 25 failures of one account at the same instant: all 400
 * recorded (a read-modify-write counter would lose some). */
static void test_concurrent(const char *state)
{
	struct auth_ratelimit rl;
	time_t t0 = 1767600000;
	int nproc = 16, each = 25, ok = 1, status;

	CHECK_INT(auth_ratelimit_init_dir(&rl, state, 5, 100), BERR_OK);
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
	/* 400 failures: one more than 399 free ones waits 1 s ... */
	rl.account_limit = nproc * each - 1;
	CHECK_INT(wait_for(&rl, "target", NULL, t0), 1);
	/* ... and with 400 free ones, none: the count is exact. */
	rl.account_limit = nproc * each;
	CHECK_INT(wait_for(&rl, "target", NULL, t0), 0);
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
	CHECK_INT(auth_ratelimit_init_dir(&rl, NULL, 5, 900), BERR_INTERNAL);
	CHECK_INT(auth_ratelimit_init_dir(&rl, dir, 5, 900), BERR_OK);
	CHECK_INT(rl.delay_max, 900);
	test_pair(&rl);
	test_pair_drains(&rl);
	test_account(&rl);
	test_spray(&rl);
	test_sweep(&rl);
	auth_ratelimit_release(&rl);
	test_concurrent(dir);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
