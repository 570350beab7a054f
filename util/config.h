/*
 * config.h - berth.conf, the file administrators edit and berthd/berthctl read.
 *
 * Format: one "key = value" per line; blank lines and lines starting with
 * '#' are ignored.  A value runs to the end of the line, surrounding blanks
 * trimmed; a '#' after a blank starts a comment, and a '#' glued to the
 * value (svc#pass) is an error naming the line, so that a secret is never
 * cut short silently.  A value in double quotes may hold any character:
 *     ldap_bind_password = "svc#pass"     # in quotes, \" and \\ are escapes
 * (only those two escapes; a comment may follow the closing quote).
 * Unknown keys are an error, so typos are caught at start and on SIGHUP
 * rather than silently ignored.
 *
 *   store          = /var/lib/berth/store   directory of the content store (required)
 *   socket         = /run/berth/api.sock    FastCGI socket of the API pool:
 *                                           a path (unix socket) or HOST:PORT (TCP)
 *   upload_socket  = /run/berth/upload.sock FastCGI socket of the upload pool
 *   token_socket   = /run/berth/token.sock  FastCGI socket of the token pool (/token):
 *                                           logins never occupy the API workers;
 *                                           unset: /token is served by the API pool
 *   workers        = 4      API workers (manifests, HEAD, tags, tokens)
 *   upload_workers = 32     most upload workers: the pool grows to this under
 *                           load (each streamed PATCH holds one)
 *   upload_workers_min = 4  upload workers always running; idle ones above
 *                           this leave after upload_idle_timeout seconds
 *   upload_idle_timeout = 30
 *   upload_client_workers = 8  upload workers one client address, and one
 *                           user, may hold at once; beyond: 429 TOOMANYREQUESTS
 *                           with Retry-After (0: no limit)
 *   upload_min_rate = 1024  bytes/s an upload body must average over each
 *                           upload_rate_window, or it is cut off (0: off)
 *   upload_rate_window = 60 seconds
 *   read_timeout   = 60     seconds a worker waits for one read of a request
 *                           body before it gives the request up
 *   manifest_max_descriptors = 4096  descriptors (layers, children, blobs) one
 *                           manifest may list; more: 400 MANIFEST_INVALID
 *   user           =        when berthd starts as root: the account its
 *                           workers, sweeper and directory process run as
 *                           (the signer keeps root and the only copy of the key)
 *   token_workers  = 2      token workers (logins, refresh tokens)
 *   backlog        = 1024   listen() backlog: requests beyond the pool wait here
 *   socket_mode    = 0660   permissions of unix sockets
 *   upload_ttl     = 86400  seconds an idle upload session is kept
 *   sweep_interval = 3600   seconds between sweeps of expired sessions
 *   shutdown_timeout = 60   seconds SIGTERM waits for in-flight requests
 *   blob_location  = /_berth/blobs/   nginx internal location over <store>/blobs/
 *   max_manifest   = 4194304          bytes, 1024 ... CONFIG_MANIFEST_MAX
 *   delete_enabled = true   false: every DELETE answers 405 UNSUPPORTED
 *   delete_force   = false  true: a manifest still referenced by an index may be deleted
 *   upload_direct_io = true  uploads write full 512 KiB blocks with O_DIRECT,
 *                           bypassing the page cache; false: through it, with
 *                           writeback started per block (store/stage.c)
 *
 * Authentication (issue: token service + LDAP; see README "Authentication"):
 *   auth           = none   none | token  (token: every route needs a Bearer token)
 *   auth_service   = berth  the "service" of the token spec (token audience)
 *   auth_issuer    = berth  the token issuer
 *   auth_realm     =        absolute realm URL; empty: https://<Host>/token
 *   token_ttl      = 300    seconds an access token lives
 *   refresh_ttl    = 2592000 seconds a refresh token (offline_token) lives
 *   signing_key    =        EC P-256 private key (PEM), created 0600 if absent;
 *                           only the signer process (forked by berthd) reads it
 *   signer_socket  =        the signer's unix socket; empty: signer.sock beside `socket`
 *   signer = internal       internal: berthd forks the signer; external: it starts
 *                           none, a `berthd --signer` of its own (another account,
 *                           berth-signer.service) serves signer_socket
 *   verify_keys    =        more public keys (PEM paths, comma-separated) accepted
 *                           when verifying tokens, for key rotation
 *   users_file     =        local users (berthctl user …), bcrypt hashes
 *   tokens_file    =        repository-scoped access tokens (berthctl token …)
 *   policy_file    =        who may do what on which repositories
 *   state_dir      =        shared state: failed-login counters, revocations
 *   login_fail_limit  = 5   failed logins of one account from one address that
 *                           cost nothing; each further one doubles a delay
 *   login_fail_window = 900 seconds for one failure to drain away (per account and
 *                           address, per account), and the spray window
 *                           (auth/ratelimit.h)
 *   login_delay_max   = 900 longest delay (seconds) between tries of one account
 *   login_spray_limit = 10  distinct failing accounts from one address within
 *                           the window before that address is slowed down
 *   login_account_limit = 50 failures of one account from all addresses (one
 *                           drains per window) before addresses it has not
 *                           logged in from within 30 days are slowed
 *   login_cache_ttl   = 300 seconds a verified local password is remembered
 *                           (keyed hash, per worker; 0: off)
 *   ldap_uri       =        space/comma-separated URIs, tried in order (failover)
 *   ldap_starttls  = false  StartTLS on ldap:// URIs
 *   ldap_ca_file   =        CA file for ldaps:// and StartTLS
 *   ldap_bind_dn   =        account used for searches
 *   ldap_bind_password =    its password (or ldap_bind_password_file)
 *   ldap_bind_password_file =
 *   ldap_user_base =        search base for users
 *   ldap_user_filter = (uid=%s)   %s = the username, escaped per RFC 4515
 *   ldap_user_attr = uid    the naming attribute whose value (as the directory
 *                           spells it) becomes the user's name: uid, or
 *                           sAMAccountName on Active Directory
 *   ldap_user_dn_template = direct bind DN, e.g. uid=%s,ou=people,dc=example,dc=org
 *   ldap_group_mode = none  none | memberof | member | memberuid
 *   ldap_group_base =       search base for groups (member, memberuid)
 *   ldap_group_attr = cn    attribute naming a group
 *   ldap_memberof_attr = memberOf
 *   ldap_network_timeout = 5  seconds to connect
 *   ldap_timeout   = 5      seconds for each operation
 *   directory_socket =      the directory process's unix socket; empty:
 *                           directory.sock beside `socket`
 *   directory_workers = 2   directory processes (each holds one LDAP connection
 *                           and serves one login at a time)
 *
 *   log_level      = info   error | warn | info | debug
 *   pidfile        =        optional
 *   access_log     = off    one JSON line per request: a path, "stderr" or "off"
 *   audit_log      =        one JSON line per change (fsynced), a local path
 *                           per host; empty: none.  Both reopen on SIGUSR1.
 */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include "util/err.h"

