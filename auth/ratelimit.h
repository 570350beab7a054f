/*
 * ratelimit.h - failed-login limit per user and per client address, shared
 * by every worker and by pools on several hosts that share state_dir.
 *
 * After `login_fail_limit` failed logins within `login_fail_window` seconds
 * for one user (any address) or from one address (any user), further logins
 * for that key are refused with BERR_TOOMANYREQUESTS until the oldest of
 * those failures leaves the window.  A successful login clears its user's
 * failures (not its address's: one valid account must not reset an
 * attacker's address).  The caller:
 *
 *   if (auth_ratelimit_check(&rl, user, addr, now, &retry))  -> 429, Retry-After: retry
 *   else if (password wrong) auth_ratelimit_fail(&rl, user, addr, now)   -> 401
 *   else auth_ratelimit_success(&rl, user)
 *
 * A refused (429) attempt must not be recorded as a failure, and a login that
 * failed because the directory was down is not a failed login.  When the
 * state directory cannot be written the functions return BERR_INTERNAL; the
 * caller should log it and carry on (fail open) rather than lock everyone out.
 */
#ifndef BERTH_AUTH_RATELIMIT_H
#define BERTH_AUTH_RATELIMIT_H

#include <time.h>

#include "util/config.h"
#include "util/err.h"

struct auth_ratelimit {
	char *dir;              /* <state_dir>/logins */
	int limit;
	long window;
};

/* From cfg->state_dir, login_fail_limit and login_fail_window.
 * BERR_INTERNAL "state_dir is not set" without a state directory. */
enum berr auth_ratelimit_init(struct auth_ratelimit *rl, const struct config *cfg);
/* The same with explicit values (tests, tools). */
enum berr auth_ratelimit_init_dir(struct auth_ratelimit *rl, const char *state_dir,
				  int limit, long window);
void auth_ratelimit_release(struct auth_ratelimit *rl);

/* BERR_OK if a login for `user` from `addr` may be tried at `now`; else
 * BERR_TOOMANYREQUESTS with detail "too many failed logins for this user;
 * retry in N s" (or "... from this address; ...") and N in *retry_after.
 * `user` or `addr` may be NULL/empty (not checked then). */
enum berr auth_ratelimit_check(const struct auth_ratelimit *rl, const char *user,
			       const char *addr, time_t now, long *retry_after);
/* Record one failed login for `user` and for `addr`. */
enum berr auth_ratelimit_fail(const struct auth_ratelimit *rl, const char *user,
			      const char *addr, time_t now);
/* Forget `user`'s failures. */
enum berr auth_ratelimit_success(const struct auth_ratelimit *rl, const char *user);
/* Remove records older than the window, and keys left empty, everywhere
 * (call now and then, e.g. from the pool's periodic sweep). */
enum berr auth_ratelimit_sweep(const struct auth_ratelimit *rl, time_t now);

#endif
