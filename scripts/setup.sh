#!/usr/bin/env bash
# Prepares a fresh Debian machine to build and test kdebug:
# the real tools the tests run (and Chromium for the playground page's browser tests), Node.js 24,
# npm dependencies, and a Redis if none answers.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(redis-server redis-tools dnsutils iproute2 curl openssl iputils-ping tcpdump netcat-openbsd traceroute unzip busybox util-linux chromium)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js 24 LTS, from the npm registry's node@24 package, into /usr/local (ahead of /usr/bin on PATH).
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 24 ]; then
  echo "setup: installing Node.js 24 into /usr/local"
  npm install --global --prefix /usr/local --no-fund --no-audit node@24 >/dev/null
  hash -r
fi
export PATH="/usr/local/bin:$PATH"
echo "setup: node $(node -v)"

npm ci --no-fund --no-audit

if ! redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" ping >/dev/null 2>&1; then
  echo "setup: no Redis answers at ${REDIS_URL:-redis://127.0.0.1:6379}; starting one"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/kdebug-redis.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli ping >/dev/null
fi
echo "setup: done. Run the tests with: npm test"
