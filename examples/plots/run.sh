#!/usr/bin/env bash
# The plots example end to end: an Execute Python Script step draws a scatter plot and a
# histogram with matplotlib. A batch run keeps them as the step's python device output (fetched
# with `amlocal run download`); the same pipeline served as a web service returns the scatter
# plot as a data:image/png;base64 cell, which the client decodes to a PNG file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../scripts/setup.sh"

work=${PLOTS_DIR:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
cp "$here/pipeline.py" "$here/plot.py" "$here/client.py" .
echo "==> working in $work"
# the service keeps running after deploy.py exits: show its logs if something failed, then
# delete it
finish() {
  status=$?
  if [ "$status" -ne 0 ]; then amlocal webservice logs scatter-plots >&2 || true; fi
  amlocal webservice delete scatter-plots >/dev/null 2>&1 || true
  exit "$status"
}
trap finish EXIT

amlocal workspace create -w plots -g demo-rg --exist-ok --write-config
echo "==> publish, and one batch run on the example points"
python pipeline.py
amlocal run download "$(cat plots.step_run_id)" --prefix python_device/ -t images
echo "==> the same pipeline as a web service"
python client.py "$(cat plots.id)" from_service.png
