#!/usr/bin/env bash
# Set up (see setup.sh), install Azurite, and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/azurite.sh --install-only >/dev/null   # Azurite for the blob datastore tests (npm, once)
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
exec "$PYTHON" -m pytest "$@"
