/*
 * store_fixture.h - what the store's unit tests share: pushing a manifest
 * document the way the PUT handler does (parse, then store_manifest_put).
 */
#ifndef BERTH_STORE_FIXTURE_H
#define BERTH_STORE_FIXTURE_H

#include <string.h>

#include "store/manifest.h"
#include "store/store.h"

static inline enum berr push(struct store *s, const char *name, const char *doc,
			     const char *tag, struct digest *out)
{
	struct manifest m;
	enum berr rc;

	rc = manifest_parse(&m, NULL, doc, strlen(doc));
	if (rc)
		return rc;
	rc = store_manifest_put(s, name, &m, manifest_type_name(m.type), doc, strlen(doc),
				NULL, tag, out);
	manifest_release(&m);
	return rc;
}

#endif
