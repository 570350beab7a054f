/*
 * config.h - berth.conf, the file administrators edit and berthd/berthctl read.
 *
 * Format: one "key = value" per line; '#' starts a comment; blank lines are
 * ignored; values run to the end of the line (surrounding blanks trimmed,
 * optional double quotes removed).  Unknown keys are an error, so typos are
 * caught at start and on SIGHUP rather than silently ignored.
 *
 *   store          = /var/lib/berth/store   directory of the content store (required)
 *   socket         = /run/berth/api.sock    FastCGI socket of the API pool:
 *                                           a path (unix socket) or HOST:PORT (TCP)
 *   upload_socket  = /run/berth/upload.sock FastCGI socket of the upload pool
 *   workers        = 4      API workers (manifests, HEAD, tags, tokens)
 *   upload_workers = 8      upload workers (each streamed PATCH holds one)
 *   backlog        = 1024   listen() backlog: requests beyond the pool wait here
 *   socket_mode    = 0660   permissions of unix sockets
 *   upload_ttl     = 86400  seconds an idle upload session is kept
 *   sweep_interval = 3600   seconds between sweeps of expired sessions
 *   shutdown_timeout = 60   seconds SIGTERM waits for in-flight requests
 *   blob_location  = /_berth/blobs/   nginx internal location over <store>/blobs/
 *   max_manifest   = 4194304          bytes
 *   log_level      = info   error | warn | info | debug
 *   pidfile        =        optional
 */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include "util/err.h"

struct config {
	char *path;           /* the file read */
	char *store;
	char *socket;
	char *upload_socket;  /* NULL: uploads served by the API pool */
	int workers;
	int upload_workers;
	int backlog;
	int socket_mode;
	long upload_ttl;
	long sweep_interval;
	long shutdown_timeout;
	char *blob_location;
	long max_manifest;
	int log_level;
	char *pidfile;
};

/* Defaults, then the file.  On error returns BERR_INTERNAL with
 * "FILE:LINE: what is wrong" in berr_detail(). */
enum berr config_load(struct config *c, const char *path);
void config_release(struct config *c);

#endif
