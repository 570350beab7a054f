/*
 * scoreboard.c - the shared worker table (scoreboard.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fcgi/scoreboard.h"

struct sb_entry {
	pid_t pid;       /* master: 0 = free */
	int pool;        /* master */
	int busy;        /* worker */
	int claimed;     /* worker: addr/user below are a live claim */
	time_t since;    /* worker: when busy last changed */
	char addr[SB_ADDR_MAX];
	char user[SB_USER_MAX];
};

static struct sb_entry *sb;
static int self = -1;

enum berr sb_create(void)
{
	void *p;

	if (sb)
		return BERR_OK;
	p = mmap(NULL, SB_ENTRIES * sizeof(*sb), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return berr_sys("cannot map", "the scoreboard");
	sb = p;
	return BERR_OK;
}

int sb_reserve(void)
{
	if (!sb)
		return -1;
	for (int i = 0; i < SB_ENTRIES; i++)
		if (!__atomic_load_n(&sb[i].pid, __ATOMIC_ACQUIRE)) {
			sb[i].busy = 0;
			sb[i].claimed = 0;
			sb[i].since = time(NULL);
			return i;
		}
	return -1;
}

void sb_bind(int idx, pid_t pid, int pool)
{
	if (!sb || idx < 0 || idx >= SB_ENTRIES)
		return;
	sb[idx].pool = pool;
	__atomic_store_n(&sb[idx].pid, pid, __ATOMIC_RELEASE);
}

void sb_release_pid(pid_t pid)
{
	if (!sb || pid <= 0)
		return;
	for (int i = 0; i < SB_ENTRIES; i++)
		if (sb[i].pid == pid) {
			__atomic_store_n(&sb[i].claimed, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&sb[i].busy, 0, __ATOMIC_RELEASE);
			sb[i].pool = 0;
			__atomic_store_n(&sb[i].pid, 0, __ATOMIC_RELEASE);
			return;
		}
}

int sb_busy(int idx, time_t *since)
{
	if (!sb || idx < 0 || idx >= SB_ENTRIES) {
		*since = 0;
		return 0;
	}
	*since = __atomic_load_n(&sb[idx].since, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&sb[idx].busy, __ATOMIC_ACQUIRE);
}

void sb_count(int pool, int *busy, int *idle)
{
	*busy = *idle = 0;
	for (int i = 0; sb && i < SB_ENTRIES; i++) {
		if (!__atomic_load_n(&sb[i].pid, __ATOMIC_ACQUIRE) || sb[i].pool != pool)
			continue;
		if (__atomic_load_n(&sb[i].busy, __ATOMIC_ACQUIRE))
			(*busy)++;
		else
			(*idle)++;
	}
}

void sb_self(int idx, int pool)
{
	if (!sb || idx < 0 || idx >= SB_ENTRIES)
		return;
	self = idx;
	sb[idx].pool = pool; /* the same value sb_bind() writes, maybe later */
}

void sb_set_busy(int busy)
{
	if (!sb || self < 0)
		return;
	__atomic_store_n(&sb[self].since, time(NULL), __ATOMIC_RELEASE);
	__atomic_store_n(&sb[self].busy, busy, __ATOMIC_RELEASE);
}

/* Copy at most max-1 bytes of s, always terminated. */
static void put(char *dst, size_t max, const char *s)
{
	size_t n = s ? strnlen(s, max - 1) : 0;

	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Claims other than ours on `pool` by the same address / the same user. */
static void count_claims(int pool, const char *addr, const char *user, int *by_addr,
			 int *by_user)
{
	*by_addr = *by_user = 0;
	for (int i = 0; i < SB_ENTRIES; i++) {
		if (i == self || !__atomic_load_n(&sb[i].pid, __ATOMIC_ACQUIRE) ||
		    sb[i].pool != pool || !__atomic_load_n(&sb[i].claimed, __ATOMIC_ACQUIRE))
			continue;
		if (addr[0] && strncmp(sb[i].addr, addr, SB_ADDR_MAX) == 0)
			(*by_addr)++;
		if (user[0] && strncmp(sb[i].user, user, SB_USER_MAX) == 0)
			(*by_user)++;
	}
}

enum berr sb_claim(const char *addr, const char *user, int limit)
{
	struct sb_entry *e;
	int by_addr, by_user;

	if (!sb || self < 0 || limit <= 0)
		return BERR_OK;
	e = &sb[self];
	put(e->addr, sizeof(e->addr), addr);
	put(e->user, sizeof(e->user), user);
	/* Publish first, then count: of two claims racing for the last place
	 * each sees the other, so both may be refused but never both let in. */
	__atomic_store_n(&e->claimed, 1, __ATOMIC_SEQ_CST);
	count_claims(e->pool, e->addr, e->user, &by_addr, &by_user);
	if (by_addr >= limit) {
		sb_unclaim();
		return berr_set(BERR_TOOMANYREQUESTS,
				"%d uploads from %s are in progress, the most one address may run at once (upload_client_workers); retry later",
				by_addr, e->addr);
	}
	if (by_user >= limit) {
		sb_unclaim();
		return berr_set(BERR_TOOMANYREQUESTS,
				"%d uploads by %s are in progress, the most one user may run at once (upload_client_workers); retry later",
				by_user, e->user);
	}
	return BERR_OK;
}

void sb_unclaim(void)
{
	if (!sb || self < 0)
		return;
	__atomic_store_n(&sb[self].claimed, 0, __ATOMIC_SEQ_CST);
}
