/*
 * ldap_conn.h - inside auth/ldap.c and auth/ldap_conn.c only: the handle
 * both halves of the directory client share, and the connection half
 * (ldap_conn.c: connect with failover, StartTLS, the service bind, the
 * watchdog on a stuck handshake, and failures said plainly).  Everything
 * else includes auth/ldap.h.
 */
#ifndef BERTH_AUTH_LDAP_CONN_H
#define BERTH_AUTH_LDAP_CONN_H

#include <ldap.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/time.h>

#include "auth/ldap.h"

enum group_mode { GROUPS_NONE, GROUPS_MEMBEROF, GROUPS_MEMBER, GROUPS_MEMBERUID };

/* What one attempt came to. */
enum outcome {
	AUTH_LDAP_OK = 0,
	AUTH_LDAP_BAD = -1,      /* wrong password, unknown user: the caller's */
	AUTH_LDAP_DOWN = -2,     /* no server answered, or the connection broke */
	AUTH_LDAP_FAILED = -3,   /* the directory's side failed otherwise */
};

/* Bounds a fresh connection's setup (see ldap_conn.c). */
struct watchdog {
	ldap_conncb cb;         /* registered with LDAP_OPT_CONNECT_CB */
	int armed;              /* setting up a connection: watch its socket */
	int connected;          /* a socket was connected (TLS failures are after it) */
	int fired;              /* the budget ran out: the socket was shut down */
	int running;
	int sock;               /* dup of the connection's socket */
	int efd;                /* eventfd: "stand down" */
	int budget_ms;
	pthread_t thread;
};

struct auth_ldap {
	char **uris;
	size_t nuris, uris_cap;
	int starttls;
	char *ca_file;
	char *bind_dn;          /* NULL: anonymous searches */
	char *bind_pw;
	char *user_base;
	char *user_filter;
	char *dn_template;      /* set: direct bind, no user search */
	enum group_mode mode;
	char *group_base;
	char *group_attr;
	char *memberof_attr;
	char *user_attr;        /* the naming attribute: the user's real name */
	struct timeval net_tv;
	struct timeval op_tv;

	struct watchdog wd;
	LDAP *ld;               /* the process's connection, NULL when none */
	size_t uri;             /* index of the URI ld is connected to */
	int as_user;            /* ld was last bound as a user, not the service */
	int unavailable;
	int broken;             /* the last call failed on the directory's side */
	char why[512];          /* what failed, for the detail */
};

/* Fill in the watchdog (l->net_tv and l->op_tv set): at creation. */
void auth_ldap_conn_watch(struct auth_ldap *l);
/* l->ld bound as the service account, on the first URI that answers
 * (AUTH_LDAP_OK), else AUTH_LDAP_DOWN with l->why saying why. */
enum outcome auth_ldap_conn_open(struct auth_ldap *l);
void auth_ldap_conn_drop(struct auth_ldap *l);
/* Does libldap's `rc` say the connection or the server is gone? */
int auth_ldap_conn_down(int rc);
/* A simple bind of `dn` (NULL: anonymous) with `pw`; libldap's code. */
int auth_ldap_conn_bind(LDAP *ld, const char *dn, const char *pw);
/* Back to the service account (or anonymous) on l->ld; libldap's code. */
int auth_ldap_conn_bind_service(struct auth_ldap *l);
/* Log that `what` failed with `rc` on `uri` and add it to l->why. */
void auth_ldap_conn_failed(struct auth_ldap *l, const char *uri, const char *what, int rc);

#endif
