#!/usr/bin/env bash
# A single-node Kubernetes cluster on this machine, for the kubernetes runtime's tests (docs/runtimes.md):
# etcd, kube-apiserver, kube-scheduler and kube-controller-manager (each if built), the kubelet on containerd
# with runc and the CNI bridge, and a plain-HTTP image registry the node pulls from. It runs the Kubernetes
# binaries found in the cache directory (SLIPWAY_K8S_BIN, default ~/.cache/slipway-kubernetes/bin:
# kube-apiserver, kubelet, optionally kube-scheduler and kube-controller-manager); it does not build them (see
# docs/runtimes.md for how they are made). With kube-controller-manager, PersistentVolumeClaims of the default
# StorageClass `slipway-hostpath` are provisioned as directories under /tmp/hostpath_pv (its hostPath
# provisioner, for single-node clusters) and deleted with their claim.
#
#   scripts/local-kubernetes.sh start    # prints the environment the tests read
#   scripts/local-kubernetes.sh status
#   scripts/local-kubernetes.sh proxy    # kube-proxy on a running cluster (or SLIPWAY_K8S_KUBE_PROXY=1 with start)
#   scripts/local-kubernetes.sh stop-proxy
#   scripts/local-kubernetes.sh stop     # stops what start started (by the PIDs it recorded) and its pods
#
# Everything lives under SLIPWAY_K8S_DIR (default ~/.cache/slipway-kubernetes/cluster); every listener is on
# 127.0.0.1. Debian packages: etcd-server containerd runc containernetworking-plugins docker-registry
# busybox-static openssl iptables.
set -euo pipefail
# shellcheck source=scripts/oci-image.sh
. "$(dirname "$0")/oci-image.sh"

