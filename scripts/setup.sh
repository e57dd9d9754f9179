#!/usr/bin/env bash
# Set up everything amlocal needs on this machine, idempotently:
#   1. the package and its test tools, in the current Python;
#   2. a Docker engine, installed and started when none answers (Debian/Ubuntu, as root);
#   3. a base image for step environments: python:3.11-slim where a registry answers, otherwise
#      one built locally with debootstrap (`amlocal env bootstrap-base`, once per machine);
#   4. for the tests: Debian's Chromium (the page's browser tests), PostgreSQL (the store's) and
#      MariaDB (the MySQL datastores').
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python || command -v python3)}

echo "==> installing amlocal into $("$PYTHON" --version 2>&1)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e ".[test]"
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi  # make the `amlocal` command visible
if ! command -v amlocal >/dev/null 2>&1; then
  echo "warning: the amlocal command is not on PATH; add $("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))') to PATH" >&2
fi

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "No Docker engine answers and this script can only install one as root on Debian/Ubuntu." >&2
      echo "Install and start Docker (https://docs.docker.com/engine/install/), then run this again." >&2
      exit 1
    fi
    echo "==> installing Docker (docker.io) and debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
  echo "==> starting dockerd"
  nohup dockerd >/var/log/amlocal-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/amlocal-dockerd.log" >&2; exit 1; }
fi

if ! docker image inspect python:3.11-slim >/dev/null 2>&1 \
   && ! docker image inspect amlocal/base:bookworm >/dev/null 2>&1; then
  echo "==> looking for a base image"
  if ! docker pull python:3.11-slim >/dev/null 2>&1; then
    echo "==> no registry answers: building the offline base image (about a minute, once)"
    "$PYTHON" -m amlocal.cli env bootstrap-base
  fi
fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  # the studio page's browser tests drive Debian's Chromium (no browser download is needed)
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Chromium (for the studio page's browser tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: no Chromium found; the studio page's browser tests need one (apt-get install chromium)" >&2
  fi
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null 2>&1; then
  # the store's PostgreSQL tests start Debian's server themselves (initdb into a temp folder)
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing PostgreSQL (for the store's PostgreSQL tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "note: no PostgreSQL found; the store's PostgreSQL tests need one (apt-get install postgresql)" >&2
  fi
fi
if ! command -v mariadbd >/dev/null 2>&1 && ! [ -x /usr/sbin/mariadbd ]; then
  # the MySQL datastore tests start Debian's MariaDB themselves (mariadb-install-db into a temp folder)
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing MariaDB (for the MySQL datastore tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  else
    echo "note: no MariaDB found; the MySQL datastore tests need one (apt-get install mariadb-server)" >&2
  fi
fi
echo "==> ready"
