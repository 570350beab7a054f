/*
 * health.h - are the processes that hold auth's secrets alive?  What
 * /readyz asks of the signer (auth/signer.h) and the directory process
 * (auth/directory.h), apart from the HTTP (fcgi/h_health.c).
 *
 * Each probe is one request of the process's own protocol on a fresh
 * connection, bounded by a deadline far shorter than the clients' own
 * (5 s for the signer, tens of seconds for the directory): a load balancer
 * wants an answer in time, and a process that does not answer within
 * the probe's deadline is down as far as readiness goes.
 *
 *   signer     'P' (its public key): the cheapest request that proves it
 *              answers and still holds a key; nothing is signed.
 *   directory  'U' of AUTH_PROBE_DIR_USER (a lookup without a password):
 *              the cheapest request that reaches the LDAP server.  An
 *              answer "no such user" is a directory that works; 'u' (no
 *              server answered) or 'e' is a directory that does not.  The
 *              directory process skips a request whose client has left
 *              (auth/directory.c), so a probe that timed out costs the
 *              directory nothing more.
 *
 * Failures are answers, not errors: the detail ("down (connect: Connection
 * refused)", "down (no answer within 1 s)") is recorded with berr_set()
 * and nothing is logged; socket paths are left out of it because /readyz
 * is unauthenticated.
 */
#ifndef BERTH_AUTH_HEALTH_H
#define BERTH_AUTH_HEALTH_H

#include "util/err.h"

#define AUTH_PROBE_SIGNER_MS 1000
#define AUTH_PROBE_DIR_MS 2000
#define AUTH_PROBE_DIR_USER "berth-readyz-probe"

/* BERR_OK when the signer at sock_path gives its public key within
 * timeout_ms; else BERR_INTERNAL with the detail "down (...)". */
enum berr auth_probe_signer(const char *sock_path, int timeout_ms);
/* BERR_OK when the directory process at sock_path answers a lookup within
 * timeout_ms with a verdict from the LDAP server; else BERR_INTERNAL with
 * "down (...)". */
enum berr auth_probe_directory(const char *sock_path, int timeout_ms);

#endif
