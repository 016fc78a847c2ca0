#!/usr/bin/env bash
# The peers we measure against run from their own virtual environment, so that their pins
# (TiPG's FastAPI, pygeoapi's psycopg2 provider) never touch the project's: bench/.venv-peers.
set -euo pipefail
cd "$(dirname "$0")"
PY=$(../.venv/bin/python -c 'import sys; print(sys.executable)')
BASE=$(../.venv/bin/python -c 'import sys; print(sys.base_prefix)')/bin/python3
if [ ! -x .venv-peers/bin/python ]; then
  "$BASE" -m venv .venv-peers
fi
stamp=.venv-peers/.installed-v2
if [ ! -f "$stamp" ]; then
  .venv-peers/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv-peers/bin/python -m pip install -q 'tipg>=1.0' 'pygeoapi>=0.24' 'psycopg2-binary>=2.9' \
    'geoalchemy2>=0.15' 'sqlalchemy>=2.0' 'uvicorn>=0.30' 'starlette>=0.37' 'gunicorn>=22' \
    'locust>=2.20'  # the load tool of bench/load_bench.py (its own process, its own pins)
  touch "$stamp"
fi
echo "$(pwd)/.venv-peers"
