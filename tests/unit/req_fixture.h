/*
 * req_fixture.h - what the request and handler tests share: a transport for
 * struct req_io (fcgi/request.h) that hands out a body from memory or from
 * a descriptor and captures the answer in memory, and readers of that
 * answer.  One request at a time, as in a worker.
 */
#ifndef BERTH_REQ_FIXTURE_H
#define BERTH_REQ_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fcgi/request.h"

struct fake {
	const char *body;
	size_t len, pos;
	int fail_errno;          /* after the body: fail with it instead of ending */
	int fd;                  /* >= 0: read the body from this descriptor */
	char out[65536];         /* the answer, NUL terminated */
	size_t outlen;
};

static struct fake fk;
static struct req_io io;

static inline int fake_read(void *ctx, void *buf, int n, int *err)
{
	struct fake *f = ctx;
	int got = 0;

	*err = 0;
	if (f->fd >= 0) { /* wait for all n, as FCGX_GetStr does */
		while (got < n) {
			ssize_t k = read(f->fd, (char *)buf + got, (size_t)(n - got));
			if (k < 0) {
				*err = errno;
				return got;
			}
			if (k == 0)
				return got;
			got += (int)k;
		}
		return got;
	}
	got = (size_t)n < f->len - f->pos ? n : (int)(f->len - f->pos);
	memcpy(buf, f->body + f->pos, (size_t)got);
	f->pos += (size_t)got;
	if (got < n)
		*err = f->fail_errno;
	return got;
}

static inline void fake_write(void *ctx, const void *buf, size_t n)
{
	struct fake *f = ctx;

	if (n > sizeof(f->out) - 1 - f->outlen)
		n = sizeof(f->out) - 1 - f->outlen;
	memcpy(f->out + f->outlen, buf, n);
	f->outlen += n;
	f->out[f->outlen] = '\0';
}

/* A fresh transport over `env` with `body` (len bytes). */
static inline const struct req_io *fake_io(char **env, const char *body, size_t len)
{
	memset(&fk, 0, sizeof(fk));
	fk.fd = -1;
	fk.body = body ? body : "";
	fk.len = body ? len : 0;
	io = (struct req_io){ .env = env, .fd = -1, .read = fake_read, .write = fake_write,
			      .ctx = &fk };
	return &io;
}

/* The value of header `name` in the captured answer's head, or NULL. */
static inline const char *out_header(const char *name)
{
	static char v[4096];
	size_t nl = strlen(name);
	const char *end = strstr(fk.out, "\r\n\r\n"), *p = fk.out;

	while (end && p < end) {
		const char *eol = strstr(p, "\r\n");
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':' && p[nl + 1] == ' ') {
			snprintf(v, sizeof(v), "%.*s", (int)(eol - p - nl - 2), p + nl + 2);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

static inline const char *out_body(void)
{
	const char *end = strstr(fk.out, "\r\n\r\n");

	return end ? end + 4 : "";
}

/* The status of the captured answer, 0 if none. */
static inline int out_status(void)
{
	int status = 0;

	return sscanf(fk.out, "Status: %d ", &status) == 1 ? status : 0;
}

#endif
