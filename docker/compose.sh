#!/usr/bin/env bash
# Runs the stack's compose file with whichever compose tool this machine has (`docker compose` or
# the standalone `docker-compose`; TESTBED_COMPOSE overrides), from any directory:
#
#   bash docker/compose.sh up -d
#   bash docker/compose.sh --profile harness run --rm harness
#   bash docker/compose.sh down -v
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=docker/lib.sh
source "$here/lib.sh"
read -r -a tool <<<"$(compose_cmd)"
exec "${tool[@]}" -f "$here/../docker-compose.yml" "$@"
