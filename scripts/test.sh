#!/usr/bin/env bash
# Installs what the test suite needs, then runs all tests: the console's unit tests (Vitest),
# its production build, and the Python suite (API, relay, and the browser tests that drive
# Debian's headless Chromium through Playwright). Used by README and .ci/run.
# Needs no running services: the tests start their own embedded database, redis-server, fake
# upstreams and OneRelay servers (in-process, and as `python server.py` nodes) on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# Debian's Chromium for the browser tests (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# Chinese glyphs for the zh-CN screenshots of the console (tests/e2e/test_locale_zh.py).
if [ ! -d /usr/share/fonts/opentype/noto ] || ! ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; then
  echo "== installing fonts-noto-cjk (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-noto-cjk >/dev/null
fi
# A real redis-server for the shared-state and rate-limit tests (never a fake).
if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
# Real MariaDB and PostgreSQL servers for the One API importer's tests (tests/test_importer.py
# starts its own on loopback ports under a temp dir; the packages' own services stay unused).
if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
  echo "== installing mariadb-server (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server >/dev/null
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "== installing postgresql (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
if ! command -v npm >/dev/null; then
  echo "== installing nodejs and npm (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

echo "== python dependencies"
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[test]"

echo "== console: npm ci, unit tests, build"
(
  cd frontend
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
  npm run --silent test
  npm run --silent build >/dev/null
)

echo "== python and browser tests"
exec "$PY" -m pytest tests -q -p no:cacheprovider "$@"
