#!/usr/bin/env bash
# Azurite, Microsoft's Azure Storage emulator (blob service only), for tests and local datastores.
#
#   bash scripts/azurite.sh                 # install once, start on 127.0.0.1:$AZURITE_PORT, print the port
#   bash scripts/azurite.sh --install-only  # install once, print the path of azurite-blob
#
# Environment:
#   AZURITE_PORT    blob port (default 10000)
#   AZURITE_PREFIX  npm prefix the package is installed into (default ~/.cache/amlocal-azurite)
#   AZURITE_DIR     where the started emulator keeps its data (default $AZURITE_PREFIX/data)
#
# Installing is idempotent (npm runs only when azurite-blob is missing) and quiet. When something
# already answers on the port nothing is started. A started emulator runs in the background with
# --disableTelemetry (without it Azurite tries to reach the internet); its pid is written to
# $AZURITE_DIR/azurite-<port>.pid and its log to $AZURITE_DIR/azurite-<port>.log.
# The emulator's account is the public development account: devstoreaccount1 and its
# well-known key (see tests/azurite.py).
set -euo pipefail

PORT="${AZURITE_PORT:-10000}"
PREFIX="${AZURITE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/amlocal-azurite}"
DATA="${AZURITE_DIR:-$PREFIX/data}"
BIN="$PREFIX/node_modules/.bin/azurite-blob"

say() { echo "azurite.sh: $*" >&2; }

install_azurite() {
    [ -x "$BIN" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing nodejs and npm (apt-get)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null \
                || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
                     apt-get install -y -qq nodejs npm >/dev/null; }
        else
            say "npm is missing: install Node.js 18 or newer (with npm), then run this again"
            exit 1
        fi
    fi
    say "installing the npm package azurite into $PREFIX (once)"
    mkdir -p "$PREFIX"
    npm install --prefix "$PREFIX" --silent --no-audit --no-fund --no-save azurite >/dev/null
    [ -x "$BIN" ] || { say "npm did not install $BIN"; exit 1; }
}

answers() {  # true when something accepts TCP connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

install_azurite
if [ "${1:-}" = "--install-only" ]; then
    echo "$BIN"
    exit 0
fi

if answers "$PORT"; then
    say "something already answers on 127.0.0.1:$PORT; not starting another emulator"
    echo "$PORT"
    exit 0
fi

mkdir -p "$DATA"
nohup "$BIN" --disableTelemetry --silent --skipApiVersionCheck --location "$DATA" \
    --blobHost 127.0.0.1 --blobPort "$PORT" >"$DATA/azurite-$PORT.log" 2>&1 &
echo $! >"$DATA/azurite-$PORT.pid"
for _ in $(seq 1 150); do   # up to 30 s
    if answers "$PORT"; then
        echo "$PORT"
        exit 0
    fi
    if ! kill -0 "$(cat "$DATA/azurite-$PORT.pid")" 2>/dev/null; then
        say "azurite-blob exited; its log:"
        cat "$DATA/azurite-$PORT.log" >&2
        exit 1
    fi
    sleep 0.2
done
say "azurite-blob did not answer on 127.0.0.1:$PORT within 30 s (log: $DATA/azurite-$PORT.log)"
exit 1
