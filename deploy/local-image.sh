#!/usr/bin/env bash
# The slipway image for the local cluster (scripts/local-kubernetes.sh), made without any registry download:
# one layer from scratch holding Node and this machine's haproxy binary with the shared libraries ldd names,
# the static busybox as /bin/sh, this checkout and its node_modules, pushed to the cluster's registry.
#
#   deploy/local-image.sh [repository]   # default 127.0.0.1:15000/slipway; prints the image reference
#
# The tag is the start of the layer's digest, so that a changed checkout changes the Pod template.
set -euo pipefail
REPOSITORY=${1:-127.0.0.1:15000/slipway}
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/oci-image.sh
. "$REPO/scripts/oci-image.sh"
DIR=${SLIPWAY_K8S_DIR:-$HOME/.cache/slipway-kubernetes/cluster}
OUT=${SLIPWAY_IMAGE_WORK:-/tmp/slipway-local-image}
CTR="ctr --address $DIR/containerd/containerd.sock -n k8s.io"
rm -rf "$OUT" && mkdir -p "$OUT/rootfs"
R=$OUT/rootfs
mkdir -p "$R/bin" "$R/usr/bin" "$R/usr/sbin" "$R/etc/ssl" "$R/tmp" "$R/var/lib/slipway" "$R/opt/slipway"
chmod 1777 "$R/tmp"
# Node: the one the `node` package pins (node_modules/.bin/node, first on PATH), else this machine's
NODE_BIN=$(readlink -f "$REPO/node_modules/.bin/node" 2>/dev/null || true)
[ -x "$NODE_BIN" ] || { NODE_BIN=/usr/bin/node; cp /usr/bin/node "$R/usr/bin/node"; }
cp /usr/sbin/haproxy "$R/usr/sbin/haproxy"
cp /bin/busybox "$R/bin/busybox" && ln -s busybox "$R/bin/sh"
for lib in $(ldd "$NODE_BIN" /usr/sbin/haproxy | awk '/=>/ {print $3} /^\s*\/lib/ {print $1}' | sort -u); do
  mkdir -p "$R$(dirname "$lib")" && cp -L "$lib" "$R$lib"
done
cp -rL /etc/ssl/certs "$R/etc/ssl/certs"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
printf 'hosts: files dns\n' >"$R/etc/nsswitch.conf"
# the checkout as git has it (tracked files), the built dashboard, and the installed packages
git -C "$REPO" ls-files -z | (cd "$REPO" && xargs -0 cp --parents -t "$R/opt/slipway" 2>/dev/null || true)
[ -d "$REPO/web/dist" ] && cp -r "$REPO/web/dist" "$R/opt/slipway/web/dist"
cp -a "$(readlink -f "$REPO/node_modules")" "$R/opt/slipway/node_modules"
IMAGE=$(oci_image_tar "$R" "$OUT" '{"Env":["PATH=/opt/slipway/node_modules/.bin:/usr/sbin:/usr/bin:/bin","NODE_ENV=production","HOME=/tmp"],"WorkingDir":"/opt/slipway","Cmd":["node","--import","tsx","src/main.ts"],"ExposedPorts":{"7070/tcp":{},"8080/tcp":{},"8443/tcp":{}}}' "$REPOSITORY:local-@TAG@")
# into the node's containerd, then to the registry (plain HTTP) so any node could pull it
$CTR images import "$OUT/image.tar" >/dev/null
$CTR images push --plain-http "$IMAGE" >/dev/null
rm -rf "$OUT"
echo "$IMAGE"
