#!/usr/bin/env bash
# Starts the Debian PostgreSQL cluster and makes the test role and database; prints the URL to use.
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
  pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_roles WHERE rolname='testbed'\"" | grep -q 1 \
  || su postgres -c "psql -q -c \"CREATE ROLE testbed LOGIN SUPERUSER PASSWORD 'testbed'\""
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='testbed'\"" | grep -q 1 \
  || su postgres -c "createdb -O testbed testbed"
echo "postgresql+asyncpg://testbed:testbed@127.0.0.1:5432/testbed"
