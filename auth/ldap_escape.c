/*
 * ldap_escape.c - building LDAP filters and DNs from what a user typed
 * (see ldap.h): RFC 4515 and RFC 4514 escaping, and the %s templates of
 * ldap_user_filter and ldap_user_dn_template.  Pure string functions, no
 * libldap, so that tests/unit/test_ldap_escape.c reaches them alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ldap.h"

/* Room for `len` input bytes that may each become three ("\2a"), or NULL
 * when that size does not fit a size_t (or memory runs out). */
static char *escape_buf(size_t len)
{
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	return malloc(3 * len + 1);
}

/* "\hh": three characters. */
static char *put_hex(char *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	*o++ = '\\';
	*o++ = hex[c >> 4];
	*o++ = hex[c & 15];
	return o;
}

char *auth_ldap_filter_escape(const char *in, size_t len)
{
	char *out = escape_buf(len), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f)
			o = put_hex(o, c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

char *auth_ldap_dn_escape(const char *in, size_t len)
{
	char *out = escape_buf(len), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f) {
			o = put_hex(o, c);
		} else if (strchr("\"+,;<>\\=", c) || (i == 0 && (c == ' ' || c == '#')) ||
			   (i == len - 1 && c == ' ')) {
			*o++ = '\\';
			*o++ = (char)c;
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

char *auth_ldap_template(const char *tmpl, const char *value)
{
	size_t n = 0, vlen = strlen(value);
	const char *p;
	char *out, *o;

	for (p = tmpl; *p; p++) {
		if (*p != '%') {
			n++;
			continue;
		}
		if (p[1] == 's' && n > SIZE_MAX - 1 - vlen)
			return NULL;
		if (p[1] == 's')
			n += vlen;
		else if (p[1] == '%')
			n++;
		else
			return NULL;
		p++;
	}
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (p = tmpl, o = out; *p; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		if (*++p == 's') {
			memcpy(o, value, vlen);
			o += vlen;
		} else {
			*o++ = '%';
		}
	}
	*o = '\0';
	return out;
}
