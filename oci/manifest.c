/*
 * manifest.c - parse, check and extract the references of image manifests
 * and indexes (see manifest.h).
 *
 * The document is only read, never re-serialised: jansson parses it into a
 * tree we walk once, collecting each descriptor (config, layers, child
 * manifests, subject) into a flat array the store can check against the
 * repository.  The parser runs with JSON_REJECT_DUPLICATES: a manifest with
 * two "layers" keys could mean one thing to us and another to a client, and
 * a registry must not store a document whose meaning depends on the parser.
 *
 * Media type resolution follows Distribution: a Content-Type naming one of
 * the four types wins and the "mediaType" field may not contradict it; the
 * Docker types require the field (their schema has it), the OCI types make
 * it optional.  Generic or absent Content-Types fall back to the field, then
 * to the document's shape.
 *
 * Content negotiation (manifest_accept_allows) applies RFC 9110 precedence:
 * the most specific matching range decides, so "X;q=0" excludes X even
 * when a wildcard range allows everything else.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "oci/manifest.h"
#include "util/mem.h"

static const struct {
	enum manifest_type type;
	const char *name;
} type_names[] = {
	{ MT_DOCKER_V2, MT_DOCKER_V2_S },
	{ MT_DOCKER_LIST, MT_DOCKER_LIST_S },
	{ MT_OCI_MANIFEST, MT_OCI_MANIFEST_S },
	{ MT_OCI_INDEX, MT_OCI_INDEX_S },
};

#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *manifest_type_name(enum manifest_type t)
{
	size_t i;

	for (i = 0; i < NTYPES; i++)
		if (type_names[i].type == t)
			return type_names[i].name;
	return "unknown";
}

int manifest_type_is_index(enum manifest_type t)
{
	return t == MT_DOCKER_LIST || t == MT_OCI_INDEX;
}

static int is_docker(enum manifest_type t)
{
	return t == MT_DOCKER_V2 || t == MT_DOCKER_LIST;
}

/* Trims a media type (or media range) to its bare "type/subtype": *len gets
 * the length, leading/trailing whitespace and ";parameters" are dropped. */
static const char *bare_type(const char *s, size_t end, size_t *len)
{
	size_t b = 0, e;

	while (b < end && isspace((unsigned char)s[b]))
		b++;
	e = b;
	while (e < end && s[e] != ';')
		e++;
	while (e > b && isspace((unsigned char)s[e - 1]))
		e--;
	*len = e - b;
	return s + b;
}

static enum manifest_type type_from_n(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < NTYPES; i++)
		if (strlen(type_names[i].name) == len && strncasecmp(s, type_names[i].name, len) == 0)
			return type_names[i].type;
	return MT_UNKNOWN;
}

enum manifest_type manifest_type_from_name(const char *s)
{
	const char *t;
	size_t len;

	if (s == NULL)
		return MT_UNKNOWN;
	t = bare_type(s, strlen(s), &len);
	return type_from_n(t, len);
}

static void ref_release(struct manifest_ref *r)
{
	free(r->media_type);
	r->media_type = NULL;
}

void manifest_release(struct manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nrefs; i++)
		ref_release(&m->refs[i]);
	free(m->refs);
	if (m->has_subject)
		ref_release(&m->subject);
	free(m->artifact_type);
	free(m->config_media_type);
	free(m->annotations);
	memset(m, 0, sizeof(*m));
}

static enum berr invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* BERR_MANIFEST_INVALID with a detail that always starts "manifest invalid: ". */
static enum berr invalid(const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return berr_set(BERR_MANIFEST_INVALID, "manifest invalid: %s", buf);
}

static enum berr dup_string(char **out, const char *s)
{
	*out = strdup(s);
	if (*out == NULL)
		return berr_sys("allocating", "manifest string");
	return BERR_OK;
}

/* Reads one descriptor object into *r.  `where` names it in errors. */
static enum berr parse_descriptor(json_t *o, const char *where, struct manifest_ref *r)
{
	json_t *mt, *dg, *sz, *urls;
	struct berr_ctx why;
	enum berr rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return invalid("%s must be an object", where);
	mt = json_object_get(o, "mediaType");
	dg = json_object_get(o, "digest");
	sz = json_object_get(o, "size");
	urls = json_object_get(o, "urls");
	if (!json_is_string(mt))
		return invalid("%s needs a \"mediaType\" string", where);
	if (!json_is_string(dg))
		return invalid("%s needs a \"digest\" string", where);
	/* Its own context: the digest's complaint becomes part of ours. */
	berr_enter(&why);
	rc = digest_parse_n(&r->digest, json_string_value(dg), json_string_length(dg));
	berr_leave(&why);
	if (rc != BERR_OK)
		return invalid("%s: %s", where, why.detail);
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return invalid("%s needs a \"size\" integer >= 0", where);
	r->size = (int64_t)json_integer_value(sz);
	if (urls != NULL) {
		if (!json_is_array(urls))
			return invalid("%s \"urls\" must be an array", where);
		r->external = json_array_size(urls) > 0;
	}
	return dup_string(&r->media_type, json_string_value(mt));
}