BIN=${SLIPWAY_K8S_BIN:-$HOME/.cache/slipway-kubernetes/bin}
DIR=${SLIPWAY_K8S_DIR:-$HOME/.cache/slipway-kubernetes/cluster}
ETCD_PORT=${SLIPWAY_K8S_ETCD_PORT:-23790}
API_PORT=${SLIPWAY_K8S_API_PORT:-16443}
KUBELET_PORT=${SLIPWAY_K8S_KUBELET_PORT:-10350}
REGISTRY_PORT=${SLIPWAY_K8S_REGISTRY_PORT:-15000}
POD_SUBNET=${SLIPWAY_K8S_POD_SUBNET:-10.244.0.0/24}
NODE=slipway-node
# The node's address: the pod bridge's gateway (the kubelet refuses a loopback node address, and the API server
# reaches the kubelet there for logs and exec). Only this machine can reach it.
NODE_IP=${POD_SUBNET%.*/*}.1
BRIDGE=slipk8s0
PAUSE_IMAGE=localhost/slipway-pause:1

pidfile() { echo "$DIR/run/$1.pid"; }
running() { local f; f=$(pidfile "$1"); [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

launch() { # name, command...: started in its own session, output to run/<name>.log
  local name=$1
  shift
  if running "$name"; then return; fi
  setsid "$@" >"$DIR/run/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

api() { curl -sf --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "https://127.0.0.1:$API_PORT$1" "${@:2}"; }

node_ready() { api "/api/v1/nodes/$NODE" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; }

wait_for() { # what, seconds, command...
  local what=$1 secs=$2
  shift 2
  for _ in $(seq $((secs * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "local-kubernetes: $what did not come up; see $DIR/run/" >&2
  return 1
}

cert() { # name, subject, [extensions]: a key and a certificate signed by the cluster CA
  local name=$1 subj=$2 ext=${3:-}
  [ -f "$DIR/pki/$name.crt" ] && return
  openssl genrsa -out "$DIR/pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$DIR/pki/$name.key" -subj "$subj" -out "$DIR/pki/$name.csr" 2>/dev/null
  if [ -n "$ext" ]; then
    printf '%s\n' "$ext" >"$DIR/pki/$name.ext"
    openssl x509 -req -in "$DIR/pki/$name.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" -CAcreateserial -days 3650 -extfile "$DIR/pki/$name.ext" -out "$DIR/pki/$name.crt" 2>/dev/null
  else
    openssl x509 -req -in "$DIR/pki/$name.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" -CAcreateserial -days 3650 -out "$DIR/pki/$name.crt" 2>/dev/null
  fi
}

kubeconfig() { # file, user cert name
  local b64
  b64() { base64 -w0 <"$1"; }
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$DIR/pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$DIR/pki/$2.crt")
    client-key-data: $(b64 "$DIR/pki/$2.key")
contexts:
- name: local
  context: { cluster: local, user: $2 }
current-context: local
EOF
}

pki() {
  mkdir -p "$DIR/pki"
  [ -f "$DIR/pki/ca.crt" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/pki/ca.key" -out "$DIR/pki/ca.crt" -days 3650 -subj "/CN=slipway-local-ca" 2>/dev/null
  cert apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:$NODE_IP,IP:10.97.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  cert admin "/O=system:masters/CN=slipway-admin"
  cert apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE"
  cert scheduler "/CN=system:kube-scheduler"
  # Its controllers act with its own credentials (no per-controller service accounts): every permission.
  cert controller-manager "/O=system:masters/CN=system:kube-controller-manager"
  [ -f "$DIR/pki/sa.key" ] && return
  openssl genrsa -out "$DIR/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$DIR/pki/sa.key" -pubout -out "$DIR/pki/sa.pub" 2>/dev/null
}

# The pod sandbox ("pause") image, made here from the static busybox: no registry outside is reachable.
pause_image() {
  local out=$DIR/pause
  [ -f "$out/image.tar" ] && return
  rm -rf "$out" && mkdir -p "$out/rootfs/bin"
  cp /bin/busybox "$out/rootfs/bin/busybox"
  ln -s busybox "$out/rootfs/bin/sh"
  ln -s busybox "$out/rootfs/bin/sleep"
  oci_image_tar "$out/rootfs" "$out" '{"Entrypoint":["/bin/sh","-c","trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]}' "$PAUSE_IMAGE" >/dev/null
}

configs() {
  mkdir -p "$DIR/run" "$DIR/etcd" "$DIR/containerd" "$DIR/cni" "$DIR/kubelet" "$DIR/registry"
  # runc as containerd calls it, but a negative oom_score_adj (the kubelet asks -998 for every pod sandbox) is
  # raised to 0: a process here may not lower its OOM score ("failed to update /proc/self/oom_score_adj:
  # Permission denied"), which fails every sandbox.
  cat >"$DIR/containerd/runc" <<'RUNC'
#!/bin/sh
prev=
for a in "$@"; do
  case "$prev" in --bundle | -b) [ -f "$a/config.json" ] && sed -i 's/"oomScoreAdj":-[0-9]*/"oomScoreAdj":0/' "$a/config.json" ;; esac
  prev=$a
done
exec runc "$@"
RUNC
  chmod +x "$DIR/containerd/runc"
  cat >"$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
[grpc]
  address = "$DIR/containerd/containerd.sock"
[ttrpc]
  address = "$DIR/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$DIR/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."127.0.0.1:$REGISTRY_PORT"]
    endpoint = ["http://127.0.0.1:$REGISTRY_PORT"]
EOF
  cat >"$DIR/cni/10-slipway.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "slipway-k8s",
  "plugins": [
    { "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_SUBNET" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$DIR/cni-ipam" } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  cat >"$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: "$DIR/pki/ca.crt" }
authorization: { mode: AlwaysAllow }
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
resolvConf: /etc/resolv.conf
serializeImagePulls: false
evictionHard: { "memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" }
tlsCertFile: "$DIR/pki/kubelet.crt"
tlsPrivateKeyFile: "$DIR/pki/kubelet.key"
EOF
  cat >"$DIR/registry/config.yml" <<EOF
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: "$DIR/registry/data" }, delete: { enabled: true } }
http: { addr: "127.0.0.1:$REGISTRY_PORT" }
EOF
  kubeconfig "$DIR/kubeconfig" admin
  kubeconfig "$DIR/kubelet/kubeconfig" kubelet
  kubeconfig "$DIR/scheduler.kubeconfig" scheduler
  kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
}

