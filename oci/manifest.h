/*
 * manifest.h - parsing and checking image manifests and indexes.
 *
 * Four media types are accepted: Docker image manifest v2 schema 2, Docker
 * manifest list, OCI image manifest and OCI image index.  Parsing resolves the
 * media type (Content-Type header vs. the "mediaType" field), checks the
 * document's shape and extracts every descriptor it references, so the store
 * can verify that each referenced blob / child manifest is present in the
 * repository.  The bytes are never rewritten: what was pushed is what is
 * stored and served.
 */
#ifndef BERTH_MANIFEST_H
#define BERTH_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "oci/digest.h"
#include "util/config.h"
#include "util/err.h"

/* The largest document manifest_parse() takes: the most max_manifest may be
 * configured to (util/config.h), so the key means what it says up to its
 * bound.  The configured limit itself is applied by whoever reads the body
 * (fcgi/h_manifest.c, and nginx before it); the store reads manifests back
 * with this bound, whatever the limit was when they were pushed. */
#define MANIFEST_MAX_SIZE CONFIG_MANIFEST_MAX

#define MT_DOCKER_V2_S   "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST_S "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST_S "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX_S   "application/vnd.oci.image.index.v1+json"

enum manifest_type {
	MT_UNKNOWN = 0,
	MT_DOCKER_V2,
	MT_DOCKER_LIST,
	MT_OCI_MANIFEST,
	MT_OCI_INDEX,
};

enum manifest_ref_kind {
	MREF_CONFIG = 1, /* a blob */
	MREF_LAYER,      /* a blob */
	MREF_MANIFEST,   /* a child manifest of an index / list */
};

struct manifest_ref {
	enum manifest_ref_kind kind;
	struct digest digest;
	int64_t size;
	char *media_type;   /* owned; may be NULL if absent */
	int external;       /* has "urls" (foreign layer): need not be in the registry */
};

struct manifest {
	enum manifest_type type;
	struct manifest_ref *refs; /* owned; distinct (see manifest_parse) */
	size_t nrefs;
	size_t refs_cap;           /* allocated (mem_grow) */
	size_t ndescriptors;         /* descriptors as written in the document,
				      * repeats included: config + layers, or
				      * children, + subject (the limit
				      * manifest_max_descriptors applies to it) */
	int has_subject;
	struct manifest_ref subject; /* valid when has_subject */
	char *artifact_type;         /* owned; "artifactType" or NULL */
	char *config_media_type;     /* owned; config descriptor's mediaType or NULL */
	char *annotations;           /* owned; the top-level "annotations" object of an
				      * OCI manifest or index as compact JSON, or NULL
				      * (copied into its referrer descriptor) */
};

/* Parse `len` bytes.  `content_type` is the request's Content-Type (may be
 * NULL or carry parameters such as "; charset=utf-8").
 *  - A Content-Type naming one of the four types decides the type; a
 *    "mediaType" field that disagrees is BERR_MANIFEST_INVALID.
 *  - No Content-Type, "application/json" or "application/octet-stream": the
 *    type comes from "mediaType", else from the shape (config -> OCI
 *    manifest, manifests -> OCI index).
 *  - Any other Content-Type (schema 1 among them): BERR_MANIFEST_INVALID.
 *  - len > MANIFEST_MAX_SIZE: BERR_TOO_LARGE (before anything is parsed).
 *  - Malformed JSON, schemaVersion != 2, a missing or malformed descriptor
 *    (digest, size >= 0, mediaType string): BERR_MANIFEST_INVALID (bad digest
 *    strings inside descriptors are MANIFEST_INVALID too, not DIGEST_INVALID).
 *  - OCI types: "artifactType" not a string, "annotations" not an object of
 *    strings: BERR_MANIFEST_INVALID.
 * A descriptor repeated (same kind, digest and size) is kept once in
 * `refs`, at its first place; a layer is external only when every repeat
 * has "urls".  `ndescriptors` still counts every repeat: an index naming
 * one child 20,000 times is 20,000 descriptors, but one reference to
 * check, touch and record.
 * On success `out` must be released with manifest_release(). */
enum berr manifest_parse(struct manifest *out, const char *content_type,
			 const void *buf, size_t len);
void manifest_release(struct manifest *m);

const char *manifest_type_name(enum manifest_type t);
/* Exact media-type string (parameters ignored) to type; MT_UNKNOWN otherwise. */
enum manifest_type manifest_type_from_name(const char *s);
int manifest_type_is_index(enum manifest_type t);

/* Content negotiation: does the Accept header value `accept` (a
 * comma-separated list, possibly with ";q=" parameters, and the
 * wildcards "any/any" and "application/any" written with a star) allow `media_type`?  A NULL or empty accept
 * allows everything.  q=0 excludes. */
int manifest_accept_allows(const char *accept, const char *media_type);

#endif
