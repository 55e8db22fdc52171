#!/usr/bin/env bash
# Installs what the test suite needs, then runs all tests. Used by README and .ci/run.
# Needs no running services: the tests start their own embedded database, fake upstreams
# and OneRelay servers on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[test]"

exec "$PY" -m pytest tests -q -p no:cacheprovider "$@"
