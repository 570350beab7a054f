#!/usr/bin/env python3
"""soak-load.py - the load generator and chaos of `make soak` (bench/soak.sh).

N client threads, each owning its own repositories (soak/cK/app0..2), loop
over weighted operations against the real stack (nginx + TLS + berthd, token
auth) for --duration seconds:

  push     1-2 layers, each by one of three methods - monolithic POST
           ?digest=, chunked PATCHes with Content-Range + Content-Length,
           docker-style streamed PATCH (Transfer-Encoding: chunked, no
           Content-Length) - then the config (monolithic) and the manifest
           by a new tag.  Acknowledged (manifest PUT 201) pushes go into the
           ledger: repository, tag, digest, manifest bytes, and each blob's
           seed and size (its bytes are regenerated from the seed, never kept);
  pull     manifest by tag, a blob by Range (206, the exact slice) or whole;
  get      manifest by digest (GET or HEAD), blob HEAD;
  tags     tags/list: every ledger tag, nothing beyond ledger + in doubt;
  delete   a manifest by digest (202), then GET by digest and tag: 404
           (a push becomes a delete while the client holds --ledger-cap
           entries, so the store stays bounded over an hour);
  login    GET /token with Basic, POST form password grant, POST form
           refresh_token grant, and a wrong password (401 or 429).

One chaos thread runs `berthctl gc --grace 1m` every --gc-every seconds and
SIGKILLs a random FastCGI worker (api, upload or token pool; every other
time one that is mid-upload, when there is one) every --kill-every seconds,
and samples the pool's memory.

Every answer is checked (status, headers, bytes).  A request that fails with
a connection error, 502 or 504 while a kill happened during it (1 s of slack
before, 3 s after) counts as "expected under kill": its operation stops
there, and a manifest PUT or DELETE so interrupted puts that tag "in doubt"
(it may or may not have happened).  Everything else that differs from the
expected answer is an unexpected error.  At the end every ledger entry is
pulled again (manifest by tag and digest, every blob whole) and compared
byte for byte.  The result is one JSON document on --out.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
KILL_SLACK_BEFORE, KILL_SLACK_AFTER = 1.0, 3.0
KILL_STATUSES = (0, 502, 504)


class Unexpected(Exception):
    """An answer that differs from what it should be."""


class UnderKill(Exception):
    """A request that failed because a worker was killed during it."""


class Stats:
    """Counters shared by every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok, self.under_kill, self.unexpected = {}, {}, {}
        self.errors = []          # the first unexpected errors, in detail
        self.kill_notes = []      # the first failures under a kill, in detail
        self.kills = []           # monotonic times of kills
        self.events = []          # gc runs and kills, for the report
        self.requests = 0

    def count(self, table, op):
        with self.lock:
            table[op] = table.get(op, 0) + 1

    def error(self, op, msg):
        self.count(self.unexpected, op)
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append("%s %s: %s" % (time.strftime("%H:%M:%S"), op, msg))
        print("soak: UNEXPECTED %s: %s" % (op, msg), file=sys.stderr, flush=True)

    def killed_during(self, t0, t1):
        with self.lock:
            return any(t0 - KILL_SLACK_BEFORE <= k <= t1 + KILL_SLACK_AFTER for k in self.kills)


