#!/usr/bin/env bash
# The apartment-price example on a real PostgreSQL database, end to end: start a server, fill the
# `immo` table, train (query -> Execute Python Script -> DataTransferStep into `immo_model`),
# serve the newest usable model as a web service, then retrain twice as new listings arrive: a
# spoiled fit is stored but not used, a good one replaces the served model.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../scripts/setup.sh"

work=${IMMO_SQL_DIR:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
cp -r "$here/src" "$here"/*.py .
echo "==> working in $work"

echo "==> starting PostgreSQL"
eval "$(python postgres.py start)"
# at the end, whatever happened: show the service's logs on failure, delete it, stop the server
finish() {
  status=$?
  if [ "$status" -ne 0 ]; then amlocal webservice logs immo-sql-prices >&2 || true; fi
  amlocal webservice delete immo-sql-prices >/dev/null 2>&1 || true
  python postgres.py stop "$PGFOLDER" || true
  exit "$status"
}
trap finish EXIT

python make_listings.py create
amlocal workspace create -w immo-sql -g demo-rg --exist-ok --write-config
python register.py

echo "==> training on the 2024 listings"
python train_pipeline.py
echo "==> serving the newest usable model"
python deploy.py
python client.py 25 60 110

echo "==> retraining after the 2025 auctions"
python make_listings.py 2025
python train_pipeline.py
python deploy.py
python client.py 25 60 110

echo "==> retraining with the 2026 listings"
python make_listings.py 2026
python train_pipeline.py
python deploy.py
python client.py 25 60 110
