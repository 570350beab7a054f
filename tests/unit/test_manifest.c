/*
 * test_manifest.c - manifest parsing, media type resolution, reference
 * extraction (repeated descriptors kept once, counted all) and Accept
 * negotiation, on documents shaped like what docker,
 * podman/skopeo, buildx and oras actually push.
 */
#include <stdlib.h>

#include "oci/manifest.h"
#include "tests/unit/unit.h"

#define D1 "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
#define D2 "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"
#define D3 "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b"
#define D4 "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736"
#define DEMPTY "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define D512 "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" \
	     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"

static const char docker_v2[] =
	"{\n"
	"   \"schemaVersion\": 2,\n"
	"   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"   \"config\": {\n"
	"      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
	"      \"size\": 7023,\n"
	"      \"digest\": \"" D1 "\"\n"
	"   },\n"
	"   \"layers\": [\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"         \"size\": 32654,\n"
	"         \"digest\": \"" D2 "\"\n"
	"      },\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"         \"size\": 16724,\n"
	"         \"digest\": \"" D3 "\"\n"
	"      },\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\n"
	"         \"size\": 73109,\n"
	"         \"digest\": \"" D4 "\",\n"
	"         \"urls\": [\"https://mcr.microsoft.com/v2/windows/blobs/" D4 "\"]\n"
	"      }\n"
	"   ]\n"
	"}";