def blob_bytes(seed, size):
    return random.Random(seed).randbytes(size)


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Client:
    """One connection (kept alive, reopened after a failure) and its checks."""

    def __init__(self, args, stats, ident):
        self.args, self.stats, self.ident = args, stats, ident
        u = urllib.parse.urlsplit(args.url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=args.cacert)
        self.conn, self.token, self.token_at, self.refresh = None, None, 0.0, None
        self.repos = ["soak/c%d/app%d" % (ident, i) for i in range(3)]

    def _connect(self):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                    timeout=self.args.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _send(self, method, path, body, headers, chunked):
        conn = self._connect()
        conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
        r = conn.getresponse()
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def request(self, method, path, body=None, headers=None, auth=True, chunks=None):
        """One request; (status, headers, body).  Raises UnderKill for a
        failure that a worker kill explains, Unexpected for any other
        transport failure."""
        h = dict(headers or {})
        if auth and self.token:
            h["Authorization"] = "Bearer " + self.token
        for attempt in (0, 1):
            reused = self.conn is not None
            payload = iter(chunks) if chunks is not None else body
            if chunks is not None:
                h["Transfer-Encoding"] = "chunked"
            t0 = time.monotonic()
            try:
                with self.stats.lock:
                    self.stats.requests += 1
                st, hd, data = self._send(method, path, payload, h, chunks is not None)
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # a kept-alive connection the server closed meanwhile: once more
                if attempt == 0 and reused and isinstance(
                        e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    continue
                if self.stats.killed_during(t0, time.monotonic()):
                    raise UnderKill("%s %s: %s" % (method, path, e))
                raise Unexpected("%s %s: %s: %s" % (method, path, type(e).__name__, e))
            if st in KILL_STATUSES and self.stats.killed_during(t0, time.monotonic()):
                raise UnderKill("%s %s: %d" % (method, path, st))
            return st, hd, data
        raise Unexpected("unreachable")

    def expect(self, want, method, path, **kw):
        st, hd, data = self.request(method, path, **kw)
        if st != want:
            raise Unexpected("%s %s: status %d, want %d: %s" % (method, path, st, want, data[:200]))
        return hd, data

    # ------------------------------------------------------------ logins

    def _scopes(self):
        return ["repository:%s:pull,push,delete" % r for r in self.repos]

    def _take_token(self, data, how):
        try:
            doc = json.loads(data)
        except ValueError:
            raise Unexpected("%s: answer is not JSON: %r" % (how, data[:200]))
        tok = doc.get("token")
        if not tok or doc.get("access_token") != tok or not isinstance(doc.get("expires_in"), int):
            raise Unexpected("%s: no token/access_token/expires_in: %r" % (how, data[:200]))
        self.token, self.token_at = tok, time.monotonic()
        if doc.get("refresh_token"):
            self.refresh = doc["refresh_token"]

    def login_basic(self, password=None):
        # wrong passwords go to an account of their own: the delays they earn
        # (auth/ratelimit.h) must not slow the logins of the load itself
        user = self.args.user if password is None else self.args.wrong_user
        pw = self.args.password if password is None else password
        cred = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
        q = urllib.parse.urlencode([("service", "berth"), ("offline_token", "true")] +
                                   [("scope", s) for s in self._scopes()])
        st, hd, data = self.request("GET", "/token?" + q, auth=False,
                                    headers={"Authorization": "Basic " + cred})
        if password is not None:     # a wrong one
            if st not in (401, 429):
                raise Unexpected("wrong password: status %d, want 401 or 429" % st)
            if st == 429 and not hd.get("retry-after"):
                raise Unexpected("wrong password: 429 without Retry-After")
            return
        if st != 200:
            raise Unexpected("GET /token (Basic): status %d: %r" % (st, data[:200]))
        if "no-store" not in hd.get("cache-control", ""):
            raise Unexpected("GET /token: no Cache-Control: no-store")
        self._take_token(data, "GET /token")

    def login_form(self, grant):
        f = [("grant_type", grant), ("service", "berth"), ("client_id", "soak")]
        if grant == "password":
            f += [("username", self.args.user), ("password", self.args.password),
                  ("access_type", "offline")]
        else:
            f += [("refresh_token", self.refresh)]
        f += [("scope", s) for s in self._scopes()]
        st, hd, data = self.request("POST", "/token", body=urllib.parse.urlencode(f), auth=False,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        if st != 200:
            raise Unexpected("POST /token (%s): status %d: %r" % (grant, st, data[:200]))
        self._take_token(data, "POST /token (%s)" % grant)

    def ensure_token(self):
        if self.token is None or time.monotonic() - self.token_at > self.args.token_ttl / 2:
            self.login_basic()

    def op_login(self, rng):
        kind = rng.choice(["basic", "basic", "password", "refresh", "wrong"])
        if kind == "basic":
            self.login_basic()
        elif kind == "password" or (kind == "refresh" and not self.refresh):
            self.login_form("password")
        elif kind == "refresh":
            self.login_form("refresh_token")
        else:
            self.login_basic(password="not-the-password-%d" % rng.randrange(1000))
        return "login-" + kind

    # ------------------------------------------------------------ pushes

    @staticmethod
    def _path(location):
        if not location:
            raise Unexpected("no Location header")
        u = urllib.parse.urlsplit(location)
        return u.path + ("?" + u.query if u.query else "")

    @staticmethod
    def _with_digest(path, digest):
        return path + ("&" if "?" in path else "?") + "digest=" + digest

    def _check_digest(self, hd, digest, what):
        if hd.get("docker-content-digest") != digest:
            raise Unexpected("%s: Docker-Content-Digest %r, want %s" %
                             (what, hd.get("docker-content-digest"), digest))

    def push_mono(self, repo, data, digest):
        hd, _ = self.expect(201, "POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, digest),
                            body=data, headers={"Content-Type": "application/octet-stream"})
        self._check_digest(hd, digest, "monolithic POST")
        self._path(hd.get("location"))

    def _session(self, repo):
        hd, _ = self.expect(202, "POST", "/v2/%s/blobs/uploads/" % repo)
        return self._path(hd.get("location"))

    def _finish(self, loc, digest, what):
        hd, _ = self.expect(201, "PUT", self._with_digest(loc, digest), body=b"",
                            headers={"Content-Type": "application/octet-stream"})
        self._check_digest(hd, digest, what)

    def push_chunked(self, repo, data, digest, rng):
        loc, off = self._session(repo), 0
        while off < len(data):
            n = min(len(data) - off, rng.randrange(256 << 10, 1 << 20))
            hd, _ = self.expect(202, "PATCH", loc, body=data[off:off + n], headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": "%d-%d" % (off, off + n - 1)})
            off += n
            if hd.get("range") != "0-%d" % (off - 1):
                raise Unexpected("chunked PATCH: Range %r, want 0-%d" % (hd.get("range"), off - 1))
            loc = self._path(hd.get("location"))
        self._finish(loc, digest, "chunked PUT")

    def push_stream(self, repo, data, digest, rng):
        loc = self._session(repo)
        step = rng.choice([16 << 10, 64 << 10, 1 << 20])
        chunks = [data[i:i + step] for i in range(0, len(data), step)]
        hd, _ = self.expect(202, "PATCH", loc, chunks=chunks,
                            headers={"Content-Type": "application/octet-stream"})
        if hd.get("range") != "0-%d" % (len(data) - 1):
            raise Unexpected("streamed PATCH: Range %r, want 0-%d" % (hd.get("range"), len(data) - 1))
        self._finish(self._path(hd.get("location")), digest, "streamed PUT")

    def op_push(self, rng):
        repo = rng.choice(self.repos)
        tag = "t%d-%d" % (self.ident, self.next_tag)
        self.next_tag += 1
        methods, blobs = [], []
        for _ in range(rng.choice([1, 1, 2])):
            size = rng.choice([rng.randrange(1, 64 << 10), rng.randrange(64 << 10, self.args.max_layer)])
            seed = rng.getrandbits(62)
            data = blob_bytes(seed, size)
            d = sha256(data)
            m = rng.choice(["mono", "chunked", "stream"])
            methods.append(m)
            if m == "mono":
                self.push_mono(repo, data, d)
            elif m == "chunked":
                self.push_chunked(repo, data, d, rng)
            else:
                self.push_stream(repo, data, d, rng)
            blobs.append({"digest": d, "seed": seed, "size": size})
        config = json.dumps({"architecture": "amd64", "os": "linux", "soak": "%s:%s" % (repo, tag),
                             "rootfs": {"type": "layers", "diff_ids": [b["digest"] for b in blobs]}},
                            sort_keys=True).encode()
        cd = sha256(config)
        self.push_mono(repo, config, cd)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                               "config": {"mediaType": MT_CONFIG, "size": len(config), "digest": cd},
                               "layers": [{"mediaType": MT_LAYER, "size": b["size"],
                                           "digest": b["digest"]} for b in blobs]},
                              indent=1).encode()
        md = sha256(manifest)
        try:
            hd, _ = self.expect(201, "PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest,
                                headers={"Content-Type": MT_MANIFEST})
        except UnderKill:
            self.doubt.setdefault(repo, set()).add(tag)
            raise
        self._check_digest(hd, md, "manifest PUT")
        self.ledger.setdefault(repo, {})[tag] = {
            "repo": repo, "tag": tag, "digest": md, "manifest": manifest.decode(),
            "config": config.decode(), "config_digest": cd, "blobs": blobs}
        return "push-" + "+".join(methods)

    # ------------------------------------------------------------ pulls

    def _pick(self, rng):
        entries = [e for r in self.repos for e in self.ledger.get(r, {}).values()]
        return rng.choice(entries) if entries else None

    def get_manifest(self, e, ref, head=False):
        hd, data = self.expect(200, "HEAD" if head else "GET",
                               "/v2/%s/manifests/%s" % (e["repo"], ref),
                               headers={"Accept": MT_MANIFEST})
        self._check_digest(hd, e["digest"], "manifest %s" % ref)
        if hd.get("content-type") != MT_MANIFEST:
            raise Unexpected("manifest %s: Content-Type %r" % (ref, hd.get("content-type")))
        if not head and data != e["manifest"].encode():
            raise Unexpected("manifest %s:%s: bytes differ from the pushed ones" % (e["repo"], ref))
        if head and hd.get("content-length") != str(len(e["manifest"].encode())):
            raise Unexpected("HEAD manifest: Content-Length %r" % hd.get("content-length"))

    def get_blob(self, e, b, rng=None):
        data = blob_bytes(b["seed"], b["size"])
        path = "/v2/%s/blobs/%s" % (e["repo"], b["digest"])
        if rng is None or b["size"] < 2:
            _, got = self.expect(200, "GET", path)
            if got != data:
                raise Unexpected("blob %s: %d bytes differ from the %d pushed" % (b["digest"], len(got), len(data)))
            return
        a = rng.randrange(b["size"])
        z = rng.randrange(a, b["size"])
        hd, got = self.expect(206, "GET", path, headers={"Range": "bytes=%d-%d" % (a, z)})
        if got != data[a:z + 1]:
            raise Unexpected("blob %s range %d-%d: bytes differ" % (b["digest"], a, z))
        if hd.get("content-range") != "bytes %d-%d/%d" % (a, z, b["size"]):
            raise Unexpected("blob range: Content-Range %r" % hd.get("content-range"))

    def op_pull(self, rng):
        e = self._pick(rng)
        if e is None:
            return None
        self.get_manifest(e, e["tag"])
        b = rng.choice(e["blobs"])
        if rng.random() < 0.7:
            self.get_blob(e, b, rng)
            return "pull-range"
        self.get_blob(e, b)
        return "pull-whole"

    def op_get(self, rng):
        e = self._pick(rng)
        if e is None:
            return None
        self.get_manifest(e, e["digest"], head=rng.random() < 0.5)
        b = rng.choice(e["blobs"])
        hd, _ = self.expect(200, "HEAD", "/v2/%s/blobs/%s" % (e["repo"], b["digest"]))
        if hd.get("content-length") != str(b["size"]):
            raise Unexpected("HEAD blob: Content-Length %r, want %d" % (hd.get("content-length"), b["size"]))
        self._check_digest(hd, b["digest"], "HEAD blob")
        return "get-digest"

    def check_tags(self, repo):
        want = set(self.ledger.get(repo, {}))
        st, _, data = self.request("GET", "/v2/%s/tags/list" % repo)
        if st == 404 and not want:
            return
        if st != 200:
            raise Unexpected("tags/list %s: status %d" % (repo, st))
        doc = json.loads(data)
        got = set(doc.get("tags") or [])
        if doc.get("name") != repo or not want <= got or not got <= want | self.doubt.get(repo, set()):
            raise Unexpected("tags/list %s: missing %s, extra %s" % (
                repo, sorted(want - got)[:5], sorted(got - want - self.doubt.get(repo, set()))[:5]))

    def op_tags(self, rng):
        self.check_tags(rng.choice(self.repos))
        return "tags-list"

    def op_delete(self, rng):
        e = self._pick(rng)
        if e is None or sum(len(v) for v in self.ledger.values()) < 4:
            return None
        del self.ledger[e["repo"]][e["tag"]]
        try:
            self.expect(202, "DELETE", "/v2/%s/manifests/%s" % (e["repo"], e["digest"]))
        except UnderKill:
            self.doubt.setdefault(e["repo"], set()).add(e["tag"])
            raise
        for ref in (e["digest"], e["tag"]):
            st, _, data = self.request("GET", "/v2/%s/manifests/%s" % (e["repo"], ref),
                                       headers={"Accept": MT_MANIFEST})
            if st != 404 or b"MANIFEST_UNKNOWN" not in data:
                raise Unexpected("GET %s after DELETE: status %d %r" % (ref, st, data[:120]))
        self.deleted += 1
        return "delete"

    # ------------------------------------------------------------ the loop

    OPS = [("push", 25), ("pull", 30), ("get", 12), ("tags", 10), ("delete", 8), ("login", 15)]

    def run(self, deadline):
        rng = random.Random(self.args.seed * 1000 + self.ident)
        names = [o for o, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        while time.monotonic() < deadline:
            op = rng.choices(names, weights)[0]
            # the store stays bounded: past the cap, a push becomes a delete
            if op == "push" and sum(len(v) for v in self.ledger.values()) >= self.args.ledger_cap:
                op = "delete"
            try:
                self.ensure_token()
                label = getattr(self, "op_" + op)(rng)
                if label:
                    self.stats.count(self.stats.ok, label)
            except UnderKill as e:
                self.stats.count(self.stats.under_kill, op)
                with self.stats.lock:
                    if len(self.stats.kill_notes) < 50:
                        self.stats.kill_notes.append("%s %s: %s" % (time.strftime("%H:%M:%S"), op, e))
            except Unexpected as e:
                self.stats.error(op, str(e))
            except Exception as e:  # a bug here, or an answer it cannot read
                self.stats.error(op, "%s: %s" % (type(e).__name__, e))

    def verify(self):
        """Every ledger entry, after the load: manifest by tag and digest, every
        blob whole, byte for byte; tags/list of every repository."""
        n = 0
        self.ensure_token()
        for repo in self.repos:
            self.check_tags(repo)
            for e in self.ledger.get(repo, {}).values():
                self.get_manifest(e, e["tag"])
                self.get_manifest(e, e["digest"])
                _, got = self.expect(200, "GET", "/v2/%s/blobs/%s" % (repo, e["config_digest"]))
                if got != e["config"].encode():
                    raise Unexpected("config of %s:%s differs" % (repo, e["tag"]))
                for b in e["blobs"]:
                    self.get_blob(e, b)
                n += 1
        return n


# ---------------------------------------------------------------- chaos

def pool_workers(master, sockets):
    """PIDs of the FastCGI workers: descendants of the master that hold one
    of the pools' listening sockets."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] in sockets:
                inodes.add("socket:[%s]" % parts[6])
    found = []
    for pid in descendants(master):
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
            if any(os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes for fd in fds):
                found.append(pid)
        except OSError:
            continue
    return found


def busy_uploaders(workers, store):
    """The workers that hold a file of an upload session open: mid-upload."""
    busy = []
    for pid in workers:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
            if any(os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(store + "/uploads/")
                   for fd in fds):
                busy.append(pid)
        except OSError:
            continue
    return busy


def descendants(master):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [master]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def pool_memory(master):
    """(processes, RSS KiB, PSS KiB) of the master and every descendant."""
    n = rss = pss = 0
    for pid in [master] + descendants(master):
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
            n += 1
        except OSError:
            continue
    return n, rss, pss


def chaos(args, stats, deadline):
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    next_gc, next_kill, next_mem = t0 + args.gc_every, t0 + args.kill_every, t0
    samples = []
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_mem:
            samples.append((round(now - t0), ) + pool_memory(args.master_pid))
            next_mem = now + 30
        if now >= next_kill:
            workers = pool_workers(args.master_pid, args.sockets.split(","))
            # every other kill hits an upload in flight when there is one
            busy = busy_uploaders(workers, args.store) if len(stats.kills) % 2 else []
            if workers:
                victim = rng.choice(busy or workers)
                with stats.lock:
                    stats.kills.append(time.monotonic())
                try:
                    os.kill(victim, signal.SIGKILL)
                    stats.events.append("%4ds kill worker %d (of %d%s)" % (
                        now - t0, victim, len(workers), ", mid-upload" if busy else ""))
                except OSError as e:
                    stats.events.append("%4ds kill %d: %s" % (now - t0, victim, e))
            next_kill = now + args.kill_every
        if now >= next_gc:
            g0 = time.monotonic()
            p = subprocess.run([args.berthctl, "-c", args.conf, "gc", "--grace", "1m"],
                               capture_output=True, text=True)
            line = ([ln for ln in p.stdout.splitlines() if ln.startswith("blobs:")] or [""])[0]
            stats.events.append("%4ds gc exit %d in %.1fs: %s" % (now - t0, p.returncode,
                                                                  time.monotonic() - g0, line))
            if p.returncode != 0:
                stats.error("gc", "berthctl gc exit %d: %s" % (p.returncode, p.stderr.strip()[:300]))
            next_gc = time.monotonic() + args.gc_every
        time.sleep(0.2)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for opt, typ, dflt in [("url", str, None), ("cacert", str, None), ("user", str, "soak"),
                           ("password", str, None), ("wrong-user", str, "soak-wrong"),
                           ("duration", float, 3600), ("clients", int, 6), ("seed", int, 1),
                           ("master-pid", int, None), ("sockets", str, None),
                           ("berthctl", str, None), ("conf", str, None), ("store", str, None),
                           ("gc-every", float, 180), ("kill-every", float, 120),
                           ("max-layer", int, 4 << 20), ("ledger-cap", int, 40), ("timeout", float, 120),
                           ("token-ttl", float, 300), ("out", str, None), ("ledger", str, None)]:
        ap.add_argument("--" + opt, type=typ, default=dflt, required=dflt is None)
    args = ap.parse_args()
    stats = Stats()
    clients = [Client(args, stats, k) for k in range(args.clients)]
    for c in clients:
        c.ledger, c.doubt, c.next_tag, c.deleted = {}, {}, 0, 0
    t0 = time.monotonic()
    deadline = t0 + args.duration
    threads = [threading.Thread(target=c.run, args=(deadline,)) for c in clients]
    for t in threads:
        t.start()
    samples = chaos(args, stats, deadline)
    for t in threads:
        t.join()
    load_secs = time.monotonic() - t0
    verified = 0
    for c in clients:
        c.close()
        try:
            verified += c.verify()
        except (Unexpected, UnderKill) as e:
            stats.error("verify", str(e))
    ledger = [e for c in clients for r in c.ledger.values() for e in r.values()]
    with open(args.ledger, "w") as f:
        json.dump(ledger, f)
    doc = {"load_seconds": round(load_secs), "requests": stats.requests, "ok": stats.ok,
           "under_kill": stats.under_kill, "unexpected": stats.unexpected,
           "errors": stats.errors, "kill_notes": stats.kill_notes, "events": stats.events, "memory": samples,
           "ledger": len(ledger), "verified": verified,
           "ledger_blobs": sum(len(e["blobs"]) + 1 for e in ledger),
           "ledger_bytes": sum(sum(b["size"] for b in e["blobs"]) for e in ledger),
           "deleted": sum(c.deleted for c in clients),
           "in_doubt": sum(len(v) for c in clients for v in c.doubt.values())}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    return 1 if stats.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