/* The largest max_manifest may be, and its default.  The manifest parser
 * (oci/manifest.h, MANIFEST_MAX_SIZE) takes its bound from here, so every
 * size the configuration may allow is one the parser accepts, and the store
 * can read back any manifest ever accepted. */
#define CONFIG_MANIFEST_MAX (64L * 1024 * 1024)
#define CONFIG_MANIFEST_DEFAULT (4L * 1024 * 1024)

struct config {
	char *path;           /* the file read */
	char *store;
	char *socket;
	char *upload_socket;  /* NULL: uploads served by the API pool */
	char *token_socket;   /* NULL: /token served by the API pool */
	int workers;
	int upload_workers;        /* the most */
	int upload_workers_min;
	long upload_idle_timeout;
	int upload_client_workers;
	long upload_min_rate;
	long upload_rate_window;
	long read_timeout;
	long manifest_max_descriptors;
	char *user;
	int token_workers;
	int backlog;
	int socket_mode;
	long upload_ttl;
	long sweep_interval;
	long shutdown_timeout;
	char *blob_location;
	long max_manifest;
	int delete_enabled;
	int delete_force;
	int upload_direct_io;
	int log_level;
	char *pidfile;
	char *access_log;     /* JSON line per request: path, "stderr" or "off" (NULL) */
	char *audit_log;      /* JSON line per change, fsynced; NULL: none */
	/* authentication */
	char *auth;                 /* "none" or "token" */
	char *auth_service;
	char *auth_issuer;
	char *auth_realm;
	long token_ttl;
	long refresh_ttl;
	char *signing_key;
	char *signer_socket;
	char *signer;               /* "internal" or "external" */
	char *verify_keys;
	char *users_file;
	char *tokens_file;
	char *policy_file;
	char *state_dir;
	int login_fail_limit;
	long login_fail_window;
	long login_delay_max;
	int login_spray_limit;
	int login_account_limit;
	long login_cache_ttl;
	char *ldap_uri;
	int ldap_starttls;
	char *ldap_ca_file;
	char *ldap_bind_dn;
	char *ldap_bind_password;
	char *ldap_bind_password_file;
	char *ldap_user_base;
	char *ldap_user_filter;
	char *ldap_user_dn_template;
	char *ldap_user_attr;
	char *ldap_group_mode;
	char *ldap_group_base;
	char *ldap_group_attr;
	char *ldap_memberof_attr;
	long ldap_network_timeout;
	long ldap_timeout;
	char *directory_socket;
	int directory_workers;
};

/* Defaults, then the file.  On error returns BERR_INTERNAL with
 * "FILE:LINE: what is wrong" in berr_detail(). */
enum berr config_load(struct config *c, const char *path);
void config_release(struct config *c);

#endif
