#!/usr/bin/env bash
# Run the benchmarks, each against its peer in the same run; each rewrites its own section of
# bench/RESULTS.md. `./bench/run.sh` runs all; `./bench/run.sh tiles queries` runs those.
# First use builds the province demo (about 1M parcels) into database iocgis_bench (cached)
# and the peers' virtual environment (TiPG, stock pygeoapi) in bench/.venv-peers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "run ./iocgis.sh test (or run) first: it creates .venv" >&2; exit 1; }
[ -n "${DATABASE_URL:-}" ] || .venv/bin/iocgis db start >/dev/null
bench/peers.sh >/dev/null
all=(import features tiles tiles_cached queries access diff planning live reports workers load replica)
chosen=("$@")
[ ${#chosen[@]} -gt 0 ] || chosen=("${all[@]}")
for name in "${chosen[@]}"; do
  case " ${all[*]} " in *" $name "*) ;; *) echo "unknown benchmark '$name' (choose from: ${all[*]})" >&2; exit 2 ;; esac
  echo "== $name =="
  .venv/bin/python "bench/${name}_bench.py"
done