start() {
  for b in kube-apiserver kubelet; do
    [ -x "$BIN/$b" ] || { echo "local-kubernetes: $BIN/$b is missing (docs/runtimes.md: building the local cluster)" >&2; exit 1; }
  done
  for t in etcd containerd runc docker-registry openssl iptables; do
    command -v $t >/dev/null || [ -x /usr/sbin/$t ] || [ -x /usr/bin/$t ] || { echo "local-kubernetes: $t is missing: install etcd-server containerd runc containernetworking-plugins docker-registry openssl iptables" >&2; exit 1; }
  done
  [ -x /usr/lib/cni/bridge ] || { echo "local-kubernetes: install containernetworking-plugins" >&2; exit 1; }
  mkdir -p "$DIR/run"
  pki
  configs
  pause_image

  launch etcd etcd --name slipway --data-dir "$DIR/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" --initial-cluster "slipway=http://127.0.0.1:$((ETCD_PORT + 10))"
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  launch registry docker-registry serve "$DIR/registry/config.yml"
  wait_for registry 30 curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/"

  # The ServiceAccount admission plugin is off: it refuses a Pod until the namespace's default account exists
  # (created by kube-controller-manager, when it runs, moments after the namespace), and the driver creates its
  # Pods at once in new namespaces. The driver deletes what it creates itself rather than relying on the
  # garbage collector, so the cluster works without kube-controller-manager too.
  launch kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address 127.0.0.1 --endpoint-reconciler-type none \
    --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" --client-ca-file "$DIR/pki/ca.crt" \
    --service-account-key-file "$DIR/pki/sa.pub" --service-account-signing-key-file "$DIR/pki/sa.key" --service-account-issuer https://kubernetes.default.svc \
    --service-cluster-ip-range 10.97.0.0/24 --authorization-mode Node,RBAC --allow-privileged \
    --disable-admission-plugins ServiceAccount \
    --kubelet-client-certificate "$DIR/pki/apiserver-kubelet.crt" --kubelet-client-key "$DIR/pki/apiserver-kubelet.key" --kubelet-preferred-address-types InternalIP
  wait_for kube-apiserver 120 api /readyz

  if [ -x "$BIN/kube-scheduler" ]; then
    launch kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$DIR/scheduler.kubeconfig" --authentication-kubeconfig "$DIR/scheduler.kubeconfig" \
      --authorization-kubeconfig "$DIR/scheduler.kubeconfig" --bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false
  fi

  if [ -x "$BIN/kube-controller-manager" ]; then
    # Deployments, ReplicaSets, the garbage collector, the node lifecycle, and PersistentVolumeClaims bound to
    # volumes its hostPath provisioner makes under /tmp/hostpath_pv (a single node's storage, deleted with the claim).
    launch kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$DIR/controller-manager.kubeconfig" \
      --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false \
      --service-account-private-key-file "$DIR/pki/sa.key" --root-ca-file "$DIR/pki/ca.crt" \
      --cluster-signing-cert-file "$DIR/pki/ca.crt" --cluster-signing-key-file "$DIR/pki/ca.key" \
      --enable-hostpath-provisioner
    api /apis/storage.k8s.io/v1/storageclasses/slipway-hostpath >/dev/null 2>&1 || api /apis/storage.k8s.io/v1/storageclasses -X POST -H 'Content-Type: application/json' \
      -d '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"slipway-hostpath","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"kubernetes.io/host-path","reclaimPolicy":"Delete","volumeBindingMode":"Immediate"}' >/dev/null
  fi

  launch containerd containerd --config "$DIR/containerd/config.toml"
  wait_for containerd 30 ctr --address "$DIR/containerd/containerd.sock" version
  ctr --address "$DIR/containerd/containerd.sock" -n k8s.io images import "$DIR/pause/image.tar" >/dev/null

  # The pod bridge exists before the first Pod, holding the node address, with an address of its own: a bridge
  # left to the kernel takes the lowest address among its ports, so it changed as Pods came and went, and a Pod
  # that had resolved the node address to a removed Pod's port sent into the void until its neighbour entry
  # expired (seconds in which its replies, and the close of an idle keep-alive connection, were lost).
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip link set "$BRIDGE" address "$(printf '02:00:%02x:%02x:%02x:%02x' ${NODE_IP//./ })"
  ip -4 addr show dev "$BRIDGE" | grep -q " $NODE_IP/" || ip addr add "$NODE_IP/${POD_SUBNET#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  launch kubelet "$BIN/kubelet" --config "$DIR/kubelet/config.yaml" --kubeconfig "$DIR/kubelet/kubeconfig" --root-dir "$DIR/kubelet/root" \
    --container-runtime remote --container-runtime-endpoint "unix://$DIR/containerd/containerd.sock" \
    --hostname-override "$NODE" --node-ip "$NODE_IP" --cert-dir "$DIR/kubelet/pki" --v 1
  wait_for "node $NODE Ready" 120 node_ready
  # The kubelet registers the node tainted not-ready; kube-controller-manager's node lifecycle controller lifts
  # the taint once the node is Ready. Without it, this does it for the single node (with it, sooner).
  api "/api/v1/nodes/$NODE" -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"taints":null}}' >/dev/null
  [ "${SLIPWAY_K8S_KUBE_PROXY:-0}" = 1 ] && kube_proxy
  env_lines
}

