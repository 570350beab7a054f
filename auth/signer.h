/*
 * signer.h - privilege separation for the token signing key.
 *
 * The private key lives in one small process, the signer, which the master
 * starts before it forks the workers.  The signer reads no HTTP request and
 * parses no JSON: it answers two kinds of messages on a unix SOCK_SEQPACKET
 * socket (mode 0600, peer uid checked) and nothing else:
 *
 *   request  'S' <header.payload>    reply 'o' <base64url R||S>   (86 chars)
 *   request  'P'                     reply 'o' <kid> '\n' <PEM public key>
 *   any failure                      reply 'e' <message>
 *
 * A sign request must look like a JWS signing input (two base64url parts
 * joined by one '.', at most AUTH_SIGNER_INPUT_MAX bytes), so the signer
 * is no general-purpose signing oracle.  Workers hold public keys only and
 * ask the signer for each token they issue.
 *
 * What this protects: a memory disclosure, core dump or heap read in a
 * worker cannot reveal the key (the signer is also non-dumpable, so a
 * same-uid process cannot ptrace it).  It does not protect against code
 * execution in a worker running as the same uid as the key file; for that
 * the key file must belong to another user than the workers run as.
 */
#ifndef BERTH_AUTH_SIGNER_H
#define BERTH_AUTH_SIGNER_H

#include <sys/types.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "auth/jwt.h"
#include "util/err.h"

/* Longest signing input: what is left of a token after ".<signature>". */
#define AUTH_SIGNER_INPUT_MAX (AUTH_JWT_MAX - 1 - AUTH_ES256_SIG_B64_LEN)

/* Fork the signer: it loads (or creates, 0600) the key at key_path, binds
 * sock_path (a stale socket there is replaced; any other file is an error)
 * and only then is this call answered, so errors such as a bad key are
 * reported here with their reason.  The signer exits when its parent dies
 * or on SIGTERM/SIGINT (removing its socket); it ignores SIGHUP.  The
 * caller reaps *pid and may start a new signer if it dies. */
enum berr auth_signer_start(const char *key_path, const char *sock_path, pid_t *pid);

/* The signer as a service of its own (`berthd --signer`, signer = external):
 * in the calling process and in the foreground, it loads the key, binds
 * sock_path with mode 0660 (group: the process's group, or the socket
 * directory's if that is setgid), sends READY=1 to systemd (util/notify.h)
 * and serves until SIGTERM/SIGINT; it admits peers of its own uid or
 * group and root.  Errors before it serves are returned. */
enum berr auth_signer_run(const char *key_path, const char *sock_path);

/* Sign a JWS signing input: *sig gets the malloc'd base64url signature.
 * One connection per process is kept and re-opened when the signer was
 * restarted (or after fork); each call waits at most 5 seconds. */
enum berr auth_signer_sign(const char *sock_path, const char *signing_input, char **sig);
/* The signer's public key and its kid. */
enum berr auth_signer_public_key(const char *sock_path, EVP_PKEY **pub,
				 char kid[AUTH_KID_LEN + 1]);
/* Put the signer's public key first in `kr` and its kid in kr->priv_kid
 * (kr->priv stays NULL): what the master does before forking workers. */
enum berr auth_keyring_add_signer(struct auth_keyring *kr, const char *sock_path);

/* A whole token for `claims`, header kid `kid` (kr->priv_kid), signed by
 * the signer.  The worker never holds the private key. */
enum berr auth_jwt_sign_remote(const char *sock_path, const char *kid, const json_t *claims,
			       char **token);

#endif