static const char docker_list[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n"
	"  \"manifests\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"      \"size\": 7143,\n"
	"      \"digest\": \"" D1 "\",\n"
	"      \"platform\": {\"architecture\": \"ppc64le\", \"os\": \"linux\"}\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"      \"size\": 7682,\n"
	"      \"digest\": \"" D2 "\",\n"
	"      \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\", \"features\": [\"sse4\"]}\n"
	"    }\n"
	"  ]\n"
	"}";

static const char oci_manifest[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	"\"digest\":\"" D1 "\",\"size\":1470},"
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	"\"digest\":\"" D2 "\",\"size\":3370706},"
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
	"\"digest\":\"" D512 "\",\"size\":0,\"urls\":[],"
	"\"annotations\":{\"org.opencontainers.image.title\":\"x\"}}],"
	"\"annotations\":{\"org.opencontainers.image.created\":\"2024-01-02T03:04:05Z\"}}";

/* An OCI 1.1 artifact (what `oras attach` pushes): artifactType, the empty
 * config, no layers, and a subject naming the image it annotates. */
static const char oci_artifact[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"artifactType\":\"application/vnd.example.sbom.v1\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
	"\"digest\":\"" DEMPTY "\",\"size\":2,\"data\":\"e30=\"},"
	"\"layers\":[],"
	"\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"digest\":\"" D3 "\",\"size\":1234}}";

static const char oci_index[] =
	"{\n  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
	"  \"manifests\": [\n"
	"    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"size\": 7143,"
	" \"digest\": \"" D1 "\", \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\"}},\n"
	"    {\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"size\": 566,"
	" \"digest\": \"" D4 "\", \"annotations\": {\"vnd.docker.reference.type\": \"attestation-manifest\"}}\n"
	"  ],\n"
	"  \"annotations\": {\"com.example.key1\": \"value1\"}\n}";

static enum berr parse(struct manifest *m, const char *ct, const char *doc)
{
	return manifest_parse(m, ct, doc, strlen(doc));
}

static void test_docker_v2(void)
{
	struct manifest m;
	char buf[DIGEST_STR_MAX];

	CHECK_INT(parse(&m, MT_DOCKER_V2_S, docker_v2), BERR_OK);
	CHECK_INT(m.type, MT_DOCKER_V2);
	CHECK_INT(m.nrefs, 4);
	CHECK_INT(m.refs[0].kind, MREF_CONFIG);
	CHECK_STR(digest_format(&m.refs[0].digest, buf), D1);
	CHECK_INT(m.refs[0].size, 7023);
	CHECK_STR(m.refs[0].media_type, "application/vnd.docker.container.image.v1+json");
	CHECK_STR(m.config_media_type, "application/vnd.docker.container.image.v1+json");
	CHECK_INT(m.refs[1].kind, MREF_LAYER);
	CHECK_STR(digest_format(&m.refs[1].digest, buf), D2);
	CHECK_INT(m.refs[1].external, 0);
	CHECK_INT(m.refs[2].size, 16724);
	CHECK_INT(m.refs[3].external, 1);
	CHECK_INT(m.has_subject, 0);
	CHECK(m.artifact_type == NULL);
	manifest_release(&m);
	CHECK(m.refs == NULL && m.nrefs == 0);
	manifest_release(&m); /* twice is harmless */
	manifest_release(NULL);

	/* Without a Content-Type the field decides; with a charset it still matches. */
	CHECK_INT(parse(&m, NULL, docker_v2), BERR_OK);
	CHECK_INT(m.type, MT_DOCKER_V2);
	manifest_release(&m);
	CHECK_INT(parse(&m, MT_DOCKER_V2_S "; charset=utf-8", docker_v2), BERR_OK);
	CHECK_INT(m.type, MT_DOCKER_V2);
	manifest_release(&m);
	CHECK_INT(parse(&m, "application/json", docker_v2), BERR_OK);
	CHECK_INT(m.type, MT_DOCKER_V2);
	manifest_release(&m);
}

static void test_docker_list(void)
{
	struct manifest m;

	CHECK_INT(parse(&m, MT_DOCKER_LIST_S, docker_list), BERR_OK);
	CHECK_INT(m.type, MT_DOCKER_LIST);
	CHECK_INT(m.nrefs, 2);
	CHECK_INT(m.refs[0].kind, MREF_MANIFEST);
	CHECK_INT(m.refs[1].kind, MREF_MANIFEST);
	CHECK_INT(m.refs[1].size, 7682);
	CHECK_STR(m.refs[1].media_type, MT_DOCKER_V2_S);
	CHECK(m.config_media_type == NULL);
	CHECK(manifest_type_is_index(m.type));
	manifest_release(&m);
}

static void test_oci(void)
{
	struct manifest m;
	char buf[DIGEST_STR_MAX];

	CHECK_INT(parse(&m, MT_OCI_MANIFEST_S, oci_manifest), BERR_OK);
	CHECK_INT(m.type, MT_OCI_MANIFEST);
	CHECK_INT(m.nrefs, 3);
	CHECK_INT(m.refs[2].digest.alg, DIGEST_SHA512);
	CHECK_INT(m.refs[2].size, 0);
	CHECK_INT(m.refs[2].external, 0); /* empty urls */
	CHECK_STR(m.config_media_type, "application/vnd.oci.image.config.v1+json");
	/* top-level annotations only, compact, key order kept */
	CHECK_STR(m.annotations, "{\"org.opencontainers.image.created\":\"2024-01-02T03:04:05Z\"}");
	manifest_release(&m);
	CHECK(m.annotations == NULL);

	CHECK_INT(parse(&m, MT_OCI_MANIFEST_S, oci_artifact), BERR_OK);
	CHECK(m.annotations == NULL);
	CHECK_INT(m.nrefs, 1); /* the empty config only */
	CHECK_STR(m.artifact_type, "application/vnd.example.sbom.v1");
	CHECK_INT(m.has_subject, 1);
	CHECK_INT(m.subject.kind, MREF_MANIFEST);
	CHECK_STR(digest_format(&m.subject.digest, buf), D3);
	CHECK_INT(m.subject.size, 1234);
	CHECK_STR(m.subject.media_type, MT_OCI_MANIFEST_S);
	CHECK_STR(m.config_media_type, "application/vnd.oci.empty.v1+json");
	manifest_release(&m);

	CHECK_INT(parse(&m, MT_OCI_INDEX_S, oci_index), BERR_OK);
	CHECK_INT(m.type, MT_OCI_INDEX);
	CHECK_INT(m.nrefs, 2);
	CHECK_INT(m.refs[1].kind, MREF_MANIFEST);
	CHECK_STR(digest_format(&m.refs[1].digest, buf), D4);
	CHECK_STR(m.annotations, "{\"com.example.key1\":\"value1\"}");
	manifest_release(&m);

	/* Docker types have no annotations of their own: not collected. */
	CHECK_INT(parse(&m, MT_DOCKER_V2_S, docker_v2), BERR_OK);
	CHECK(m.annotations == NULL);
	manifest_release(&m);
	CHECK_INT(parse(&m, MT_OCI_MANIFEST_S,
			"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\","
			"\"size\":1},\"layers\":[],\"annotations\":{\"z\":\"1\",\"a\":\"2\"}}"), BERR_OK);
	CHECK_STR(m.annotations, "{\"z\":\"1\",\"a\":\"2\"}");
	manifest_release(&m);

	/* An OCI index with a subject and artifactType (OCI 1.1). */
	CHECK_INT(parse(&m, MT_OCI_INDEX_S,
			"{\"schemaVersion\":2,\"artifactType\":\"application/x\",\"manifests\":[],"
			"\"subject\":{\"mediaType\":\"" MT_OCI_INDEX_S "\",\"digest\":\"" D1 "\",\"size\":9}}"),
		  BERR_OK);
	CHECK_INT(m.nrefs, 0);
	CHECK_INT(m.has_subject, 1);
	CHECK_STR(m.artifact_type, "application/x");
	manifest_release(&m);
}

/* OCI documents may leave out "mediaType"; then the header or shape decides. */
static void test_type_resolution(void)
{
	static const char bare_manifest[] =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		"\"digest\":\"" D1 "\",\"size\":10},\"layers\":[]}";
	static const char bare_index[] = "{\"schemaVersion\":2,\"manifests\":[]}";
	struct manifest m;

	CHECK_INT(parse(&m, MT_OCI_MANIFEST_S, bare_manifest), BERR_OK);
	CHECK_INT(m.type, MT_OCI_MANIFEST);
	manifest_release(&m);
	CHECK_INT(parse(&m, NULL, bare_manifest), BERR_OK);
	CHECK_INT(m.type, MT_OCI_MANIFEST);
	manifest_release(&m);
	CHECK_INT(parse(&m, "application/octet-stream", bare_index), BERR_OK);
	CHECK_INT(m.type, MT_OCI_INDEX);
	manifest_release(&m);
	CHECK_INT(parse(&m, "", bare_index), BERR_OK);
	CHECK_INT(m.type, MT_OCI_INDEX);
	manifest_release(&m);
	CHECK_INT(parse(&m, " Application/VND.OCI.Image.Manifest.v1+JSON ;charset=utf-8",
			oci_manifest), BERR_OK);
	CHECK_INT(m.type, MT_OCI_MANIFEST);
	manifest_release(&m);
	CHECK_INT(parse(&m, MT_OCI_MANIFEST_S "; charset=utf-8", oci_manifest), BERR_OK);
	manifest_release(&m);
	CHECK_INT(parse(&m, MT_OCI_INDEX_S ";charset=UTF-8", oci_index), BERR_OK);
	manifest_release(&m);
	CHECK_INT(parse(&m, MT_DOCKER_LIST_S "; charset=utf-8", docker_list), BERR_OK);
	manifest_release(&m);

	/* Docker schemas carry their mediaType: without it the header can't vouch. */
	CHECK_INT(parse(&m, MT_DOCKER_V2_S, bare_manifest), BERR_MANIFEST_INVALID);
	CHECK(strstr(berr_detail(), "requires a \"mediaType\"") != NULL);
	CHECK_INT(parse(&m, MT_DOCKER_LIST_S, bare_index), BERR_MANIFEST_INVALID);
	/* Shape says index, header says manifest. */
	CHECK_INT(parse(&m, MT_OCI_MANIFEST_S, bare_index), BERR_MANIFEST_INVALID);
	CHECK(strstr(berr_detail(), "\"config\"") != NULL);
	CHECK_INT(parse(&m, NULL, "{\"schemaVersion\":2,\"layers\":[]}"), BERR_MANIFEST_INVALID);
	CHECK(strstr(berr_detail(), "cannot tell") != NULL);
	CHECK_INT(parse(&m, NULL, "{\"schemaVersion\":2,\"manifests\":[],\"config\":{}}"),
		  BERR_MANIFEST_INVALID);

	CHECK_INT(manifest_type_from_name(MT_OCI_INDEX_S), MT_OCI_INDEX);
	CHECK_INT(manifest_type_from_name(MT_DOCKER_V2_S "; charset=utf-8"), MT_DOCKER_V2);
	CHECK_INT(manifest_type_from_name(MT_DOCKER_LIST_S), MT_DOCKER_LIST);
	CHECK_INT(manifest_type_from_name(MT_OCI_MANIFEST_S "x"), MT_UNKNOWN);
	CHECK_INT(manifest_type_from_name("application/vnd.oci.image"), MT_UNKNOWN);
	CHECK_INT(manifest_type_from_name(""), MT_UNKNOWN);
	CHECK_INT(manifest_type_from_name(NULL), MT_UNKNOWN);
	CHECK_STR(manifest_type_name(MT_OCI_MANIFEST), MT_OCI_MANIFEST_S);
	CHECK_STR(manifest_type_name(MT_DOCKER_LIST), MT_DOCKER_LIST_S);
	CHECK_STR(manifest_type_name(MT_UNKNOWN), "unknown");
	CHECK(!manifest_type_is_index(MT_OCI_MANIFEST));
	CHECK(manifest_type_is_index(MT_OCI_INDEX));
}

/* Expect a refusal with `code` whose detail mentions `part`. */
static void refuse(const char *ct, const char *doc, size_t len, enum berr code, const char *part)
{
	struct manifest m;
	enum berr rc;

	memset(&m, 0x5a, sizeof(m));
	rc = manifest_parse(&m, ct, doc, len);
	if (rc == code && (!part || strstr(berr_detail(), part)) && m.refs == NULL &&
	    m.nrefs == 0 && m.artifact_type == NULL && m.config_media_type == NULL) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL refuse (%s) %.60s: rc %d detail \"%s\", want %d \"%s\"\n",
			ct ? ct : "-", doc, rc, berr_detail(), code, part ? part : "");
		if (rc == BERR_OK)
			manifest_release(&m);
	}
}

#define REFUSE(ct, doc, part) refuse(ct, doc, strlen(doc), BERR_MANIFEST_INVALID, part)
#define CFG "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1}"
#define LAYER(d, s) "{\"mediaType\":\"a/b\",\"digest\":\"" d "\",\"size\":" s "}"

static void test_rejections(void)
{
	const char *oci = MT_OCI_MANIFEST_S;

	REFUSE(oci, "{\"schemaVersion\":2,", "malformed JSON");
	REFUSE(oci, "not json", "malformed JSON");
	REFUSE(oci, "[{\"schemaVersion\":2}]", "must be a JSON object");
	REFUSE(oci, "\"x\"", "malformed JSON"); /* jansson: top level must be {} or [] */
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[]} trailing", "malformed JSON");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[]}{}", "malformed JSON");
	REFUSE(oci, "{\"schemaVersion\":1," CFG ",\"layers\":[]}", "schemaVersion 1");
	REFUSE(oci, "{" CFG ",\"layers\":[]}", "schemaVersion");
	REFUSE(oci, "{\"schemaVersion\":\"2\"," CFG ",\"layers\":[]}", "schemaVersion");
	REFUSE(oci, "{\"schemaVersion\":2.0," CFG ",\"layers\":[]}", "schemaVersion");
	REFUSE("application/vnd.docker.distribution.manifest.v1+prettyjws",
	       "{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"latest\",\"fsLayers\":[]}", "schema 1");
	REFUSE("application/vnd.docker.distribution.manifest.v1+json",
	       "{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"latest\",\"fsLayers\":[]}", "schema 1");
	REFUSE("text/plain", oci_manifest, "unsupported manifest media type \"text/plain\"");
	REFUSE("application/vnd.oci.image.layer.v1.tar", oci_manifest, "unsupported");
	/* Content-Type and mediaType disagree. */
	REFUSE(MT_DOCKER_V2_S, oci_manifest, "does not match");
	REFUSE(MT_OCI_MANIFEST_S, docker_v2, "does not match");
	REFUSE(MT_OCI_INDEX_S, oci_manifest, "does not match");
	REFUSE(MT_DOCKER_LIST_S, oci_index, "does not match");
	REFUSE(NULL, "{\"schemaVersion\":2,\"mediaType\":\"application/x\"," CFG ",\"layers\":[]}",
	       "unsupported \"mediaType\"");
	REFUSE(NULL, "{\"schemaVersion\":2,\"mediaType\":\"APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON\","
	       CFG ",\"layers\":[]}", "unsupported \"mediaType\"");
	REFUSE(NULL, "{\"schemaVersion\":2,\"mediaType\":7," CFG ",\"layers\":[]}", "must be a string");
	/* Image manifest shape. */
	REFUSE(oci, "{\"schemaVersion\":2,\"layers\":[]}", "needs \"config\"");
	REFUSE(oci, "{\"schemaVersion\":2," CFG "}", "\"layers\" array");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":{}}", "\"layers\" array");
	REFUSE(oci, "{\"schemaVersion\":2,\"config\":[],\"layers\":[]}", "config must be an object");
	REFUSE(oci, "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
	       "config needs a \"mediaType\"");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(D2, "1") "," LAYER(D3, "-1") "]}",
	       "layers[1] needs a \"size\" integer >= 0");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(D2, "1.5") "]}", "layers[0] needs a \"size\"");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(D2, "\"12\"") "]}", "\"size\"");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"a/b\",\"size\":1}]}",
	       "layers[0] needs a \"digest\"");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(D2, "1") "," LAYER("md5:d41d8cd98f00b204e9800998ecf8427e", "1") "]}",
	       "layers[1]: digest algorithm \"md5\" is not supported");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER("sha256:E692418E4CBAF90CA69D05A66403747BAA33EE08806650B51FAB815AD7FC331F", "1") "]}",
	       "lowercase");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER("sha256:abc", "1") "]}", "layers[0]");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER("sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f\\u0000", "1") "]}",
	       NULL);
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\"" D2 "\",\"size\":1,\"urls\":\"http://x\"}]}",
	       "\"urls\" must be an array");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[7]}", "layers[0] must be an object");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"artifactType\":3}", "artifactType");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"annotations\":[]}",
	       "\"annotations\" must be an object");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"annotations\":{\"k\":1}}",
	       "annotation \"k\" must be a string");
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"subject\":{\"mediaType\":\"a/b\",\"size\":1}}",
	       "subject needs a \"digest\"");
	/* Index shape. */
	REFUSE(MT_OCI_INDEX_S, "{\"schemaVersion\":2}", "\"manifests\" array");
	REFUSE(MT_OCI_INDEX_S, "{\"schemaVersion\":2,\"manifests\":[" LAYER(D1, "1") ",{}]}", "manifests[1]");
	REFUSE(MT_DOCKER_LIST_S, "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST_S "\",\"manifests\":null}",
	       "\"manifests\" array");
	/* Two "layers": ambiguous, so refused. */
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"layers\":[" LAYER(D2, "1") "]}", "duplicate");
	/* Not UTF-8. */
	REFUSE(oci, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"x\":\"\xff\"}", "malformed JSON");
	refuse(oci, "", 0, BERR_MANIFEST_INVALID, "empty");
	refuse(oci, NULL, 0, BERR_MANIFEST_INVALID, "empty");
	/* An embedded NUL byte in the body. */
	refuse(oci, "{\"schemaVersion\":2}\0{}", 21, BERR_MANIFEST_INVALID, "malformed JSON");
	/* Oversized documents are refused before they are parsed. */
	refuse(oci, "{}", (size_t)MANIFEST_MAX_SIZE + 1, BERR_TOO_LARGE, "at most 67108864");
}

