/*
 * berthd.c - the pool's master: reads the config, opens the FastCGI sockets,
 * preforks the workers and keeps them alive.
 *
 * Three pools share the master, each on its own socket, all running the
 * same worker code; nginx picks the pool by the request's path:
 *   api     manifests, HEADs, tags, blob redirects: short requests that
 *           holders of a token make (`socket`, `workers`);
 *   upload  PATCH/PUT bodies that may hold a worker for minutes
 *           (`upload_socket`), so a wave of pushes can never starve pulls.
 *           This pool is dynamic: upload_workers_min run always, more are
 *           started while fewer than two are idle, up to upload_workers, and
 *           idle ones above the minimum leave after upload_idle_timeout.
 *           One client (address, and user) holds at most
 *           upload_client_workers of them (worker.c, fcgi/scoreboard.h);
 *   token   /token: logins and refreshes (`token_socket`, `token_workers`).
 *           A login may wait seconds on the directory (or its timeouts when
 *           the directory hangs) and costs a bcrypt; on their own pool,
 *           logins can never occupy the workers that serve pulls, and at most
 *           token_workers of them run at once.
 * Requests beyond a pool's size wait in its socket's backlog instead of
 * failing (nginx's read timeout bounds the wait).  A pool whose socket is
 * not configured has no workers: its requests go to the API socket, which
 * then serves them (data directories made before the token pool existed).
 *
 * Signals: SIGTERM/SIGINT stop gracefully (workers finish the request they
 * serve, up to shutdown_timeout); SIGHUP rereads the config, starts a new
 * generation of workers and only then retires the old one, so no request is
 * refused during a reload.  A worker that dies is respawned, with a backoff
 * that doubles (up to 30 s) while workers keep dying young.  SIGUSR1 is
 * forwarded to the workers, which reopen the access and audit logs
 * (logrotate; util/audit.h).  The master
 * holds no request state: everything lives in the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/check.h"
#include "auth/ratelimit.h"
#include "auth/directory.h"
#include "auth/signer.h"
#include "fcgi/policy_audit.h"
#include "fcgi/pool.h"
#include "fcgi/scoreboard.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/metrics.h"
#include "util/notify.h"
#include "util/privs.h"

#define MAX_BACKOFF 30
#define YOUNG 5 /* seconds: a worker dying sooner than this backs off */
#define UPLOAD_SPARE 2 /* idle upload workers kept ready while the pool may grow */
#define TICK_MS 1000   /* the master's loop ... */
#define DYNAMIC_TICK_MS 100 /* ... and while the upload pool may grow or shrink */

enum { POOL_API = 0, POOL_UPLOAD = 1, POOL_TOKEN = 2, NPOOLS = 3 };
static const char *pool_names[NPOOLS] = { "api", "upload", "token" };

struct slot {
	pid_t pid;         /* 0: not running */
	int on;            /* should run (the dynamic upload pool turns slots off) */
	int sb;            /* its scoreboard entry (fcgi/scoreboard.h) */
	time_t started;
	time_t respawn_at;
	int backoff;
};

static struct config cfg;
static struct store store;
static int listen_fd[NPOOLS] = { -1, -1, -1 };
static struct slot *slots[NPOOLS];
static int nslots[NPOOLS];
static pid_t *retiring;      /* old-generation workers still finishing */
static size_t nretiring, retiring_cap;
static pid_t sweeper;
static pid_t signer;          /* holds the token signing key (auth = token) */
static int signer_external;   /* signer = external at start: none to fork */
static time_t signer_restart_at;
static pid_t directory;       /* holds the LDAP bind password (ldap_uri set) */
static time_t directory_restart_at;
static time_t next_sweep;
static struct policy_audit policy_audit; /* policy_change records (policy_audit.c) */
static volatile sig_atomic_t got_term, got_hup, got_usr1;
static int wake[2] = { -1, -1 };

