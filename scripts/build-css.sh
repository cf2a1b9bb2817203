#!/usr/bin/env bash
# Trim Bootstrap to the selectors the pages use: app/static/css/bootstrap.css is Bootstrap-Flask's
# bootstrap.min.css (the pinned Bootstrap-Flask in requirements.txt) run through PurgeCSS (pinned in
# tests/browser/package-lock.json) over every template, script and Python file of the app.
# Run after adding a Bootstrap class to a page; tests/test_assets.py fails while the file is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d tests/browser/node_modules/purgecss ] || npm ci --prefix tests/browser --silent
source=$(.venv/bin/python -c 'import flask_bootstrap, os; print(os.path.join(os.path.dirname(flask_bootstrap.__file__), "static/bootstrap5/css/bootstrap.min.css"))')
tests/browser/node_modules/.bin/purgecss --css "$source" \
  --content 'app/**/*.html' 'app/**/*.js' 'app/**/*.py' \
  --safelist 'alert-success' 'alert-info' 'alert-warning' 'alert-danger' 'show' 'active' \
  --output /tmp/bootstrap-purged.css
{
  sed -e 's#/\*\# sourceMappingURL=[^*]*\*/##' /tmp/bootstrap-purged.css
} > app/static/css/bootstrap.css
rm -f /tmp/bootstrap-purged.css
wc -c app/static/css/bootstrap.css
