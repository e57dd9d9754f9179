#!/usr/bin/env bash
# The apartment-price example end to end (Studio's classic tutorial, our own data): train
# `price ~ surface` in an Execute Python Script step, serve a scoring pipeline as a web service,
# ask it for prices with a plain HTTP client, then retrain twice: a worse model is discarded, a
# better one replaces the served one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../scripts/setup.sh"

work=${IMMO_DIR:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
cp -r "$here/src" "$here"/*.py .
echo "==> working in $work"
# the service keeps running after deploy.py exits: show its logs if something failed, then
# delete it
finish() {
  status=$?
  if [ "$status" -ne 0 ]; then amlocal webservice logs immo-prices >&2 || true; fi
  amlocal webservice delete immo-prices >/dev/null 2>&1 || true
  exit "$status"
}
trap finish EXIT

python make_flats.py data
amlocal workspace create -w immo -g demo-rg --exist-ok --write-config
amlocal datastore register -n immo --url "file://$work/lake" --overwrite
amlocal datastore upload -n immo --src-path data --target-path flats --overwrite

echo "==> training on the 2024 listings"
python train_pipeline.py flats_2024.csv
echo "==> serving the model"
python deploy.py
python client.py 25 60 110

echo "==> retraining on six hand-typed listings"
python train_pipeline.py flats_2025.csv
echo "==> retraining on the 2026 listings"
python train_pipeline.py flats_2026.csv
python deploy.py
python client.py 25 60 110
amlocal dataset show immo_model