/* Appends the descriptors of array `arr` (named `key`) as `kind`. */
static enum berr add_array(struct manifest *m, json_t *arr, const char *key,
			   enum manifest_ref_kind kind)
{
	char where[64];
	size_t i, n = json_array_size(arr);
	enum berr rc;

	if (n == 0)
		return BERR_OK;
	if (n > SIZE_MAX - m->nrefs)
		return berr_set(BERR_INTERNAL, "manifest references: too many");
	rc = mem_grow(&m->refs, &m->refs_cap, m->nrefs + n, sizeof(*m->refs), 8,
		      "manifest references");
	if (rc != BERR_OK)
		return rc;
	for (i = 0; i < n; i++) {
		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		rc = parse_descriptor(json_array_get(arr, i), where, &m->refs[m->nrefs]);
		if (rc != BERR_OK) {
			ref_release(&m->refs[m->nrefs]);
			return rc;
		}
		m->refs[m->nrefs].kind = kind;
		if (kind != MREF_LAYER)
			m->refs[m->nrefs].external = 0;
		m->nrefs++;
	}
	return BERR_OK;
}

/* Order of repeats: kind, digest, size, then place in the document. */
static int cmp_ref(const void *a, const void *b)
{
	const struct manifest_ref *x = *(const struct manifest_ref *const *)a;
	const struct manifest_ref *y = *(const struct manifest_ref *const *)b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->digest.alg != y->digest.alg)
		return x->digest.alg < y->digest.alg ? -1 : 1;
	if ((c = strcmp(x->digest.hex, y->digest.hex)) != 0)
		return c;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Keeps each (kind, digest, size) once, at its first place: sorting
 * pointers costs O(n log n), so 20,000 repeats of one child cost a few
 * milliseconds here instead of 20,000 checks, touches and entries later. */
static enum berr dedupe_refs(struct manifest *m)
{
	struct manifest_ref **v;
	unsigned char *drop;
	size_t i, j, keep;

	if (m->nrefs < 2)
		return BERR_OK;
	v = malloc(m->nrefs * sizeof(*v));
	drop = calloc(m->nrefs, 1);
	if (v == NULL || drop == NULL) {
		free(v);
		free(drop);
		return berr_sys("allocating", "manifest references");
	}
	for (i = 0; i < m->nrefs; i++)
		v[i] = &m->refs[i];
	qsort(v, m->nrefs, sizeof(*v), cmp_ref);
	for (i = 0; i < m->nrefs; i = j) {
		for (j = i + 1; j < m->nrefs && v[i]->kind == v[j]->kind &&
		     v[i]->size == v[j]->size && digest_equal(&v[i]->digest, &v[j]->digest);
		     j++) {
			v[i]->external &= v[j]->external; /* present if any repeat needs it */
			drop[v[j] - m->refs] = 1;
		}
	}
	free(v);
	for (i = 0, keep = 0; i < m->nrefs; i++) {
		if (drop[i]) {
			ref_release(&m->refs[i]);
			continue;
		}
		if (keep != i)
			m->refs[keep] = m->refs[i];
		keep++;
	}
	free(drop);
	m->nrefs = keep;
	return BERR_OK;
}

static enum berr parse_image(struct manifest *m, json_t *root)
{
	json_t *config = json_object_get(root, "config");
	json_t *layers = json_object_get(root, "layers");
	enum berr rc;

	if (config == NULL)
		return invalid("an image manifest needs \"config\"");
	if (!json_is_array(layers))
		return invalid("an image manifest needs a \"layers\" array");
	rc = mem_grow(&m->refs, &m->refs_cap, 1, sizeof(*m->refs), 8, "manifest references");
	if (rc != BERR_OK)
		return rc;
	rc = parse_descriptor(config, "config", &m->refs[0]);
	if (rc != BERR_OK) {
		ref_release(&m->refs[0]);
		return rc;
	}
	m->refs[0].kind = MREF_CONFIG;
	m->refs[0].external = 0;
	m->nrefs = 1;
	rc = dup_string(&m->config_media_type, m->refs[0].media_type);
	if (rc != BERR_OK)
		return rc;
	return add_array(m, layers, "layers", MREF_LAYER);
}

static enum berr parse_index(struct manifest *m, json_t *root)
{
	json_t *manifests = json_object_get(root, "manifests");

