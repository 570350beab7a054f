/*
 * health.h - can the store take a push right now?  What /readyz asks of
 * the store (fcgi/h_health.c), apart from the HTTP.
 *
 * A load balancer asks every few seconds, on every host of a pool, so the
 * probe is cheap and touches nothing a push relies on: one statvfs() of the
 * store's filesystem and one small file created, written and removed in
 * tmp/, the directory where every publish begins.  A read-only remount, a
 * lost NFS mount, wrong ownership and a disk with no room left fail the
 * probe as they would fail a push.  Nothing is fsynced: the probe asks
 * whether a write is accepted, not whether it survives a crash, and an
 * fsync per probe would cost every other writer on the filesystem.  A probe
 * file left by a worker killed between create and unlink is an ordinary
 * stale temporary: the sweeper removes it (store/upload.c).
 *
 * "Full" has a floor below which the store counts as full even though a
 * byte still fits: pushes are layers, and a store with a few KiB left
 * answers every push with 507.  The floor is the smaller of
 * STORE_PROBE_FREE_BYTES and STORE_PROBE_FREE_PERCENT of the filesystem,
 * so a small test filesystem is not "full" when empty and a large one
 * keeps room for a layer.  No inode left is full as well.
 *
 * Failures are answers, not errors: the probe records its detail with
 * berr_set() and logs nothing (the caller runs it in an error context of
 * its own, util/err.h).  The detail names what failed relative to the
 * store ("tmp/"), never the store's absolute path, because /readyz is
 * unauthenticated.
 */
#ifndef BERTH_STORE_HEALTH_H
#define BERTH_STORE_HEALTH_H

#include <stdint.h>

#include "util/err.h"

struct store;

#define STORE_PROBE_FREE_BYTES (64ull << 20)  /* 64 MiB ... */
#define STORE_PROBE_FREE_PERCENT 1            /* ... or 1 % of a smaller filesystem */

/* The free space the store must have on a filesystem of `total` bytes. */
uint64_t store_probe_floor(uint64_t total);

/* BERR_OK when a small file can be created, written and removed in tmp/
 * and the filesystem is above the floor; BERR_STORAGE_FULL with detail
 * "full (12 KiB free of 16 MiB, at least 164 KiB needed)" or "full (no
 * inode left)"; BERR_INTERNAL with "not writable (tmp/: Read-only file
 * system)" or the like. */
enum berr store_probe_writable(struct store *s);

#endif
