#!/bin/sh
# Entry point of the party image. `docker run IMAGE spine|pas|gp|broker|middleware|legacy-pas
# [uvicorn options]` starts
# that party on its <PREFIX>_HOST (default 0.0.0.0) and <PREFIX>_PORT; any other command
# (`uvicorn --factory <package>.app:create_app ...`, `testbed run ...`, a shell) runs as given.
set -e

party() {
  package=$1 prefix=$2 default_port=$3
  shift 3
  eval "host=\${${prefix}_HOST:-0.0.0.0} port=\${${prefix}_PORT:-$default_port}"
  # The party reads the same variables to say where it is. Idle connections are kept longer than
  # clients keep them (4-5 s), so the server never closes one under a request being sent.
  # shellcheck disable=SC2154  # host and port are set by the eval above
  export "${prefix}_HOST=$host" "${prefix}_PORT=$port"
  exec uvicorn --factory "$package.app:create_app" --host "$host" --port "$port" \
    --no-access-log --timeout-graceful-shutdown 5 --timeout-keep-alive 30 "$@"
}

case "${1:-}" in
  spine)  shift; party spine_mock SPINE 8001 "$@" ;;
  pas)    shift; party trust_pas PAS 8002 "$@" ;;
  gp)     shift; party gp_system GP 8003 "$@" ;;
  broker) shift; party booking_broker BROKER 8000 "$@" ;;
  middleware) shift; party middleware MIDDLEWARE 8004 "$@" ;;
  legacy-pas) shift; party legacy_pas LEGACY_PAS 8005 "$@" ;;
  *)      exec "$@" ;;
esac
