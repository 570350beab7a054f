/*
 * scoreboard.h - what every worker is doing, in memory the master shares
 * with all of them.
 *
 * The master maps one array of entries (MAP_SHARED, anonymous) before it
 * forks anything, so every worker sees the same pages.  An entry belongs to
 * one worker process for its whole life:
 *   the master writes pid and pool when it forks the worker and clears the
 *            entry when it reaps it (so a worker killed by SIGKILL leaves
 *            nothing behind);
 *   the worker writes busy/since around each request, and its client
 *            (address, user) while it holds an upload claim.
 * Each field has one writer, and readers take single-word fields with
 * atomic loads, so no lock is needed.  A reader may see a claim a moment
 * late or early; the limits built on it are admission limits, not
 * accounting, and err on the side of refusing.
 *
 * The master reads it to size the dynamic upload pool (idle workers, time
 * idle); workers read it to enforce upload_client_workers (how many upload
 * workers one address, or one user, holds).
 */
#ifndef BERTH_SCOREBOARD_H
#define BERTH_SCOREBOARD_H

#include <sys/types.h>
#include <time.h>

#include "util/err.h"

#define SB_ENTRIES 4096  /* workers of all pools and generations at once */
#define SB_ADDR_MAX 48   /* an IPv6 address with scope */
#define SB_USER_MAX 96

/* Master, before the first fork: map the shared entries. */
enum berr sb_create(void);
/* Master: a free entry for a worker about to be forked, or -1 if all are
 * taken.  sb_bind() records the child once fork() returned its pid (the
 * master is one thread: nothing else reserves in between, and an entry
 * whose fork failed simply stays free). */
int sb_reserve(void);
void sb_bind(int idx, pid_t pid, int pool);
/* Master: the worker `pid` is gone (reaped); its entry and claim go too. */
void sb_release_pid(pid_t pid);
/* Master: state of entry idx: 1 busy, 0 idle; *since = when it changed. */
int sb_busy(int idx, time_t *since);
/* Anyone (a /metrics scrape): running workers of `pool`, busy and idle. */
void sb_count(int pool, int *busy, int *idle);

/* Worker, right after fork: this process owns entry idx, in `pool`. */
void sb_self(int idx, int pool);
/* Worker: around every request. */
void sb_set_busy(int busy);
/* Worker: claim this upload worker for client (addr, user): counted
 * against the other workers of the same pool.
 * At most `limit` claims per address and per user (user "" is not
 * counted per user); limit 0 = no limit.  BERR_OK, or BERR_TOOMANYREQUESTS
 * with the detail naming which limit was reached.  The claim ends with
 * sb_unclaim() (the worker calls it after every request). */
enum berr sb_claim(const char *addr, const char *user, int limit);
void sb_unclaim(void);

#endif
