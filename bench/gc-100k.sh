#!/bin/sh
# bench/gc-100k.sh - how long `berthctl gc` takes on a store of 100,000 blobs.
#
# Builds a store directly on disk (no server): N blobs (default 100000) of a
# few bytes each, half of them referenced by manifests (REPOS repositories,
# each with manifests of 250 layers, tagged), the other half unreferenced
# and two hours old.  Then times three runs and prints the figures (nothing
# is asserted):
#   1. gc --dry-run       (mark + look at every blob, remove nothing)
#   2. gc                 (removes the unreferenced half)
#   3. gc                 (again: nothing left to remove)
# and the collector's peak memory (from /usr/bin/time when present).
#
#   sh bench/gc-100k.sh [N]     BUILD=build  BERTHCTL=path/to/berthctl  TMPDIR
set -eu

N=${1:-100000}
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
BERTHCTL=${BERTHCTL:-$BUILD/berthctl}
[ -x "$BERTHCTL" ] || { echo "gc-100k: $BERTHCTL not built (make)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "gc-100k: needs python3 to build the store" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-gc-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
printf 'store = %s/store\n' "$dir" >"$dir/berth.conf"

t0=$(date +%s.%N)
python3 - "$dir/store" "$N" <<'PY'
import hashlib, json, os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
MT = "application/vnd.oci.image.manifest.v1+json"
old = time.time() - 7200
def put(data):
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(root, "blobs", "sha256", h[:2])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)
    return h
def link(repo, kind, h, content=b""):
    d = os.path.join(root, "repos", repo, kind, "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h), "wb") as f:
        f.write(content)
cfg = put(b"{}")
per, layers, m = 250, [], 0
repos = 20
for i in range(n):
    h = put(b"blob %d" % i)
    if i % 2:
        os.utime(os.path.join(root, "blobs", "sha256", h[:2], h), (old, old))
        continue
    layers.append(h)
    if len(layers) == per or i >= n - 2:
        repo = "bench/r%d" % (m % repos)
        link(repo, "_blobs", cfg)
        for l in layers:
            link(repo, "_blobs", l)
        doc = json.dumps({"schemaVersion": 2, "mediaType": MT,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + cfg, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": "sha256:" + l, "size": 1} for l in layers]}).encode()
        mh = put(doc)
        link(repo, "_manifests", mh, MT.encode())
        os.makedirs(os.path.join(root, "repos", repo, "_tags"), exist_ok=True)
        with open(os.path.join(root, "repos", repo, "_tags", "t%d" % m), "w") as f:
            f.write("sha256:%s\n" % mh)
        layers, m = [], m + 1
print("gc-100k: store of %d blobs (+%d manifests in %d repositories) built" % (n, m, repos))
PY
t1=$(date +%s.%N)
echo "gc-100k: building took $(echo "$t1 - $t0" | bc) s"

run() {
	label=$1; shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e s elapsed, %M KiB peak RSS' -o "$dir/time" \
			"$BERTHCTL" -c "$dir/berth.conf" gc "$@" >"$dir/out" 2>&1 || { cat "$dir/out"; exit 1; }
		echo "gc-100k: $label: $(cat "$dir/time")"
	else
		"$BERTHCTL" -c "$dir/berth.conf" gc "$@" >"$dir/out" 2>&1 || { cat "$dir/out"; exit 1; }
	fi
	sed 's/^/    /' "$dir/out" | grep -v '^    \(would remove\|removed\) ' || true
}
run "gc --dry-run" --dry-run
run "gc (removes half)"
run "gc (nothing left)"
