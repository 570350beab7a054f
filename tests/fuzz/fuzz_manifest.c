/*
 * fuzz_manifest.c - libFuzzer target for manifest bodies, their Content-Type
 * and the Accept header, all client-supplied.
 *
 * Input layout: the first byte picks a Content-Type from a fixed list (so the
 * fuzzer explores every type path cheaply); the rest is the body.  The same
 * bytes, split at the first newline, also drive manifest_accept_allows().
 * Properties: no crash or leak; an accepted manifest has a known type, valid
 * digests, sizes >= 0 and the reference kinds its type allows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	NULL, "", "application/json", "application/octet-stream",
	MT_DOCKER_V2_S, MT_DOCKER_LIST_S, MT_OCI_MANIFEST_S, MT_OCI_INDEX_S,
	MT_OCI_MANIFEST_S "; charset=utf-8",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
};

static void check_manifest(const struct manifest *m)
{
	size_t i;

	if (m->type == MT_UNKNOWN)
		abort();
	for (i = 0; i < m->nrefs; i++) {
		const struct manifest_ref *r = &m->refs[i];

		if (r->size < 0 || r->media_type == NULL ||
		    strlen(r->digest.hex) != digest_hex_len(r->digest.alg) || r->digest.alg == DIGEST_NONE)
			abort();
		if (manifest_type_is_index(m->type) != (r->kind == MREF_MANIFEST))
			abort();
		if (r->external && r->kind != MREF_LAYER)
			abort();
	}
	if (!manifest_type_is_index(m->type) && (m->nrefs == 0 || m->refs[0].kind != MREF_CONFIG))
		abort();
}

static void check_accept(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t alen = nl ? (size_t)(nl - data) : size;
	char *accept = strndup((const char *)data, alen);
	char *type = nl ? strndup((const char *)nl + 1, size - alen - 1) : NULL;

	if (accept) {
		manifest_accept_allows(accept, type ? type : MT_OCI_INDEX_S);
		manifest_type_from_name(accept);
	}
	free(accept);
	free(type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	const char *ct;

	if (size == 0)
		return 0;
	ct = content_types[data[0] % (sizeof(content_types) / sizeof(content_types[0]))];
	if (manifest_parse(&m, ct, data + 1, size - 1) == BERR_OK) {
		check_manifest(&m);
		manifest_release(&m);
	}
	check_accept(data, size);
	return 0;
}
