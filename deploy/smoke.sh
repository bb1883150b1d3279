#!/usr/bin/env bash
# Runs what deploy/Dockerfile runs, without Docker (no image registry in CI): in a copy of the
# build context, the same install and prune command, then the same start command and the
# HEALTHCHECK, with dev dependencies (tsx, esbuild) gone. .ci/run calls it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The build context: tracked and new files, without what .dockerignore leaves out.
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work" 2>/dev/null || true)
rm -rf "$work/node_modules" "$work/dist" "$work/data" "$work/.wrangler"
cd "$work"

# The Dockerfile's build stage. SMOKE_REUSE_INSTALL=1 (set by .ci/run, which has just run the same
# `npm ci` from the same lockfile in the checkout) starts from that install instead of compiling
# the native modules a second time; the prune and everything after it are the same either way.
if [ "${SMOKE_REUSE_INSTALL:-0}" = "1" ] && [ -d "$root/node_modules" ] && [ -f "$root/dist/cli.js" ]; then
  cp -a "$root/node_modules" "$work/node_modules"
  cp -a "$root/dist" "$work/dist"
else
  npm ci --no-audit --no-fund
fi
npm prune --omit=dev --no-audit --no-fund

for dev in tsx esbuild vitest wrangler; do
  if [ -e "node_modules/$dev" ]; then echo "smoke: node_modules/$dev is still installed after the prune" >&2; exit 1; fi
done
test -f dist/cli.js || { echo 'smoke: npm ci did not build dist/cli.js' >&2; exit 1; }

# The runtime stage's ENV (a free port instead of 8787) and CMD
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
NODE_ENV=production HOST=127.0.0.1 PORT="$port" DATABASE_URL="file:$work/data/siwe-keys.db" \
  node --enable-source-maps dist/cli.js serve &
pid=$!

# The HEALTHCHECK
for _ in $(seq 1 100); do
  if PORT="$port" node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    kill -TERM "$pid"
    wait "$pid"
    pid=""
    echo "smoke: the production install answers /healthz and stops cleanly on SIGTERM"
    exit 0
  fi
  sleep 0.2
done
echo 'smoke: no answer on /healthz' >&2
exit 1
