#!/usr/bin/env bash
# The whole suite on SQLite, then again on a throwaway PostgreSQL with the browser tests.
# REQUIRE_* make the fixtures fail loudly instead of skipping when a component cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=.venv/bin/pytest
export REQUIRE_BROWSER=1 REQUIRE_REDIS=1
# axe-core (accessibility audits), PurgeCSS (the trimmed Bootstrap) and vnu.jar (HTML checker): test-only tools, pinned in tests/browser/package-lock.json.
[ -f tests/browser/node_modules/axe-core/axe.min.js ] && [ -d tests/browser/node_modules/purgecss ] && [ -f tests/browser/node_modules/vnu-jar/build/dist/vnu.jar ] || npm ci --prefix tests/browser --no-audit --no-fund --silent
# The test OpenID Provider (oidc-provider, run by Node), pinned in tests/oidc/package-lock.json.
[ -f tests/oidc/node_modules/oidc-provider/package.json ] || npm ci --prefix tests/oidc --no-audit --no-fund --silent

echo "== Bộ kiểm thử trên SQLite =="
env -u DATABASE_URL "$PYTEST" -m "not browser and not postgres" -p no:cacheprovider "$@"

echo "== Bộ kiểm thử trên PostgreSQL (kèm kiểm thử trình duyệt Chromium) =="
eval "$(scripts/pg-cluster.sh start)"
trap 'scripts/pg-cluster.sh stop "$PGTEST_DIR"' EXIT
REQUIRE_POSTGRES=1 "$PYTEST" -p no:cacheprovider "$@"