static void on_signal(int sig)
{
	int e = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1; /* logrotate: the workers reopen their logs */
	else if (sig != SIGCHLD)
		got_term = 1;
	if (write(wake[1], "x", 1) < 0) {
		/* already awake */
	}
	errno = e;
}

static void master_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int pool_fd(int pool)
{
	return listen_fd[pool] >= 0 ? listen_fd[pool] : listen_fd[POOL_API];
}

/* A worker parses request bodies: it must not keep a bind password that
 * berth.conf held inline (only the directory process needs it). */
static void forget_secrets(void)
{
	if (!cfg.ldap_bind_password)
		return;
	explicit_bzero(cfg.ldap_bind_password, strlen(cfg.ldap_bind_password));
	free(cfg.ldap_bind_password);
	cfg.ldap_bind_password = NULL;
}

static void spawn(int pool, struct slot *s)
{
	int idx = sb_reserve();
	pid_t pid = fork();

	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		s->respawn_at = time(NULL) + 1;
		return;
	}
	if (pid == 0) {
		close(wake[0]);
		close(wake[1]);
		for (int p = 0; p < NPOOLS; p++)
			if (listen_fd[p] >= 0 && listen_fd[p] != pool_fd(pool))
				close(listen_fd[p]);
		forget_secrets();
		sb_self(idx, pool);
		if (privs_drop(&cfg)) {
			log_err("%s worker: %s", pool_names[pool], berr_detail());
			_exit(1);
		}
		pool_worker_run(pool_fd(pool), &cfg, &store);
	}
	sb_bind(idx, pid, pool);
	s->pid = pid;
	s->sb = idx;
	s->started = time(NULL);
	log_debug("%s worker %d started", pool_names[pool], (int)pid);
}

