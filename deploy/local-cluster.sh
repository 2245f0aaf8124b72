#!/usr/bin/env bash
# slipway from deploy/ on the local cluster of scripts/local-kubernetes.sh (deploy/README.md, "On the local
# cluster"). Needs the cluster started with kube-proxy (SLIPWAY_K8S_KUBE_PROXY=1, or `local-kubernetes.sh proxy`).
#
#   deploy/local-cluster.sh up     # PostgreSQL on the node address, the API-server forwarder, the image, apply
#   deploy/local-cluster.sh down   # deletes slipway-system and the project namespaces, stops what `up` started
#
# What `up` starts outside the cluster (PIDs under $WORK):
# - a PostgreSQL of its own from Debian's binaries, as the postgres user, listening on the node address
#   (10.244.0.1:15432) with its own data directory: the machine's PostgreSQL listens on 127.0.0.1 only;
# - socat forwarding the node address's port 16443 to the API server on 127.0.0.1 (Pods cannot reach the
#   host's loopback).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${SLIPWAY_K8S_DIR:-$HOME/.cache/slipway-kubernetes/cluster}
WORK=${SLIPWAY_LOCAL_DEPLOY_DIR:-/tmp/slipway-local-deploy}
NODE_IP=10.244.0.1 API_PORT=16443 PG_PORT=15432
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

postgres_up() {
  mkdir -p "$WORK/pg" && chown postgres: "$WORK/pg"
  if [ ! -f "$WORK/pg/data/PG_VERSION" ]; then
    (cd /tmp && runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg/data" -U slipway --auth=trust >/dev/null)
    printf "listen_addresses = '%s'\nport = %s\nunix_socket_directories = '%s'\nmax_connections = 200\n" "$NODE_IP" "$PG_PORT" "$WORK/pg" >>"$WORK/pg/data/postgresql.conf"
    printf 'local all all trust\nhost all all 10.244.0.0/24 md5\n' >"$WORK/pg/data/pg_hba.conf"
  fi
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" status >/dev/null 2>&1 ||
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start >/dev/null
  local psql="runuser -u postgres -- $PG_BIN/psql -h $WORK/pg -p $PG_PORT -U slipway -d postgres -qtA"
  $psql -c "alter user slipway password 'change-me'"
  [ "$($psql -c "select 1 from pg_database where datname='slipway'")" = 1 ] || $psql -c 'create database slipway'
}

forwarder_up() {
  if [ -f "$WORK/socat.pid" ] && kill -0 "$(cat "$WORK/socat.pid")" 2>/dev/null; then return; fi
  setsid socat "TCP-LISTEN:$API_PORT,bind=$NODE_IP,reuseaddr,fork" "TCP:127.0.0.1:$API_PORT" </dev/null >"$WORK/socat.log" 2>&1 &
  echo $! >"$WORK/socat.pid"
}

# The Pods' kubeconfig: the node address, and a certificate for the slipway service account's user name.
pod_kubeconfig() {
  local k=$WORK/pki subj=/CN=system:serviceaccount:slipway-system:slipway/O=system:serviceaccounts/O=system:serviceaccounts:slipway-system
  mkdir -p "$k"
  if [ ! -f "$k/slipway.crt" ]; then
    openssl genrsa -out "$k/slipway.key" 2048 2>/dev/null
    openssl req -new -key "$k/slipway.key" -subj "$subj" -out "$k/slipway.csr" 2>/dev/null
    openssl x509 -req -in "$k/slipway.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" -CAcreateserial -days 30 -out "$k/slipway.crt" 2>/dev/null
  fi
  cat >"$WORK/pod-kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{ name: local, cluster: { server: "https://$NODE_IP:$API_PORT", certificate-authority-data: $(base64 -w0 <"$DIR/pki/ca.crt") } }]
users: [{ name: slipway, user: { client-certificate-data: $(base64 -w0 <"$k/slipway.crt"), client-key-data: $(base64 -w0 <"$k/slipway.key") } }]
contexts: [{ name: local, context: { cluster: local, user: slipway } }]
current-context: local
KC
}

up() {
  mkdir -p "$WORK"
  postgres_up
  forwarder_up
  pod_kubeconfig
  # SLIPWAY_LOCAL_IMAGE: an image already pushed, instead of building one
  local image=${SLIPWAY_LOCAL_IMAGE:-}
  [ -n "$image" ] || image=$(nice -n 19 "$HERE/local-image.sh" | tail -1)
  (cd "$HERE/.." && node --import tsx deploy/local-cluster.ts "$DIR/kubeconfig" "$image" \
    "postgres://slipway:change-me@$NODE_IP:$PG_PORT/slipway" "$WORK/pod-kubeconfig")
}

down() {
  local api="curl -sf --cacert $DIR/pki/ca.crt --cert $DIR/pki/admin.crt --key $DIR/pki/admin.key https://127.0.0.1:$API_PORT"
  for ns in $($api/api/v1/namespaces | grep -o '"name": *"slipway-[^"]*"' | cut -d'"' -f4); do
    $api/api/v1/namespaces/$ns -X DELETE >/dev/null && echo "namespace $ns deleted"
  done
  $api/apis/rbac.authorization.k8s.io/v1/clusterroles/slipway-runtime -X DELETE >/dev/null || true
  $api/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/slipway-runtime -X DELETE >/dev/null || true
  if [ -f "$WORK/socat.pid" ]; then kill "$(cat "$WORK/socat.pid")" 2>/dev/null || true; rm -f "$WORK/socat.pid"; fi
  [ -f "$WORK/pg/data/PG_VERSION" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
