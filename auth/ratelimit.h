/*
 * ratelimit.h - slowing password guessing without locking anyone out;
 * shared by every worker and by pools on several hosts that share
 * state_dir.
 *
 * Three rules, each a delay rather than a lock (defaults in brackets):
 *
 *   pair     per (account, client address): the first login_fail_limit [5]
 *            failures cost nothing; each further one doubles a delay
 *            (1, 2, 4 ... s, at most login_delay_max [900]) before that
 *            account may be tried again from that address.  A success from
 *            there clears it.  Typos hurt only the one who makes them.
 *   account  per account, all addresses: beyond login_account_limit [50]
 *            failures, addresses the account is not familiar with are
 *            slowed the same way; a familiar address (one that logged in
 *            to the account within AUTH_RATELIMIT_FAMILIAR, 30 days) is
 *            not, so a distributed guesser crawls while the owner gets in
 *            from his usual machines.
 *   spray    per address: beyond login_spray_limit [10] distinct accounts
 *            failing within login_fail_window [900 s], that address is
 *            slowed for accounts it is not familiar with.  One person's
 *            many typos count as one account.
 *
 * "Failures" for the pair and account rules are a leaky bucket: each
 * failure adds one, and one drains away per login_fail_window, so a burst
 * of typos is forgotten within a few windows while a steady guesser is held
 * to about one try per window once past the free allowance.  The delay
 * runs from the key's latest failure.
 *
 * Not counted, never refused: repository tokens (256-bit secrets cannot be
 * guessed; the caller does not call in here for them), refused (429)
 * attempts, logins that failed because the directory was down.  Accounts
 * are keyed on auth_name_canonical() (trimmed, ASCII-lowercased).
 *
 * The caller:
 *
 *   if (auth_ratelimit_check(&rl, user, addr, now, &retry))  -> 429, Retry-After: retry
 *   else if (password wrong) auth_ratelimit_fail(&rl, user, addr, now)   -> 401
 *   else auth_ratelimit_success(&rl, user, addr, now)
 *
 * When the state directory cannot be written the functions return
 * BERR_INTERNAL; the caller should log it and carry on (fail open) rather
 * than lock everyone out.
 */
#ifndef BERTH_AUTH_RATELIMIT_H
#define BERTH_AUTH_RATELIMIT_H

#include <time.h>

#include "util/config.h"
#include "util/err.h"

#define AUTH_RATELIMIT_FAMILIAR (30L * 86400)

struct auth_ratelimit {
	char *dir;              /* <state_dir>/logins */
	int limit;              /* free failures per (account, address) */
	long window;            /* seconds: spray window, and the drain of one failure */
	long delay_max;         /* longest delay, seconds */
	int spray_limit;        /* distinct failing accounts per address */
	int account_limit;      /* free failures per account, all addresses */
	long familiar;          /* seconds a success keeps an address familiar */
};

/* From cfg->state_dir and the login_* keys.
 * BERR_INTERNAL "state_dir is not set" without a state directory. */
enum berr auth_ratelimit_init(struct auth_ratelimit *rl, const struct config *cfg);
/* The same with explicit pair limit and window, the other fields at their
 * defaults (tests and tools may change them afterwards). */
enum berr auth_ratelimit_init_dir(struct auth_ratelimit *rl, const char *state_dir,
				  int limit, long window);
void auth_ratelimit_release(struct auth_ratelimit *rl);

/* BERR_OK if `user` may be tried from `addr` at `now`; else
 * BERR_TOOMANYREQUESTS, the seconds to wait in *retry_after and a detail
 * for the client naming the rule ("too many failed logins for this account
 * from this address; retry in N s", "... for this account; ...", "too many
 * failed logins for different accounts from this address; ...").
 * `addr` may be NULL/empty (only the account rule applies then). */
enum berr auth_ratelimit_check(const struct auth_ratelimit *rl, const char *user,
			       const char *addr, time_t now, long *retry_after);
/* Record one failed login of `user` from `addr`. */
enum berr auth_ratelimit_fail(const struct auth_ratelimit *rl, const char *user,
			      const char *addr, time_t now);
/* A successful login: clear the pair, make `addr` familiar for `user`.
 * The account's and the address's counts stay (a success of the owner
 * must not reset a distributed attack on him, nor one valid account an
 * attacker's address). */
enum berr auth_ratelimit_success(const struct auth_ratelimit *rl, const char *user,
				 const char *addr, time_t now);
/* Remove what can no longer matter, and keys left empty, everywhere
 * (call now and then, e.g. from the pool's periodic sweep). */
enum berr auth_ratelimit_sweep(const struct auth_ratelimit *rl, time_t now);

#endif