# kube-proxy in iptables mode (optional: SLIPWAY_K8S_KUBE_PROXY=1 with start, or `proxy` on a running cluster):
# ClusterIP Services then lead to their Pods, from the host and from Pods. Every Service connection is
# masqueraded to the node address (--masquerade-all): a Pod reaching a Service whose endpoint is on the same
# bridge then gets its replies back through the host, where the translation is undone. There is no cluster DNS:
# Pods find Services by the environment variables the kubelet sets (<NAME>_SERVICE_HOST/_PORT) or by address.
kube_proxy() {
  [ -x "$BIN/kube-proxy" ] || { echo "local-kubernetes: $BIN/kube-proxy is missing (docs/runtimes.md: building the binaries)" >&2; return 1; }
  launch kube-proxy "$BIN/kube-proxy" --kubeconfig "$DIR/kubeconfig" --proxy-mode iptables --hostname-override "$NODE" \
    --cluster-cidr "$POD_SUBNET" --masquerade-all --bind-address 127.0.0.1 --healthz-bind-address "127.0.0.1:${SLIPWAY_K8S_PROXY_HEALTHZ_PORT:-10356}" \
    --metrics-bind-address "127.0.0.1:$((${SLIPWAY_K8S_PROXY_HEALTHZ_PORT:-10356} + 1))" --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 --v 1
  wait_for kube-proxy 60 curl -sf "http://127.0.0.1:${SLIPWAY_K8S_PROXY_HEALTHZ_PORT:-10356}/healthz"
}

env_lines() {
  echo "SLIPWAY_TEST_KUBECONFIG=$DIR/kubeconfig"
  echo "SLIPWAY_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT"
  # Without a scheduler, Pods must name their node.
  running kube-scheduler || echo "SLIPWAY_TEST_KUBERNETES_NODE=$NODE"
}

status() {
  local rc=0
  for p in etcd registry kube-apiserver kube-scheduler kube-controller-manager kube-proxy containerd kubelet; do
    if running "$p"; then echo "$p: running (pid $(cat "$(pidfile "$p")"))"
    elif [ "$p" = kube-scheduler ] || [ "$p" = kube-controller-manager ] || [ "$p" = kube-proxy ]; then echo "$p: not running (optional)"
    else echo "$p: not running"; rc=1; fi
  done
  if [ $rc = 0 ] && node_ready; then echo "node $NODE: Ready"; env_lines; else echo "node $NODE: not Ready"; rc=1; fi
  return $rc
}

stop_one() {
  local f; f=$(pidfile "$1")
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_proxy() {
  running kube-proxy || return 0
  stop_one kube-proxy
  # its chains and rules; the cleanup also takes KUBE-POSTROUTING, which the kubelet made: removing the kubelet's
  # canary chain has the kubelet make its rules again (it looks every minute)
  "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  local t
  for t in mangle nat filter; do iptables -t "$t" -X KUBE-PROXY-CANARY 2>/dev/null || true; done
  iptables -t mangle -X KUBE-KUBELET-CANARY 2>/dev/null || true
}

stop() {
  stop_proxy
  stop_one kubelet
  # The pods' containers run under containerd shims that outlive containerd: end them through containerd.
  if running containerd; then
    local c="ctr --address $DIR/containerd/containerd.sock -n k8s.io"
    for t in $($c tasks ls -q 2>/dev/null); do $c tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $($c tasks ls -q 2>/dev/null); do $c tasks delete -f "$t" >/dev/null 2>&1 || true; done
    for t in $($c containers ls -q 2>/dev/null); do $c containers delete "$t" >/dev/null 2>&1 || true; done
  fi
  stop_one containerd
  stop_one kube-controller-manager
  stop_one kube-scheduler
  stop_one kube-apiserver
  stop_one registry
  stop_one etcd
  # Secret and projected volumes are tmpfs mounts under the kubelet's directory.
  grep -o " $DIR/kubelet/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount "$m" 2>/dev/null || true; done || true
  grep -o " $DIR/containerd/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount "$m" 2>/dev/null || true; done || true
  ip link del "$BRIDGE" 2>/dev/null || true
  echo "local-kubernetes: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  proxy) kube_proxy ;;
  stop-proxy) stop_proxy ;;
  *) echo "usage: $0 start|stop|status|proxy|stop-proxy" >&2; exit 2 ;;
esac