static void spawn_due(time_t now)
{
	for (int p = 0; p < NPOOLS; p++)
		for (int i = 0; i < nslots[p]; i++)
			if (slots[p][i].on && !slots[p][i].pid && now >= slots[p][i].respawn_at)
				spawn(p, &slots[p][i]);
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* A current-generation worker died: schedule its replacement. */
static void slot_died(int pool, struct slot *s, int status, time_t now)
{
	char how[64];

	if (!s->on) { /* an idle upload worker the pool let go */
		s->pid = 0;
		return;
	}
	describe_exit(status, how, sizeof(how));
	if (now - s->started < YOUNG)
		s->backoff = s->backoff ? (s->backoff * 2 > MAX_BACKOFF ? MAX_BACKOFF : s->backoff * 2) : 1;
	else
		s->backoff = 0;
	s->respawn_at = now + s->backoff;
	metrics_add(METRICS_WORKER_RESTARTS, !got_term, (unsigned)pool, 0, 0); /* not when stopping */
	if (!got_term)
		log_warn("%s worker %d %s; respawning in %d s", pool_names[pool], (int)s->pid,
			 how, s->backoff);
	s->pid = 0;
}

static int auth_enabled(void)
{
	return cfg.auth && strcmp(cfg.auth, "token") == 0;
}

/* The signer is the only process that reads the private key; workers ask
 * it over its socket.  It is restarted (at most once a second) if it dies. */
static int start_signer(void)
{
	if (!auth_enabled() || signer_external || signer || time(NULL) < signer_restart_at)
		return 0;
	signer_restart_at = time(NULL) + 1;
	if (auth_signer_start(cfg.signing_key, cfg.signer_socket, &signer)) {
		log_err("token signer: %s", berr_detail());
		signer = 0;
		return -1;
	}
	return 0;
}

/* The directory process is the only one that reads the LDAP bind
 * password and talks to the directory; token workers ask it over its
 * socket.  Restarted (at most once a second) if it dies. */
static int start_directory(void)
{
	if (!auth_enabled() || !cfg.ldap_uri || !cfg.ldap_uri[0] || directory ||
	    time(NULL) < directory_restart_at)
		return 0;
	directory_restart_at = time(NULL) + 1;
	if (auth_directory_start(&cfg, &directory)) {
		log_err("directory: %s", berr_detail());
		directory = 0;
		return -1;
	}
	return 0;
}

static void stop_directory(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* After a reload: a new directory process with the new settings (and a
 * new bind password) takes over the socket, then the old one goes; it
 * leaves the new socket in place. */
static void restart_directory(void)
{
	pid_t old = directory;

	directory = 0;
	directory_restart_at = 0;
	if (start_directory() < 0 && old) {
		log_err("reload: keeping the running directory process");
		directory = old;
		return;
	}
	stop_directory(old);
}

static int reap_one(pid_t pid, int status, time_t now)
{
	sb_release_pid(pid);
	if (pid == sweeper) {
		sweeper = 0;
		return 1;
	}
	if (pid == directory) {
		directory = 0;
		if (!got_term)
			log_warn("directory process %d exited; restarting it", (int)pid);
		return 1;
	}
	if (pid == signer) {
		signer = 0;
		if (!got_term)
			log_warn("token signer %d exited; restarting it", (int)pid);
		return 1;
	}
	for (int p = 0; p < NPOOLS; p++)
		for (int i = 0; i < nslots[p]; i++)
			if (slots[p][i].pid == pid) {
				slot_died(p, &slots[p][i], status, now);
				return 1;
			}
	for (size_t i = 0; i < nretiring; i++)
		if (retiring[i] == pid) {
			retiring[i] = retiring[--nretiring];
			return 1;
		}
	return 0;
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reap_one(pid, status, time(NULL));
}

static int running_workers(void)
{
	int n = (int)nretiring;

	for (int p = 0; p < NPOOLS; p++)
		for (int i = 0; i < nslots[p]; i++)
			n += slots[p][i].pid != 0;
	return n;
}

static void signal_all(int sig)
{
	for (int p = 0; p < NPOOLS; p++)
		for (int i = 0; i < nslots[p]; i++)
			if (slots[p][i].pid)
				kill(slots[p][i].pid, sig);
	for (size_t i = 0; i < nretiring; i++)
		kill(retiring[i], sig);
}

static void wait_wake(int ms)
{
	struct pollfd pfd = { .fd = wake[0], .events = POLLIN };
	char buf[64];

	if (poll(&pfd, 1, ms) > 0)
		while (read(wake[0], buf, sizeof(buf)) > 0)
			;
}

static void maybe_sweep(time_t now)
{
	int removed = 0;
	pid_t pid;

	if (sweeper || now < next_sweep)
		return;
	next_sweep = now + cfg.sweep_interval;
	if ((pid = fork()) < 0)
		return;
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		struct auth_ratelimit rl;
		if (privs_drop(&cfg)) {
			log_err("sweep: %s", berr_detail());
			_exit(1);
		}
		if (store_sweep(&store, time(NULL), &removed))
			log_err("sweep: %s", berr_detail());
		else if (removed)
			log_info("sweep: removed %d expired upload sessions and temporaries", removed);
		if (auth_enabled() && cfg.state_dir && auth_ratelimit_init(&rl, &cfg) == BERR_OK) {
			auth_ratelimit_sweep(&rl, time(NULL));
			auth_ratelimit_release(&rl);
		}
		_exit(0);
	}
	sweeper = pid;
}

/* Fewest upload workers running: all of them when the pool is not
 * dynamic (uploads served by the API pool, or min = max). */
static int upload_min(void)
{
	return cfg.upload_workers_min < cfg.upload_workers ? cfg.upload_workers_min
							   : cfg.upload_workers;
}

static int size_slots(void)
{
	int want[NPOOLS] = { cfg.workers, cfg.upload_socket ? cfg.upload_workers : 0,
			     cfg.token_socket ? cfg.token_workers : 0 };

	for (int p = 0; p < NPOOLS; p++) {
		slots[p] = calloc((size_t)(want[p] ? want[p] : 1), sizeof(struct slot));
		if (!slots[p])
			return -1;
		nslots[p] = want[p];
		for (int i = 0; i < want[p]; i++) {
			slots[p][i].on = p != POOL_UPLOAD || i < upload_min();
			slots[p][i].sb = -1;
		}
	}
	return 0;
}

static int upload_dynamic(void)
{
	return nslots[POOL_UPLOAD] > upload_min();
}

/* The dynamic upload pool (php-fpm's "dynamic" mode): keep UPLOAD_SPARE
 * idle workers ready while fewer than upload_workers run, growing by a
 * quarter of the busy ones per tick so a wave of pushes is met within a few
 * ticks; an idle worker above upload_workers_min leaves after
 * upload_idle_timeout, one per tick.  Idle and busy come from the
 * scoreboard, which the workers keep. */
static void adjust_upload_pool(time_t now)
{
	struct slot *s = slots[POOL_UPLOAD], *oldest = NULL;
	int running = 0, idle = 0, grow;
	time_t since, oldest_since = now;

	if (!upload_dynamic())
		return;
	for (int i = 0; i < nslots[POOL_UPLOAD]; i++) {
		if (!s[i].on)
			continue;
		running++;
		if (!s[i].pid || sb_busy(s[i].sb, &since))
			continue; /* respawning, or busy */
		idle++;
		if (since <= oldest_since)
			oldest = &s[i], oldest_since = since;
	}
	if (idle < UPLOAD_SPARE && running < nslots[POOL_UPLOAD]) {
		grow = (running - idle) / 4 > 1 ? (running - idle) / 4 : 1;
		for (int i = 0; i < nslots[POOL_UPLOAD] && grow > 0; i++)
			if (!s[i].on && !s[i].pid) {
				s[i].on = 1;
				s[i].backoff = 0;
				s[i].respawn_at = 0;
				spawn(POOL_UPLOAD, &s[i]);
				grow--;
			}
		log_debug("upload pool: %d workers running, %d idle: growing", running, idle);
	} else if (idle > UPLOAD_SPARE && running > upload_min() && oldest &&
		   now - oldest_since >= cfg.upload_idle_timeout) {
		oldest->on = 0;
		kill(oldest->pid, SIGTERM); /* idle: it leaves at once; busy by now: after its request */
		log_debug("upload pool: worker %d idle for %ld s leaves", (int)oldest->pid,
			  (long)(now - oldest_since));
	}
}

/* Move every current worker to the retiring list (they are told to leave
 * once their replacements run). */
static void retire_generation(void)
{
	for (int p = 0; p < NPOOLS; p++) {
		for (int i = 0; i < nslots[p]; i++) {
			pid_t pid = slots[p][i].pid;
			if (!pid)
				continue;
			if (mem_grow(&retiring, &retiring_cap, nretiring + 1, sizeof(*retiring), 16,
				     "retiring workers")) {
				kill(pid, SIGTERM); /* cannot track it: let it go now */
				continue;
			}
			retiring[nretiring++] = pid;
		}
		free(slots[p]);
		slots[p] = NULL;
		nslots[p] = 0;
	}
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Sockets and the store stay as started: they would need a restart. */
static void keep_fixed(struct config *next)
{
	if (same(next->socket, cfg.socket) && same(next->upload_socket, cfg.upload_socket) &&
	    same(next->token_socket, cfg.token_socket) && same(next->store, cfg.store))
		return;
	log_warn("reload: socket and store changes need a restart; keeping the old ones");
	free(next->socket);
	free(next->upload_socket);
	free(next->token_socket);
	free(next->store);
	next->socket = cfg.socket ? strdup(cfg.socket) : NULL;
	next->upload_socket = cfg.upload_socket ? strdup(cfg.upload_socket) : NULL;
	next->token_socket = cfg.token_socket ? strdup(cfg.token_socket) : NULL;
	next->store = strdup(cfg.store);
}

static void reload(void)
{
	struct config next;
	size_t first = nretiring;

	if (config_load(&next, cfg.path)) {
		log_err("reload refused: %s; keeping the running configuration", berr_detail());
		return;
	}
	keep_fixed(&next);
	/* Before anything is swapped: a setting that cannot work must not
	 * replace one that does (it would only show at the next login). */
	if (auth_config_check(&next)) {
		log_err("reload refused: %s; keeping the running configuration", berr_detail());
		config_release(&next);
		return;
	}
	config_release(&cfg);
	cfg = next;
	log_set_level((enum log_level)cfg.log_level);
	store.upload_ttl = cfg.upload_ttl;
	store.direct_io = cfg.upload_direct_io;
	retire_generation();
	if (size_slots() < 0)
		log_err("reload: out of memory");
	spawn_due(time(NULL));
	for (size_t i = first; i < nretiring; i++)
		kill(retiring[i], SIGTERM);
	restart_directory();
	log_info("reloaded %s: %d api, %d upload and %d token workers", cfg.path,
		 nslots[POOL_API], nslots[POOL_UPLOAD], nslots[POOL_TOKEN]);
}

static void shutdown_pool(void)
{
	time_t deadline = time(NULL) + cfg.shutdown_timeout;

	notify_stopping();
	log_info("stopping: waiting for in-flight requests");
	signal_all(SIGTERM);
	if (sweeper)
		kill(sweeper, SIGTERM);
	while (running_workers() > 0 && time(NULL) < deadline) {
		wait_wake(200);
		reap();
	}
	stop_directory(directory);
	directory = 0;
	if (signer) {
		kill(signer, SIGTERM);
		waitpid(signer, NULL, 0);
		signer = 0;
	}
	if (running_workers() > 0) {
		log_warn("stopping: %d workers still busy after %ld s; killing them",
			 running_workers(), cfg.shutdown_timeout);
		signal_all(SIGKILL);
		while (running_workers() > 0 && waitpid(-1, NULL, 0) > 0)
			reap();
	}
	for (int p = 0; p < NPOOLS; p++)
		if (listen_fd[p] >= 0)
			close(listen_fd[p]);
	pool_unlisten(cfg.socket);
	pool_unlisten(cfg.upload_socket);
	pool_unlisten(cfg.token_socket);
	if (cfg.pidfile)
		unlink(cfg.pidfile);
	log_info("stopped");
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: berthd [-t] [--signer] -c FILE\n"
		"  -c FILE   configuration (see berth.conf)\n"
		"  -t        check the configuration and exit\n"
		"  --signer  run only the token signer, in the foreground (signer = external)\n");
}

static int start(void)
{
	/* What a predecessor killed without a chance to clean up left behind
	 * (pid file, sockets its finishing workers still hold): fcgi/listen.c */
	if (pool_takeover(&cfg)) {
		log_err("%s", berr_detail());
		return -1;
	}
	if (store_open(&store, cfg.store)) {
		log_err("store %s: %s", cfg.store, berr_detail());
		return -1;
	}
	store.upload_ttl = cfg.upload_ttl;
	store.direct_io = cfg.upload_direct_io;
	if (pool_listen(cfg.socket, cfg.backlog, cfg.socket_mode, &listen_fd[POOL_API]) ||
	    (cfg.upload_socket && pool_listen(cfg.upload_socket, cfg.backlog, cfg.socket_mode,
					      &listen_fd[POOL_UPLOAD])) ||
	    (cfg.token_socket && pool_listen(cfg.token_socket, cfg.backlog, cfg.socket_mode,
					     &listen_fd[POOL_TOKEN]))) {
		log_err("%s", berr_detail());
		return -1;
	}
	if (cfg.pidfile && write_pidfile(cfg.pidfile) < 0) {
		log_err("pidfile %s: %s", cfg.pidfile, strerror(errno));
		return -1;
	}
	if (sb_create() || metrics_create()) {
		log_err("start: %s", berr_detail());
		return -1;
	}
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0 || size_slots() < 0) {
		log_err("start: %s", strerror(errno));
		return -1;
	}
	if (start_signer() < 0)
		return -1;
	return start_directory();
}

