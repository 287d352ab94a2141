#!/bin/sh
# Run once by the PostgreSQL image on a new cluster (the official postgres image and
# testbed/postgres alike): one database per party, owned by POSTGRES_USER. TESTBED_DATABASES names
# them (default: spine pas gp broker).
for db in ${TESTBED_DATABASES:-spine pas gp broker}; do
  echo "creating database $db"
  psql -v ON_ERROR_STOP=1 -q --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
    -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\"" || exit 1
done
