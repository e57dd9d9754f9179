#!/usr/bin/env bash
# The high-spenders example end to end on a fresh machine: set up, make data, register a
# datastore, publish the pipeline, run it by id and show the registered model.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../scripts/setup.sh"

work=${HIGHSPENDERS_DIR:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
cp -r "$here/src" "$here/pipeline.py" "$here/make_customers.py" .
echo "==> working in $work"

python make_customers.py customers.csv
amlocal workspace create -w spenders -g demo-rg --exist-ok --write-config
amlocal datastore register -n MLData --url "file://$work/lake" --overwrite
amlocal datastore upload -n MLData --src-path customers.csv --target-path customers/2026 --overwrite
python pipeline.py
amlocal run submit-pipeline --pipeline-id "$(cat highspenders.id)" --wait
amlocal model show highspender