/* One line that names the three pools, their sockets and sizes; a pool
 * without a socket of its own says who serves its requests. */
static void log_listening(void)
{
	const char *sock[NPOOLS] = { cfg.socket, cfg.upload_socket, cfg.token_socket };
	char part[NPOOLS][300];

	for (int p = 0; p < NPOOLS; p++) {
		if (sock[p] && p == POOL_UPLOAD && upload_dynamic())
			snprintf(part[p], sizeof(part[p]), "%s on %s (%d to %d workers)", pool_names[p],
				 sock[p], upload_min(), nslots[p]);
		else if (sock[p])
			snprintf(part[p], sizeof(part[p]), "%s on %s (%d workers)", pool_names[p],
				 sock[p], nslots[p]);
		else
			snprintf(part[p], sizeof(part[p]), "%s served by the api pool", pool_names[p]);
	}
	log_info("listening: %s, %s, %s; store %s", part[POOL_API], part[POOL_UPLOAD],
		 part[POOL_TOKEN], cfg.store);
}

/* berthd --signer: the signer alone, as its own service (berth-signer.service,
 * under an account of its own).  It reads signing_key and signer_socket
 * and nothing else: no store, no pool. */
static int run_signer(const char *path, int check_only)
{
	int rc = 1;

	log_set_name("berth-signer");
	if (config_load(&cfg, path)) {
		fprintf(stderr, "berthd: %s\n", berr_detail());
		return 1;
	}
	if (!cfg.signing_key) {
		fprintf(stderr, "berthd: %s: --signer needs \"signing_key\"\n", path);
	} else if (strcmp(cfg.signer, "external") != 0) {
		/* berthd would fork a signer of its own on the same socket */
		fprintf(stderr, "berthd: %s: --signer needs \"signer = external\"\n", path);
	} else if (check_only) {
		printf("berthd: %s is valid for the signer\n", path);
		rc = 0;
	} else {
		log_set_level((enum log_level)cfg.log_level);
		if (auth_signer_run(cfg.signing_key, cfg.signer_socket))
			log_err("token signer: %s", berr_detail());
		else
			rc = 0;
	}
	config_release(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "signer", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int opt, check_only = 0, signer_only = 0;

	log_set_name("berthd");
	while ((opt = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': check_only = 1; break;
		case 'S': signer_only = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	if (signer_only)
		return run_signer(path, check_only);
	/* A bad auth setting refuses the start as a syntax error would, so it
	 * is seen now and not as a 401 at the next login. */
	if (config_load(&cfg, path) || auth_config_check(&cfg)) {
		fprintf(stderr, "berthd: %s\n", berr_detail());
		return 1;
	}
	if (check_only) {
		printf("berthd: %s is valid\n", path);
		return 0;
	}
	log_set_level((enum log_level)cfg.log_level);
	signer_external = strcmp(cfg.signer, "external") == 0; /* a reload keeps it */
	master_signals();
	if (start() < 0)
		return 1;
	log_listening();
	spawn_due(time(NULL)); /* the pools are up: then tell systemd (Type=notify) */
	notify_ready("serving");
	while (!got_term) {
		if (got_hup) {
			got_hup = 0;
			notify_reloading();
			reload();
			notify_ready("serving"); /* also when the reload was refused */
		}
		if (got_usr1) {
			got_usr1 = 0;
			signal_all(SIGUSR1); /* each reopens between requests (util/audit.h) */
		}
		reap();
		start_signer();
		start_directory();
		spawn_due(time(NULL));
		adjust_upload_pool(time(NULL));
		maybe_sweep(time(NULL));
		policy_audit_tick(&policy_audit, &cfg, time(NULL));
		wait_wake(upload_dynamic() ? DYNAMIC_TICK_MS : TICK_MS);
	}
	shutdown_pool();
	store_close(&store);
	config_release(&cfg);
	return 0;
}
