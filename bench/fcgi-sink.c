/* bench/fcgi-sink.c - the FastCGI transport ceiling of `make bench`.
 *
 * A trivial FastCGI responder behind the reference's nginx (same TLS and
 * request-body settings as berth's upload location): it reads each request
 * body to the end with libfcgi, 64 KiB per FCGX_GetStr as berth's upload
 * worker does, and throws it away; with "hash" it also SHA-256-hashes it
 * (OpenSSL EVP, one context, one update per piece).  It then answers
 * "201 Created" with the byte count (X-Sink-Bytes) and, when hashing, the
 * hex digest (X-Sink-Digest).  What a 1 GiB PUT reaches through it is what
 * any FastCGI application on libfcgi can reach on this machine, before it
 * does any work of its own; bench/run.sh measures it next to berth's push.
 *
 *   fcgi-sink SOCKET_PATH [hash]
 *
 * Creates the unix socket itself (mode 0666, so that nginx's workers can
 * connect), serves one request at a time until killed.  Built by bench/lib.sh
 * into the bench's temp directory:
 *   cc -O2 -o fcgi-sink bench/fcgi-sink.c -lfcgi -lcrypto
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/evp.h>

#define PIECE (64 * 1024)

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fcgi-sink: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "fcgi-sink: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static char buf[PIECE];
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen, i;
	EVP_MD_CTX *ctx = NULL;
	FCGX_Request req;
	int fd, hash, got, bad;
	long long total;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "hash") != 0)) {
		fprintf(stderr, "usage: fcgi-sink SOCKET_PATH [hash]\n");
		return 2;
	}
	hash = argc == 3;
	signal(SIGPIPE, SIG_IGN); /* nginx may hang up first: fail the write */
	if ((fd = listen_unix(argv[1])) < 0)
		return 1;
	if (hash && !(ctx = EVP_MD_CTX_new())) {
		fprintf(stderr, "fcgi-sink: EVP_MD_CTX_new failed\n");
		return 1;
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, fd, 0) != 0) {
		fprintf(stderr, "fcgi-sink: libfcgi initialisation failed\n");
		return 1;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		total = 0;
		bad = hash && !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		/* To EOF: no CONTENT_LENGTH when the body is chunked. */
		while ((got = FCGX_GetStr(buf, PIECE, req.in)) > 0) {
			total += got;
			if (hash && !bad && !EVP_DigestUpdate(ctx, buf, (size_t)got))
				bad = 1;
		}
		if (FCGX_GetError(req.in) || bad) {
			FCGX_FPrintF(req.out, "Status: 500 Internal Server Error\r\n"
					      "Content-Length: 0\r\nX-Sink-Bytes: %lld\r\n\r\n", total);
			FCGX_Finish_r(&req);
			continue;
		}
		FCGX_FPrintF(req.out, "Status: 201 Created\r\nContent-Length: 0\r\n"
				      "X-Sink-Bytes: %lld\r\n", total);
		if (hash && EVP_DigestFinal_ex(ctx, md, &mdlen)) {
			for (i = 0; i < mdlen; i++)
				sprintf(hex + 2 * i, "%02x", md[i]);
			FCGX_FPrintF(req.out, "X-Sink-Digest: %s\r\n", hex);
		}
		FCGX_PutS("\r\n", req.out);
		FCGX_Finish_r(&req);
	}
	EVP_MD_CTX_free(ctx);
	return 0;
}
