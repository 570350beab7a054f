/*
 * request.c - request parsing and answer writing over the transport seam
 * (struct req_io, request.h).
 *
 * Every answer goes out through resp_send(): it adds the headers that every
 * registry answer carries, so no handler can forget them.  The head is built
 * in one buffer and written once; the body is written from the caller's
 * buffer.  Headers collect in r->hdrs as "Name: value\r\n" lines: a header
 * is formatted into the free tail of that buffer and counted (r->hlen) only
 * once all of it fitted, so a header too long is dropped whole and never
 * glued to the next one.
 *
 * Deadlines on the body.  nginx buffers every small body whole (nginx/
 * berth.conf.in), so only upload bodies stream in at the client's pace, but
 * every read is bounded all the same:
 *   - read_timeout: SO_RCVTIMEO on the FastCGI connection, so one read(2)
 *     that sees nothing for that long fails with EAGAIN;
 *   - upload_min_rate over upload_rate_window: the transport's read
 *     (libfcgi's FCGX_GetStr()) loops until it has all the bytes it was
 *     asked for, so a trickle of one byte a second never trips the read
 *     deadline.  Each call therefore asks for at most
 *     min_rate * window bytes, and a per-thread timer (SIGALRM to this
 *     thread only, no SA_RESTART) interrupts it when it has not got them
 *     within the window: read(2) fails with EINTR.  The timer repeats every
 *     second after that, in case the signal landed between two reads.
 * libfcgi closes the input stream on any read error, so both end the body:
 * the answer is BERR_TOO_SLOW (408) and the handler rolls back.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fcgi/request.h"
#include "util/log.h"
#include "util/mem.h"

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default:  return "Internal Server Error";
	}
}

static int parse_length(const char *s, int64_t *out)
{
	int64_t n = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return 0;
}

/* The scheme and host the client used, as nginx passes them. */
static void set_base(struct req *r)
{
	const char *scheme = req_param(r, "REQUEST_SCHEME");
	const char *host = req_param(r, "HTTP_HOST");
	const char *https = req_param(r, "HTTPS");

	if (!scheme || !*scheme)
		scheme = (https && *https && strcmp(https, "off") != 0) ? "https" : "http";
	if (!host || !*host)
		host = req_param(r, "SERVER_NAME");
	if (!host)
		host = "localhost";
	/* a Host header with CR/LF or spaces would be a header injection */
	for (const char *p = host; *p; p++)
		if (!isgraph((unsigned char)*p))
			host = "localhost";
	snprintf(r->base, sizeof(r->base), "%s://%s", scheme, host);
}

/* read_timeout on every read of this request (nginx opens one FastCGI
 * connection per request, so the option dies with it). */