	if (!json_is_array(manifests))
		return invalid("an index needs a \"manifests\" array");
	return add_array(m, manifests, "manifests", MREF_MANIFEST);
}

/* The top-level "annotations": the image-spec makes it a map of strings.
 * Kept as compact JSON (key order preserved) for the referrers API. */
static enum berr parse_annotations(struct manifest *m, json_t *root)
{
	json_t *an = json_object_get(root, "annotations"), *v;
	const char *key;

	if (an == NULL)
		return BERR_OK;
	if (!json_is_object(an))
		return invalid("\"annotations\" must be an object");
	json_object_foreach(an, key, v) {
		if (!json_is_string(v))
			return invalid("annotation \"%.100s\" must be a string", key);
	}
	m->annotations = json_dumps(an, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (m->annotations == NULL)
		return berr_sys("allocating", "manifest annotations");
	return BERR_OK;
}

/* OCI 1.1 additions: "subject" (the manifest this one refers to),
 * "artifactType", and the annotations a referrer descriptor carries. */
static enum berr parse_oci_extras(struct manifest *m, json_t *root)
{
	json_t *subject = json_object_get(root, "subject");
	json_t *at = json_object_get(root, "artifactType");
	enum berr rc;

	rc = parse_annotations(m, root);
	if (rc != BERR_OK)
		return rc;

	if (at != NULL) {
		if (!json_is_string(at))
			return invalid("\"artifactType\" must be a string");
		rc = dup_string(&m->artifact_type, json_string_value(at));
		if (rc != BERR_OK)
			return rc;
	}
	if (subject != NULL) {
		rc = parse_descriptor(subject, "subject", &m->subject);
		if (rc != BERR_OK) {
			ref_release(&m->subject);
			return rc;
		}
		m->subject.kind = MREF_MANIFEST;
		m->subject.external = 0;
		m->has_subject = 1;
	}
	return BERR_OK;
}

/* The type named by the Content-Type header: a concrete type, MT_UNKNOWN for
 * "decide from the document", or an error for anything else. */
static enum berr type_from_header(const char *ct, enum manifest_type *out)
{
	const char *t;
	size_t len;
	char shown[128];

	*out = MT_UNKNOWN;
	if (ct == NULL)
		return BERR_OK;
	t = bare_type(ct, strlen(ct), &len);
	if (len == 0 || (len == 16 && strncasecmp(t, "application/json", len) == 0) ||
	    (len == 24 && strncasecmp(t, "application/octet-stream", len) == 0))
		return BERR_OK;
	*out = type_from_n(t, len);
	if (*out != MT_UNKNOWN)
		return BERR_OK;
	snprintf(shown, sizeof(shown), "%.*s", (int)(len > 100 ? 100 : len), t);
	if (strstr(shown, "manifest.v1+") != NULL && strstr(shown, "docker") != NULL)
		return invalid("Docker image manifest schema 1 (%s) is not supported; "
			       "push schema 2 or OCI%s", shown, "");
	return invalid("unsupported manifest media type \"%s\"", shown);
}

/* Combines the header's verdict with the document's "mediaType" and shape. */
static enum berr resolve_type(json_t *root, enum manifest_type hdr, enum manifest_type *out)
{
	json_t *mt = json_object_get(root, "mediaType");
	enum manifest_type doc = MT_UNKNOWN;
	const char *s = NULL;

	if (mt != NULL) {
		if (!json_is_string(mt))
			return invalid("\"mediaType\" must be a string");
		s = json_string_value(mt);
		doc = type_from_n(s, json_string_length(mt));
		if (doc == MT_UNKNOWN || strcmp(s, manifest_type_name(doc)) != 0)
			return invalid("unsupported \"mediaType\" \"%.100s\"", s);
	}
	if (hdr != MT_UNKNOWN) {
		if (doc != MT_UNKNOWN && doc != hdr)
			return invalid("Content-Type %s does not match \"mediaType\" %s",
				       manifest_type_name(hdr), s);
		if (doc == MT_UNKNOWN && is_docker(hdr))
			return invalid("%s requires a \"mediaType\" field",
				       manifest_type_name(hdr));
		*out = hdr;
		return BERR_OK;
	}
	if (doc != MT_UNKNOWN) {
		*out = doc;
		return BERR_OK;
	}
	if (json_object_get(root, "config") && !json_object_get(root, "manifests"))
		*out = MT_OCI_MANIFEST;
	else if (json_object_get(root, "manifests") && !json_object_get(root, "config"))
		*out = MT_OCI_INDEX;
	else
		return invalid("cannot tell the media type: no Content-Type, "
			       "no \"mediaType\" and neither \"config\" nor \"manifests\"");
	return BERR_OK;
}

static enum berr parse_root(struct manifest *m, json_t *root, enum manifest_type hdr)
{
	json_t *sv;
	enum berr rc;

