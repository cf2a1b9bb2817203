#!/usr/bin/env bash
# Install the Debian packages the app and its test suite need (PostgreSQL server, Chromium, Redis, Node,
# OpenLDAP, Java for the HTML checker, the static Noto fonts of the PDFs) when missing.
#   scripts/ensure-system-deps.sh            everything (make test, make bench, make loadtest)
#   scripts/ensure-system-deps.sh runtime    only what serving the app needs (make run, make serve)
set -euo pipefail
missing=()
[ -f /usr/share/fonts/truetype/noto/NotoSans-Bold.ttf ] || missing+=(fonts-noto-core)  # static PDF fonts (app/pdf.py)
if [ "${1:-}" != "runtime" ]; then
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v npm >/dev/null || missing+=(npm)  # installs axe-core for the accessibility tests
  command -v redis-server >/dev/null || missing+=(redis-server)  # shared rate limits (scale-out test)
  command -v node >/dev/null || missing+=(nodejs)  # runs the test OpenID Provider (tests/oidc; needs Node >= 20.18)
  [ -x /usr/sbin/slapd ] || missing+=(slapd)  # the test OpenLDAP (tests/directory_servers.py)
  command -v ldapsearch >/dev/null || missing+=(ldap-utils)  # to look into that directory by hand
  command -v java >/dev/null || missing+=(default-jre-headless)  # the Nu HTML checker (vnu.jar) in the browser tests
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Cài gói hệ thống còn thiếu: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# slapd asks for a domain and an admin password when installed: the tests run their own throwaway
# instance with a generated configuration, so the system one is left unconfigured (and not started).
if [[ " ${missing[*]} " == *" slapd "* ]]; then
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