static void set_read_deadline(struct req *r)
{
	struct timeval tv = { .tv_sec = r->cfg->read_timeout };

	if (r->io->fd < 0 || tv.tv_sec <= 0)
		return;
	if (setsockopt(r->io->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		log_warn("request: SO_RCVTIMEO on the FastCGI connection: %s", strerror(errno));
}

enum berr req_init(struct req *r, const struct req_io *io, const struct config *cfg,
		   struct store *st)
{
	const char *uri, *q, *cl;

	memset(r, 0, sizeof(*r));
	berr_enter(&r->err);
	r->io = io;
	r->cfg = cfg;
	r->store = st;
	r->method = req_param(r, "REQUEST_METHOD");
	if (!r->method)
		r->method = "GET";
	r->head = strcmp(r->method, "HEAD") == 0;
	uri = req_param(r, "REQUEST_URI");
	if (!uri || !*uri)
		uri = "/";
	q = strchr(uri, '?');
	r->path = q ? strndup(uri, (size_t)(q - uri)) : strdup(uri);
	r->query = strdup(q ? q + 1 : "");
	r->content_length = -1;
	cl = req_param(r, "CONTENT_LENGTH");
	if (cl && *cl && parse_length(cl, &r->content_length) < 0)
		return berr_set(BERR_SIZE_INVALID, "invalid Content-Length");
	set_base(r);
	set_read_deadline(r);
	if (!r->path || !r->query)
		return berr_set(BERR_INTERNAL, "out of memory");
	return BERR_OK;
}

void req_release(struct req *r)
{
	json_decref(r->auth_claims);
	r->auth_claims = NULL;
	free(r->path);
	free(r->query);
	r->path = r->query = NULL;
	berr_leave(&r->err);
}

const char *req_param(struct req *r, const char *name)
{
	size_t nl = strlen(name);

	for (char **e = r->io->env; e && *e; e++)
		if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=')
			return *e + nl + 1;
	return NULL;
}

char *req_param_all(struct req *r, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), used = 0;
	char **e;

	out[0] = '\0';
	for (e = r->io->env; e && *e; e++) {
		if (strncmp(*e, name, nl) != 0 || (*e)[nl] != '=')
			continue;
		int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", *e + nl + 1);
		if (n < 0 || (size_t)n >= outlen - used) {
			out[used] = '\0'; /* a value that does not fit is left out whole */
			break;
		}
		used += (size_t)n;
	}
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Percent-decode [s, s+n) into out; -1 on bad escapes, NUL, or overflow. */
static int decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int http_param_each(const char *s, const char *key,
		    int (*fn)(void *ctx, const char *value), void *ctx)
{
	size_t kl = strlen(key);
	char val[4096];

	while (s && *s) {
		const char *amp = strchr(s, '&');
		size_t len = amp ? (size_t)(amp - s) : strlen(s);
		if (len >= kl && strncmp(s, key, kl) == 0 && (len == kl || s[kl] == '=')) {
			if (decode(s + kl + (len > kl), len - kl - (len > kl), val, sizeof(val)) < 0)
				return -1;
			if (fn(ctx, val))
				return 1;
		}
		s = amp ? amp + 1 : NULL;
	}
	return 0;
}

struct first { char *out; size_t outlen; int found; };

static int take_first(void *ctx, const char *value)
{
	struct first *f = ctx;

	/* too long leaves out untouched: no prefix of a value passes for it */
	if (strlen(value) >= f->outlen || mem_strcpy(f->out, f->outlen, value) < 0)
		return f->found = -1;
	f->found = 1;
	return 1;
}

int http_param_get(const char *s, const char *key, char *out, size_t outlen)
{
	struct first f = { out, outlen, 0 };

	if (http_param_each(s, key, take_first, &f) < 0)
		return -1;
	return f.found;
}

int req_query(struct req *r, const char *key, char *out, size_t outlen)
{
	return http_param_get(r->query, key, out, outlen);
}

/* The minimum-rate clock (see the top of the file).  Made in the worker on
 * first use: timers do not survive fork(). */
static timer_t rate_timer;
static int rate_timer_state; /* 0 not made yet, 1 ready, -1 unavailable */
static volatile sig_atomic_t rate_fired;

static void on_rate_alarm(int sig)
{
	(void)sig;
	rate_fired = 1;
}

static int rate_timer_ready(void)
{
	struct sigaction sa;
	struct sigevent sev;

	if (rate_timer_state)
		return rate_timer_state > 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_rate_alarm; /* no SA_RESTART: the blocked read fails */
	sigemptyset(&sa.sa_mask);
	memset(&sev, 0, sizeof(sev));
	/* this thread only: store/stage.c's helper thread must not take it */
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev._sigev_un._tid = gettid(); /* glibc 2.36 has no sigev_notify_thread_id */
	if (sigaction(SIGALRM, &sa, NULL) < 0 ||
	    timer_create(CLOCK_MONOTONIC, &sev, &rate_timer) < 0) {
		log_err("request: no timer for upload_min_rate, not enforced: %s", strerror(errno));
		rate_timer_state = -1;
		return 0;
	}
	rate_timer_state = 1;
	return 1;
}

/* secs > 0: fire after secs, then every second; 0: disarm. */
static void rate_timer_set(long secs)
{
	struct itimerspec its = { .it_value = { secs, 0 }, .it_interval = { secs ? 1 : 0, 0 } };

	rate_fired = 0;
	if (timer_settime(rate_timer, 0, &its, NULL) < 0)
		log_err("request: timer_settime: %s", strerror(errno));
}

/* A read failed with libfcgi's error `err` after `got` bytes of this call:
 * say why in r->body_error (and the detail when the client was too slow). */
static ssize_t body_failed(struct req *r, int err, int got, int rate_expired)
{
	const struct config *c = r->cfg;

	if (rate_expired) {
		r->body_error = berr_set(BERR_TOO_SLOW,
			"the request body sent %d bytes in %ld s; the minimum is %ld bytes/s "
			"over %ld s (upload_min_rate, upload_rate_window)",
			got, c->upload_rate_window, c->upload_min_rate, c->upload_rate_window);
	} else if (err == EAGAIN || err == EWOULDBLOCK) {
		r->body_error = berr_set(BERR_TOO_SLOW, "no body bytes for %ld s (read_timeout)",
					 c->read_timeout);
	} else {
		r->body_error = BERR_BLOB_UPLOAD_INVALID;
		return -1;
	}
	log_info("%s %s from %s: cut off: %s", r->method, r->path ? r->path : "",
		 req_param(r, "REMOTE_ADDR") ? req_param(r, "REMOTE_ADDR") : "?",
		 berr_detail_for(BERR_TOO_SLOW));
	return -1;
}

ssize_t req_read(struct req *r, void *buf, size_t n)
{
	const struct config *c = r->cfg;
	long long least = (long long)c->upload_min_rate * c->upload_rate_window;
	int got, err, rated, expired;

	if (r->body_error)
		return -1;
	if (n > (1 << 30))
		n = 1 << 30;
	rated = least > 0 && rate_timer_ready();
	if (rated && (long long)n > least)
		n = (size_t)least;
	if (rated)
		rate_timer_set(c->upload_rate_window);
	err = 0;
	if ((got = r->io->read(r->io->ctx, buf, (int)n, &err)) < 0) {
		got = 0;
		err = err ? err : EIO;
	}
	expired = rated && rate_fired;
	if (rated)
		rate_timer_set(0);
	if (got < (int)n && err)
		return body_failed(r, err, got, expired || (rated && err == EINTR));
	return got;
}

/* Room after `used` bytes for at least one more and the NUL.  A body of
 * known length is allocated whole at once (and one byte more, to see that
 * it ended); one of unknown length doubles from 64 KiB. */
static enum berr body_room(struct req *r, char **buf, size_t *cap, size_t used)
{
	size_t first = 64 * 1024;

	if (used + 1 < *cap)
		return BERR_OK;
	if (r->content_length >= 0)
		first = (size_t)r->content_length + 2;
	return mem_grow(buf, cap, used + 2, 1, first, "request body");
}

enum berr req_read_all(struct req *r, size_t max, char **out, size_t *len)
{
	size_t cap = 0, used = 0, want;
	char *buf = NULL;
	enum berr err;
	ssize_t n;

	*out = NULL;
	*len = 0;
	if (r->content_length > (int64_t)max)
		return berr_set(BERR_TOO_LARGE, "body of %lld bytes exceeds the limit of %zu",
				(long long)r->content_length, max);
	for (;;) {
		if ((err = body_room(r, &buf, &cap, used)))
			goto fail;
		want = cap - 1 - used;
		if (want > max + 1 - used)
			want = max + 1 - used;
		if ((n = req_read(r, buf + used, want)) < 0) {
			err = r->body_error == BERR_TOO_SLOW ? BERR_TOO_SLOW :
				berr_set(BERR_SIZE_INVALID, "request body ended early");
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			err = berr_set(BERR_TOO_LARGE, "body exceeds the limit of %zu bytes", max);
			goto fail;
		}
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return BERR_OK;
fail:
	free(buf);
	return err;
}

void resp_header(struct req *r, const char *name, const char *fmt, ...)
{
	char *tail = r->hdrs + r->hlen;
	size_t room = sizeof(r->hdrs) - r->hlen, used;
	va_list ap;
	int n;

	/* formatted into the free tail; counted only when all of it fits */
	n = snprintf(tail, room, "%s: ", name);
	if (n < 0 || (size_t)n >= room)
		goto toolong;
	used = (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(tail + used, room - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= room - used)
		goto toolong;
	used += (size_t)n;
	memcpy(tail + used, "\r\n", 2);
	r->hlen += used + 2;
	return;
toolong:
	log_err("response header %s dropped: too long", name);
}

size_t resp_mark(const struct req *r)
{
	return r->hlen;
}

void resp_rollback(struct req *r, size_t mark)
{
	if (mark <= r->hlen)
		r->hlen = mark;
}

/* Is the header line at h (length len) named one of keep? */
static int kept(const char *h, size_t len, const char *const *keep)
{
	const char *colon = memchr(h, ':', len);
	size_t nl = colon ? (size_t)(colon - h) : len;

	for (; keep && *keep; keep++)
		if (strlen(*keep) == nl && strncasecmp(h, *keep, nl) == 0)
			return 1;
	return 0;
}

void resp_headers_keep(struct req *r, const char *const *keep)
{
	size_t in = 0, out = 0;

	while (in < r->hlen) {
		const char *end = memmem(r->hdrs + in, r->hlen - in, "\r\n", 2);
		size_t len = end ? (size_t)(end - (r->hdrs + in)) + 2 : r->hlen - in;

		if (kept(r->hdrs + in, len, keep)) {
			memmove(r->hdrs + out, r->hdrs + in, len);
			out += len;
		}
		in += len;
	}
	r->hlen = out;
}

void resp_location(struct req *r, const char *fmt, ...)
{
	char path[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	resp_header(r, "Location", "%s%s", r->base, path);
}

/* Status line, the headers every answer carries, the collected ones, and
 * the blank line: built here and written once. */
static void send_head(struct req *r, int status, const char *ctype, int64_t length)
{
	char head[sizeof(r->hdrs) + 512];
	size_t used;
	int n;

	n = snprintf(head, sizeof(head) - sizeof(r->hdrs),
		     "Status: %d %s\r\nDocker-Distribution-API-Version: registry/2.0\r\n",
		     status, status_text(status));
	used = (size_t)n;
	if (ctype && strlen(ctype) < 256) /* media types are far shorter */
		used += (size_t)snprintf(head + used, sizeof(head) - used,
					 "Content-Type: %s\r\n", ctype);
	else if (ctype)
		log_err("response Content-Type dropped: too long");
	if (length >= 0)
		used += (size_t)snprintf(head + used, sizeof(head) - used,
					 "Content-Length: %lld\r\n", (long long)length);
	memcpy(head + used, r->hdrs, r->hlen);
	used += r->hlen;
	memcpy(head + used, "\r\n", 2);
	r->io->write(r->io->ctx, head, used + 2);
	r->sent = 1;
}

void resp_send(struct req *r, int status, const char *ctype, const void *body, size_t len)
{
	send_head(r, status, ctype, (int64_t)len);
	if (body && len && !r->head)
		r->io->write(r->io->ctx, body, len);
}

void resp_send_length(struct req *r, int status, const char *ctype, int64_t length)
{
	send_head(r, status, ctype, length);
}
