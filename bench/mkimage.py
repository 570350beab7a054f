#!/usr/bin/env python3
"""mkimage.py OUT COUNT LAYERS BYTES - COUNT OCI image layouts for skopeo.

Writes OUT/img1 .. OUT/imgCOUNT, each an OCI image layout (skopeo's
oci:DIR:latest) of LAYERS gzip'd layers of BYTES random bytes each, a config
and an OCI manifest.  Every layer is unique, so no push can skip or mount a
blob another push already sent.  The gzip streams use stored (level 0)
deflate blocks: valid gzip that skopeo passes through as is, made without
spending the benchmark's time compressing incompressible bytes.
"""
import hashlib
import json
import os
import sys
import zlib

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def put(blobs, data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


def image(path, nlayers, size):
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)
    layers, diff_ids = [], []
    for _ in range(nlayers):
        raw = os.urandom(size)
        z = zlib.compressobj(0, zlib.DEFLATED, 31)
        gz = z.compress(raw) + z.flush()
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        layers.append(dict(mediaType=MT_LAYER, **put(blobs, gz)))
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": dict(mediaType=MT_CONFIG, **put(blobs, config)),
        "layers": layers,
    }).encode()
    desc = dict(mediaType=MT_MANIFEST, **put(blobs, manifest))
    desc["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.splitlines()[0])
    out, count, nlayers, size = sys.argv[1], *map(int, sys.argv[2:])
    for i in range(1, count + 1):
        image(os.path.join(out, "img%d" % i), nlayers, size)


if __name__ == "__main__":
    main()
