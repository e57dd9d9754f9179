#!/usr/bin/env bash
# The sales-forecast example end to end: an Azure Blob datastore (on Azurite), a published
# three-stage pipeline whose trainers run side by side, a parameter from -p, then an unchanged
# resubmit (every step reused) and a changed calendar file (only the steps downstream of it rerun).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bash "$root/scripts/setup.sh"
port=$(bash "$root/scripts/azurite.sh")
endpoint="http://127.0.0.1:$port/devstoreaccount1"

work=${LAKEHOUSE_DIR:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
cp -r "$here/src" "$here/pipeline.py" "$here/register_lake.py" "$here/make_data.py" .
echo "==> working in $work"

python make_data.py raw
amlocal workspace create -w lakehouse -g demo-rg --exist-ok --write-config
python register_lake.py raw "$endpoint"
python -m amlocal.compat pipeline.py      # the pipeline script keeps its azureml imports
id=$(cat lakehouse.id)

echo "==> first run (alpha=0.5)"
amlocal run submit-pipeline -i "$id" -p "alpha=0.5" --wait
echo "==> unchanged resubmit: every step is reused"
amlocal run submit-pipeline -i "$id" -p "alpha=0.5" --wait
amlocal run show "$(amlocal run list --last 1 -o json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["runId"])')" --reuse

echo "==> a new event in the calendar: only the forest trainer and compare rerun"
python - <<'PY'
import csv
rows = list(csv.reader(open("raw/calendar.csv")))
rows[100][1] = "1" if rows[100][1] == "0" else "0"
csv.writer(open("raw/calendar.csv", "w", newline="")).writerows(rows)
PY
amlocal datastore upload -n lake --src-path raw/calendar.csv --target-path raw --overwrite
amlocal run submit-pipeline -i "$id" -p "alpha=0.5" --wait
amlocal run show "$(amlocal run list --last 1 -o json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["runId"])')" --reuse
amlocal dataset show best_sales_model