#define ULAYER(d, s) "{\"mediaType\":\"a/b\",\"digest\":\"" d "\",\"size\":" s ",\"urls\":[\"https://x/\"]}"

/* Repeated descriptors are one reference, at the first place; every
 * repeat still counts towards ndescriptors (the PUT's limit). */
static void test_repeats(void)
{
	static const char *const idx = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX_S "\","
		"\"manifests\":[" LAYER(D1, "7") "," LAYER(D2, "7") "," LAYER(D1, "7") ","
		LAYER(D1, "8") "," LAYER(D1, "7") "]}";
	static const char *const img = "{\"schemaVersion\":2," CFG ",\"layers\":["
		LAYER(D1, "1") "," ULAYER(D2, "3") "," LAYER(D2, "3") "," ULAYER(D3, "4") ","
		ULAYER(D3, "4") "," LAYER(D2, "3") "],\"subject\":" LAYER(D4, "9") "}";
	struct manifest m;

	CHECK_INT(manifest_parse(&m, NULL, idx, strlen(idx)), BERR_OK);
	CHECK_INT(m.ndescriptors, 5);
	CHECK_INT(m.nrefs, 3);
	CHECK_STR(m.refs[0].digest.hex, D1 + 7);
	CHECK_INT(m.refs[0].size, 7);
	CHECK_STR(m.refs[1].digest.hex, D2 + 7);
	CHECK_STR(m.refs[2].digest.hex, D1 + 7); /* same digest, other size: kept */
	CHECK_INT(m.refs[2].size, 8);
	manifest_release(&m);

	CHECK_INT(manifest_parse(&m, NULL, img, strlen(img)), BERR_OK);
	CHECK_INT(m.ndescriptors, 8); /* config + 6 layers + subject */
	CHECK_INT(m.nrefs, 4);
	CHECK_INT(m.refs[0].kind, MREF_CONFIG); /* config D1 and layer D1 are two */
	CHECK_INT(m.refs[1].kind, MREF_LAYER);
	CHECK_STR(m.refs[1].digest.hex, D1 + 7);
	CHECK_STR(m.refs[2].digest.hex, D2 + 7);
	CHECK_INT(m.refs[2].external, 0); /* one repeat without urls: must be here */
	CHECK_STR(m.refs[3].digest.hex, D3 + 7);
	CHECK_INT(m.refs[3].external, 1); /* urls on every repeat */
	CHECK(m.has_subject);
	manifest_release(&m);
}

