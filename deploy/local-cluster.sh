#!/usr/bin/env bash
# slipway from deploy/ on the local cluster of scripts/local-kubernetes.sh (deploy/README.md, "On the local
# cluster"). Needs the cluster started with kube-proxy (SLIPWAY_K8S_KUBE_PROXY=1, or `local-kubernetes.sh proxy`).
#
#   deploy/local-cluster.sh up     # PostgreSQL on the node address, the API-server forwarder, the image, apply
#   deploy/local-cluster.sh check  # Pods, /healthz of each, /leases, a service made on one control plane
#                                  # answering through the slipway-router Service
#   deploy/local-cluster.sh down   # deletes slipway-system and the projects' slipway-local-* namespaces, stops what `up` started
#                                  # and removes its PostgreSQL data
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
  # slipway-system and the projects' namespaces (the prefix local-cluster.ts sets), nothing else: the cluster's
  # tests make slipway-* namespaces of their own
  for ns in slipway-system $($api/api/v1/namespaces | grep -o '"name": *"slipway-local-[^"]*"' | cut -d'"' -f4); do
    $api/api/v1/namespaces/$ns -X DELETE >/dev/null 2>&1 && echo "namespace $ns deleted"
  done
  $api/apis/rbac.authorization.k8s.io/v1/clusterroles/slipway-runtime -X DELETE >/dev/null || true
  $api/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/slipway-runtime -X DELETE >/dev/null || true
  if [ -f "$WORK/socat.pid" ]; then kill "$(cat "$WORK/socat.pid")" 2>/dev/null || true; rm -f "$WORK/socat.pid"; fi
  [ -f "$WORK/pg/data/PG_VERSION" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null || true
  # the database went with the namespaces' Pods: the next `up` starts afresh (a new token and sealing key)
  rm -rf "$WORK" /tmp/slipway-local-deploy.json
  for _ in $(seq 120); do api /api/v1/namespaces/slipway-system >/dev/null 2>&1 || return 0; sleep 1; done
  echo "namespace slipway-system still terminating" >&2
}

api() { curl -sf --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "https://127.0.0.1:$API_PORT$1" "${@:2}"; }

check() {
  local token pods ips router
  token=$(python3 -c "import json; print(json.load(open('/tmp/slipway-local-deploy.json'))['adminToken'])")
  pods=$(api /api/v1/namespaces/slipway-system/pods)
  echo "$pods" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    cs = (p["status"].get("containerStatuses") or [{}])[0]
    print(p["metadata"]["name"], p["status"].get("podIP"), "ready" if cs.get("ready") else "NOT ready", "restarts=%s" % cs.get("restartCount"))'
  ips=$(echo "$pods" | python3 -c 'import json, sys; print(" ".join(p["status"].get("podIP", "") for p in json.load(sys.stdin)["items"]))')
  for ip in $ips; do echo "$ip /healthz: $(curl -s -m5 "http://$ip:7070/healthz")"; done
  local cp; cp=$(echo "$pods" | python3 -c 'import json, sys; print([p["status"]["podIP"] for p in json.load(sys.stdin)["items"] if "control-plane" in p["metadata"]["name"]][0])')
  echo "GET /leases (control plane $cp):"
  curl -s -m5 -H "Authorization: Bearer $token" "http://$cp:7070/leases" | python3 -c '
import collections, json, sys
leases = json.load(sys.stdin)["leases"]
for l in leases: print("  ", l["name"], l["holder"], "epoch", l["epoch"])
twice = [n for n, k in collections.Counter(l["name"] for l in leases).items() if k > 1]
print("   held more than once:", twice or "none")'
  local h=(-s -m20 -H "Authorization: Bearer $token" -H 'Content-Type: application/json')
  curl "${h[@]}" "http://$cp:7070/v1/projects/demo" | grep -q '"id":"demo"' || curl "${h[@]}" -X POST "http://$cp:7070/v1/projects" -d '{"name":"demo"}' >/dev/null
  curl "${h[@]}" "http://$cp:7070/v1/projects/demo/services/hello" | grep -q '"id":"hello"' || curl "${h[@]}" -X POST "http://$cp:7070/v1/projects/demo/services/deployment" -d '{"name":"hello","billing":{"deploymentPlan":"nf-compute-20"},"deployment":{"instances":1,"external":{"imagePath":"127.0.0.1:15000/slipway-test/node:26.10.0"},"docker":{"configType":"customCommand","customCommand":"node -e \"require(\u0027http\u0027).createServer((q,s)=>s.end(\u0027hello from \u0027+require(\u0027os\u0027).hostname()+\u0027\\n\u0027)).listen(8080)\""}},"ports":[{"name":"p01","internalPort":8080,"public":true,"protocol":"HTTP"}]}' >/dev/null
  router=$(api /api/v1/namespaces/slipway-system/services/slipway-router | python3 -c 'import json, sys; print(json.load(sys.stdin)["spec"]["clusterIP"])')
  echo "service demo/hello (made on $cp) through the slipway-router Service ($router:80):"
  for _ in $(seq 120); do
    if curl -sf -m5 -H 'Host: p01--hello--demo.apps.local.test' "http://$router/" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "   no answer in 2 minutes" >&2
  return 1
}

case "${1:-}" in
  up) up ;;
  check) check ;;
  down) down ;;
  *) echo "usage: $0 up|check|down" >&2; exit 2 ;;
esac
