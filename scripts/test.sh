#!/usr/bin/env bash
# The test command (`npm test`): prepare what the tests need, then run every test.
# System packages are installed with apt-get where we have the rights; a missing tool otherwise fails
# with the name of the Debian package to install. No test skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."
# The platform runs on the Node LTS pinned as the `node` dependency; npm scripts already put it first on PATH,
# and this keeps it so when the script is run by hand.
export PATH="$PWD/node_modules/.bin:$PATH"

need=()
command -v git >/dev/null || need+=(git)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v chromium >/dev/null || need+=(chromium)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v pg_ctlcluster >/dev/null || command -v pg_ctl >/dev/null || need+=(postgresql)
# Addons run their own servers from Debian's binaries (never the machine's shared ones).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test: missing tools; install the Debian packages: ${need[*]}" >&2
    exit 1
  fi
fi

# PostgreSQL for the store suite: use the one at SLIPWAY_TEST_PG_URL (default 127.0.0.1:5432), starting the
# machine's cluster if it is installed but stopped.
pg_ready() { node -e "const pg=require('pg');const c=new pg.Client({connectionString:process.env.SLIPWAY_TEST_PG_URL||'postgres://postgres@127.0.0.1:5432/postgres'});c.connect().then(()=>c.end()).then(()=>process.exit(0),()=>process.exit(1))"; }
if ! pg_ready; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  fi
  pg_ready || { echo "test: PostgreSQL is not reachable at ${SLIPWAY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}; install and start the Debian package postgresql" >&2; exit 1; }
fi

echo "test: type-checking"
npx tsc --noEmit -p .
echo "test: linting"
npm run --silent lint

# The dashboard is built once here: browser test files running at once would otherwise each rebuild it, and a
# build empties web/dist while another file's page loads. They build it themselves only when run alone.
echo "test: building the dashboard"
npm run --silent build:web >/dev/null
export SLIPWAY_TEST_WEB_BUILT=1

files=$(find test src -name '*.test.ts' -not -path '*/fixtures/*' | sort)
# Files run in parallel processes; each starts its own platform on free ports. A file ends at most 10 s after its
# tests have (test/support/exit-after-tests.mjs): a process it failed to stop cannot keep the run going.
exec node --import tsx --import ./test/support/exit-after-tests.mjs --test --test-concurrency="${SLIPWAY_TEST_CONCURRENCY:-3}" --test-timeout=600000 $files