/* A document of exactly the largest max_manifest (64 MiB, padded with
 * whitespace) is still accepted; one byte more is not. */
static void test_size_limit(void)
{
	size_t n = MANIFEST_MAX_SIZE, len = strlen(oci_manifest);
	char *doc = malloc(n + 1);
	struct manifest m;

	CHECK_INT(n, 64 * 1024 * 1024);
	if (doc == NULL)
		return;

	memcpy(doc, oci_manifest, len);
	memset(doc + len, ' ', n + 1 - len);
	CHECK_INT(manifest_parse(&m, MT_OCI_MANIFEST_S, doc, n), BERR_OK);
	manifest_release(&m);
	CHECK_INT(manifest_parse(&m, MT_OCI_MANIFEST_S, doc, n + 1), BERR_TOO_LARGE);
	free(doc);
}

static void test_accept(void)
{
	const char *docker_accept =
		"application/vnd.docker.distribution.manifest.v2+json, "
		"application/vnd.docker.distribution.manifest.list.v2+json, "
		"application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*";

	CHECK(manifest_accept_allows(NULL, MT_OCI_INDEX_S));
	CHECK(manifest_accept_allows("", MT_OCI_INDEX_S));
	CHECK(manifest_accept_allows("  ", MT_OCI_INDEX_S));
	CHECK(manifest_accept_allows(MT_OCI_INDEX_S, MT_OCI_INDEX_S));
	CHECK(!manifest_accept_allows(MT_OCI_INDEX_S, MT_OCI_MANIFEST_S));
	CHECK(manifest_accept_allows(docker_accept, MT_OCI_INDEX_S));
	CHECK(manifest_accept_allows(MT_DOCKER_V2_S ",  " MT_OCI_MANIFEST_S " ,x/y", MT_OCI_MANIFEST_S));
	CHECK(manifest_accept_allows(MT_DOCKER_V2_S "," MT_OCI_MANIFEST_S, MT_DOCKER_V2_S));
	CHECK(!manifest_accept_allows(MT_DOCKER_V2_S "," MT_OCI_MANIFEST_S, MT_DOCKER_LIST_S));
	CHECK(manifest_accept_allows("*/*", MT_DOCKER_LIST_S));
	CHECK(manifest_accept_allows("*", MT_DOCKER_LIST_S));
	CHECK(manifest_accept_allows("application/*", MT_DOCKER_LIST_S));
	CHECK(!manifest_accept_allows("text/*", MT_DOCKER_LIST_S));
	CHECK(!manifest_accept_allows("application/json", MT_OCI_MANIFEST_S));
	CHECK(!manifest_accept_allows("application/vnd.oci.image.manifest.v1", MT_OCI_MANIFEST_S));
	CHECK(manifest_accept_allows(" " MT_OCI_MANIFEST_S " ; q=0.5 ", MT_OCI_MANIFEST_S));
	CHECK(manifest_accept_allows(MT_OCI_MANIFEST_S ";q=0.001", MT_OCI_MANIFEST_S));
	CHECK(manifest_accept_allows(MT_OCI_MANIFEST_S ";q=1", MT_OCI_MANIFEST_S));
	CHECK(!manifest_accept_allows(MT_OCI_MANIFEST_S ";q=0", MT_OCI_MANIFEST_S));
	CHECK(!manifest_accept_allows(MT_OCI_MANIFEST_S "; Q=0.000", MT_OCI_MANIFEST_S));
	CHECK(!manifest_accept_allows(MT_OCI_MANIFEST_S ";level=1;q=0.0", MT_OCI_MANIFEST_S));
	CHECK(!manifest_accept_allows("*/*;q=0", MT_OCI_MANIFEST_S));
	/* The most specific range decides, whatever the order. */
	CHECK(!manifest_accept_allows("*/*, " MT_OCI_INDEX_S ";q=0", MT_OCI_INDEX_S));
	CHECK(!manifest_accept_allows(MT_OCI_INDEX_S ";q=0, */*", MT_OCI_INDEX_S));
	CHECK(manifest_accept_allows(MT_OCI_INDEX_S ";q=0, */*", MT_OCI_MANIFEST_S));
	CHECK(manifest_accept_allows("application/*;q=0, " MT_OCI_INDEX_S, MT_OCI_INDEX_S));
	CHECK(!manifest_accept_allows("application/*;q=0, " MT_OCI_INDEX_S, MT_OCI_MANIFEST_S));
	CHECK(manifest_accept_allows("application/*;q=0, */*", "text/plain"));
	/* Case-insensitive; the served type may carry parameters. */
	CHECK(manifest_accept_allows("APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON", MT_OCI_INDEX_S));
	CHECK(manifest_accept_allows(MT_OCI_INDEX_S, MT_OCI_INDEX_S "; charset=utf-8"));
	CHECK(manifest_accept_allows(",,", MT_OCI_INDEX_S));
}

int main(void)
{
	test_docker_v2();
	test_docker_list();
	test_oci();
	test_type_resolution();
	test_rejections();
	test_size_limit();
	test_repeats();
	test_accept();
	return unit_done();
}
