#!/usr/bin/env bash
# Makes sure a local PostgreSQL server is running for the ledger tests, with a role and a database of
# their own, and prints the URL the tests read from QRRM_TEST_POSTGRES_URL. Installs Debian's
# postgresql package when it is missing (as root; otherwise prints the apt-get line and fails).
set -euo pipefail
ROLE=qrrm
DATABASE=qrrm_test
PASSWORD=qrrm

if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "PostgreSQL is missing. Run: sudo apt-get update && sudo apt-get install -y postgresql" >&2
        exit 1
    fi
    echo "Installing Debian's postgresql" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
fi

as_postgres() {
    if [[ $(id -u) -eq 0 ]]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi
}

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
    as_postgres "pg_createcluster $version main" >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    as_postgres "pg_ctlcluster $version main start" >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')

for _ in $(seq 50); do as_postgres "pg_isready -q -p $port" && break; sleep 0.2; done
as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'\"" | grep -q 1 \
    || as_postgres "psql -p $port -qc \"CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'\"" >&2
as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname = '$DATABASE'\"" | grep -q 1 \
    || as_postgres "psql -p $port -qc \"CREATE DATABASE $DATABASE OWNER $ROLE\"" >&2

echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE"
