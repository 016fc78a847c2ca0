#!/usr/bin/env bash
# iocgis set-up: `./iocgis.sh run` installs everything and runs the platform with the Đồng Nai
# demo; `./iocgis.sh test` does the same set-up without the demo and runs the whole test suite.
# Idempotent; run as root or with sudo on Debian 12 / Ubuntu 24.04 with Python 3.12+.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
MODE=${1:-}
shift || true

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "run as root or install sudo: the set-up installs Debian packages"
  SUDO="sudo"
fi

# Debian packages the platform needs: PostgreSQL + PostGIS (server), GDAL tools (ogr2ogr, ogrinfo),
# Chromium for the map page test, Node.js/npm for MapLibre and the style validator, fonts for glyphs,
# Redis for the optional shared tile cache (its test starts a private server), Mosquitto for the
# project-local MQTT broker of live data (its own port; tests start a private one).
APT_PACKAGES=(postgresql gdal-bin fonts-noto-core redis-server poppler-utils mosquitto apache2-utils)
apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then
    say "apt-get update"; $SUDO apt-get update -qq; apt_updated=1
  fi
  say "installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_system_packages() {
  apt_install "${APT_PACKAGES[@]}"
  # Debian ships Chromium as a deb; Ubuntu only as a snap wrapper, which cannot run headless in
  # a container: there, say so (the browser tests then fail, naming /usr/bin/chromium).
  if ! dpkg -s chromium >/dev/null 2>&1; then
    [ $apt_updated -eq 1 ] || { $SUDO apt-get update -qq; apt_updated=1; }
    if apt-cache show chromium 2>/dev/null | grep -q '^Filename: .*chromium_'; then
      apt_install chromium
    else
      say "warning: Debian's chromium package is not available here; the map page tests need /usr/bin/chromium"
    fi
  fi
  # Node.js may come from elsewhere (NodeSource bundles npm and conflicts with Debian's npm).
  command -v node >/dev/null 2>&1 || apt_install nodejs
  command -v npm >/dev/null 2>&1 || apt_install npm
  local ver
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  [ -n "$ver" ] || die "PostgreSQL did not install"
  apt_install "postgresql-$ver-postgis-3" "postgresql-$ver-postgis-3-scripts"
  # Headless QGIS (~100 MB) for the QGIS access test; IOCGIS_WITH_QGIS=0 leaves it out.
  if [ "${IOCGIS_WITH_QGIS:-1}" = "1" ]; then apt_install python3-qgis qgis-providers; fi
}

find_python() {
  local candidates=(python3.14 python3.13 python3.12 python3)
  local c
  for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  # pyenv installs that are not the active version
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /opt/python*/bin/python3; do
    if [ -x "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

setup_venv() {
  local py stamp want
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    py=$(find_python) || die "no Python 3.12 or newer found: install python3.12 (and python3.12-venv) and run again"
    say "creating $VENV with $py ($("$py" --version))"
    rm -rf "$VENV"
    if ! "$py" -m venv "$VENV" 2>/dev/null; then
      apt_install python3-venv "python3.$("$py" -c 'import sys; print(sys.version_info[1])')-venv" || true
      "$py" -m venv "$VENV" || die "cannot create a virtual environment with $py"
    fi
  fi
  stamp="$VENV/.iocgis-installed"
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing the project and its Python dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >"$VENV/pip.log" 2>&1
    "$VENV/bin/python" -m pip install -q -e ".[test]" >>"$VENV/pip.log" 2>&1 \
      || { tail -n 40 "$VENV/pip.log"; die "installing the Python packages failed (full log: $VENV/pip.log)"; }
    "$VENV/bin/python" -m pip install -q --no-deps "ogctests==0.1.15" >>"$VENV/pip.log" 2>&1 \
      || die "installing ogctests (the OGC conformance suite the tests run) failed: see $VENV/pip.log"
    echo "$want" > "$stamp"
  fi
}

setup_node() {
  # MapLibre GL JS, glyph builder and style validator come from npm, installed locally.
  if [ -f package.json ]; then
    if [ ! -d node_modules ] || [ package.json -nt node_modules ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules ]; }; then
      say "installing npm packages"
      if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
      touch node_modules
    fi
  fi
}

setup() {
  install_system_packages
  setup_venv
  setup_node
  # Map label glyphs (every Vietnamese letter) from Noto Sans with npm fontnik; skipped when built.
  "$VENV/bin/iocgis" styles glyphs
  if [ -z "${DATABASE_URL:-}" ]; then
    "$VENV/bin/iocgis" db start
  fi
  "$VENV/bin/iocgis" db migrate
}

case "$MODE" in
  run)
    setup
    "$VENV/bin/iocgis" demo --scale "${IOCGIS_DEMO_SCALE:-small}" --load
    # Requests run as the least-privileged role iocgis_api (the default of IOCGIS_SERVING_ROLE;
    # `iocgis db migrate` made it): rows only under each caller's access plan, the audit trail
    # append-only.
    # Live data: the project-local MQTT broker (its own port, never the machine's 1883) and one
    # consumer process writing readings through the pipeline (MQTT_URL: an existing broker).
    [ -n "${MQTT_URL:-}" ] || "$VENV/bin/iocgis" live broker start
    "$VENV/bin/iocgis" live consume >"$ROOT/var/live-consumer.log" 2>&1 &
    trap 'kill $! 2>/dev/null || true' EXIT
    # What the worker processes share (rate limits, the API-key cache): the project-local Redis
    # (its own port, never the machine's 6379; REDIS_URL: an existing one).
    [ -n "${REDIS_URL:-}" ] || "$VENV/bin/iocgis" redis start
    say "serving on http://${IOCGIS_HOST:-127.0.0.1}:${IOCGIS_PORT:-8000} (Ctrl-C stops)"
    "$VENV/bin/iocgis" serve "$@"
    ;;
  test)
    setup
    # Habits before the tests: lint (ruff: pyflakes, style, import order, bugbear, pyupgrade)
    # and the type checker on the typed core (settings in pyproject.toml).
    say "ruff and mypy"
    "$VENV/bin/ruff" check . || die "ruff found problems (fix them, or run ruff check --fix)"
    "$VENV/bin/mypy" || die "mypy found type errors"
    set +e
    "$VENV/bin/python" -m pytest "$@"
    rc=$?
    set -e
    if [ $rc -eq 5 ]; then die "pytest ran no test"; fi
    exit $rc
    ;;
  *)
    echo "usage: $0 run|test [args]"; exit 2 ;;
esac