	if (!json_is_object(root))
		return invalid("the document must be a JSON object");
	sv = json_object_get(root, "schemaVersion");
	if (!json_is_integer(sv))
		return invalid("\"schemaVersion\" must be the integer 2");
	if (json_integer_value(sv) != 2)
		return berr_set(BERR_MANIFEST_INVALID,
				"manifest invalid: schemaVersion %lld is not supported, only 2",
				(long long)json_integer_value(sv));
	rc = resolve_type(root, hdr, &m->type);
	if (rc != BERR_OK)
		return rc;
	if (manifest_type_is_index(m->type))
		rc = parse_index(m, root);
	else
		rc = parse_image(m, root);
	if (rc == BERR_OK && !is_docker(m->type))
		rc = parse_oci_extras(m, root);
	if (rc == BERR_OK)
		m->ndescriptors = m->nrefs + (m->has_subject ? 1 : 0);
	if (rc == BERR_OK)
		rc = dedupe_refs(m);
	return rc;
}

enum berr manifest_parse(struct manifest *out, const char *content_type,
			 const void *buf, size_t len)
{
	enum manifest_type hdr;
	json_error_t jerr;
	json_t *root = NULL;
	enum berr rc;

	memset(out, 0, sizeof(*out));
	if (len > MANIFEST_MAX_SIZE)
		return berr_set(BERR_TOO_LARGE, "manifest is %zu bytes, at most %ld allowed",
				len, MANIFEST_MAX_SIZE);
	rc = type_from_header(content_type, &hdr);
	if (rc != BERR_OK)
		return rc;
	if (buf == NULL || len == 0)
		return berr_set(BERR_MANIFEST_INVALID, "manifest invalid: empty body");
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		return berr_set(BERR_MANIFEST_INVALID,
				"manifest invalid: malformed JSON at line %d column %d: %s",
				jerr.line, jerr.column, jerr.text);
	}
	rc = parse_root(out, root, hdr);
	json_decref(root);
	if (rc != BERR_OK)
		manifest_release(out);
	return rc;
}

/* ---- content negotiation ---- */

/* q of a media range's parameters: 1000ths, default 1000.  A malformed q
 * counts as 1 (serve rather than refuse on a client's typo). */
static int range_q(const char *p, const char *end)
{
	int q = 1000, scale = 100;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *s = p, *e = semi ? semi : end;

		while (s < e && isspace((unsigned char)*s))
			s++;
		if (e - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
			s += 2;
			if (s < e && *s == '0') {
				q = 0;
				if (++s < e && *s == '.')
					for (s++; s < e && *s >= '0' && *s <= '9' && scale > 0; s++, scale /= 10)
						q += (*s - '0') * scale;
			}
		}
		p = semi ? semi + 1 : end;
	}
	return q;
}

/* How specifically media range [r, r+rlen) matches `type`: 3 exact,
 * 2 "type/\*", 1 "*\/\*", 0 no match. */
static int range_match(const char *r, size_t rlen, const char *type, size_t tlen)
{
	const char *slash = memchr(type, '/', tlen);

	if ((rlen == 3 && memcmp(r, "*/*", 3) == 0) || (rlen == 1 && r[0] == '*'))
		return 1;
	if (rlen == tlen && strncasecmp(r, type, tlen) == 0)
		return 3;
	if (slash && rlen >= 2 && r[rlen - 2] == '/' && r[rlen - 1] == '*' &&
	    (size_t)(slash - type) == rlen - 2 && strncasecmp(r, type, rlen - 2) == 0)
		return 2;
	return 0;
}

int manifest_accept_allows(const char *accept, const char *media_type)
{
	const char *p, *type, *r;
	size_t tlen, rlen;
	int best = 0, best_q = 0, any = 0;

	if (accept == NULL || media_type == NULL)
		return 1;
	type = bare_type(media_type, strlen(media_type), &tlen);
	for (p = accept; *p; ) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		int spec, q;

		r = bare_type(p, (size_t)(end - p), &rlen);
		if (rlen > 0) {
			const char *params = memchr(r, ';', (size_t)(end - r));

			any = 1;
			spec = range_match(r, rlen, type, tlen);
			q = params ? range_q(params + 1, end) : 1000;
			if (spec > best || (spec == best && spec > 0 && q > best_q)) {
				best = spec;
				best_q = q;
			}
		}
		p = comma ? comma + 1 : end;
	}
	if (!any)
		return 1;
	return best > 0 && best_q > 0;
}
