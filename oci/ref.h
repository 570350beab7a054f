/*
 * ref.h - the grammar of repository names, tags and upload session ids.
 *
 * Everything here is checked before any path is built from client input:
 * a valid name can only contain [a-z0-9._/-] in the spec's shape, so it can
 * never hold "..", "%2F", NUL, upper case or an absolute path.
 */
#ifndef BERTH_REF_H
#define BERTH_REF_H

#include <stddef.h>
#include "util/err.h"

#define REF_NAME_MAX 255   /* whole repository name, bytes */
#define REF_TAG_MAX 128
#define REF_UPLOAD_ID_LEN 36 /* canonical UUID text */

/* Repository name: path components [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
 * joined by '/', at most REF_NAME_MAX bytes.  BERR_NAME_INVALID otherwise. */
enum berr ref_name_check_n(const char *s, size_t len);
enum berr ref_name_check(const char *s);
/* Tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.  BERR_MANIFEST_INVALID otherwise. */
enum berr ref_tag_check_n(const char *s, size_t len);
enum berr ref_tag_check(const char *s);
/* Upload session id: lowercase UUID text 8-4-4-4-12.  BERR_BLOB_UPLOAD_UNKNOWN. */
enum berr ref_upload_id_check(const char *s);
/* The same grammars as predicates for probes (a directory listing, a
 * reference that may be a tag or a digest): 1 valid, 0 not, and nothing
 * recorded in the error context either way. */
int ref_name_valid(const char *s);
int ref_tag_valid(const char *s);
int ref_upload_id_valid(const char *s);
/* Fill out[REF_UPLOAD_ID_LEN + 1] with a new random (v4) UUID. */
enum berr ref_upload_id_new(char *out);

#endif
