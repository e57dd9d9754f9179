#!/usr/bin/env bash
# The feature-importance example end to end: set up, then one Execute Python Script step ranks
# the 13 features of scikit-learn's wine data with a random forest; the ranking comes back as
# the step's result table, downloaded and printed here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../../scripts/setup.sh"

work=${FEATURE_IMPORTANCE_DIR:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
cp "$here/pipeline.py" "$here/rank_features.py" .
echo "==> working in $work"

amlocal workspace create -w wine -g demo-rg --exist-ok --write-config
python pipeline.py
