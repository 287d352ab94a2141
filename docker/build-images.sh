#!/usr/bin/env bash
# Builds the party image (testbed/party:latest, or TESTBED_IMAGE) from wheels built on this host, so
# the image build itself needs no package index:
#
#   1. `pip wheel` of the project's dependencies (and its build backend) into docker/wheels/;
#   2. `docker build --build-arg PIP_INSTALL_FROM=wheels --build-arg BASE_IMAGE=$BASE_IMAGE .`
#
#   bash docker/build-images.sh                # BASE_IMAGE=python:3.11-slim (pulled from a registry)
#   bash docker/build-images.sh --local-base   # first builds the Debian base images here
#                                              # (docker/build-base-images.sh) and uses them
#
# With --local-base it prints the two exports to use with docker-compose afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=docker/lib.sh
source "$here/lib.sh"

local_base=0
for arg in "$@"; do
  case "$arg" in
    --local-base) local_base=1 ;;
    *) echo "usage: $0 [--local-base]" >&2; exit 2 ;;
  esac
done

log() { printf '[build-images] %s\n' "$*" >&2; }

if [ "$local_base" = 1 ]; then
  bash "$here/build-base-images.sh"
  BASE_IMAGE="${BASE_IMAGE:-testbed/base-python:bookworm}"
fi
BASE_IMAGE="${BASE_IMAGE:-python:3.11-slim}"
TESTBED_IMAGE="${TESTBED_IMAGE:-testbed/party:latest}"
PYTHON="${PYTHON:-python3}"

# Wheels with compiled code (orjson, asyncpg, pydantic-core, uvloop...) must match the image's
# Python; a base image that can be inspected without pulling is checked here, the others at build.
if image_exists "$BASE_IMAGE"; then
  host_py="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  image_py="$(docker run --rm --entrypoint python3 "$BASE_IMAGE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ "$host_py" != "$image_py" ]; then
    echo "this host's $PYTHON is $host_py but $BASE_IMAGE has Python $image_py: wheels would not fit;" \
         "set PYTHON to a python$image_py" >&2
    exit 1
  fi
fi

start=$(date +%s)
wheels="$here/wheels"
# One build at a time from this tree: another would empty docker/wheels/ under this one's build.
exec 9>"$wheels/.lock"
flock 9
# The wheels of the same pyproject.toml are reused (TESTBED_REFRESH_WHEELS=1 makes them again, with
# whatever newer versions the index has).
stamp="$(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version_info[:2])')"
if [ "${TESTBED_REFRESH_WHEELS:-0}" != 1 ] && [ -f "$wheels/.stamp" ] && [ "$(cat "$wheels/.stamp")" = "$stamp" ] \
    && ls "$wheels"/*.whl >/dev/null 2>&1; then
  log "wheels of this pyproject.toml are in docker/wheels/ already"
else
  find "$wheels" -name '*.whl' -delete
  rm -f "$wheels/.stamp"
  log "pip wheel: the dependencies into docker/wheels/"
  "$PYTHON" -m pip wheel -q -c "$root/constraints.txt" --wheel-dir "$wheels" "$root" 'setuptools>=68' wheel
  # The project itself is built from source inside the image (its own stage); only dependencies here.
  rm -f "$wheels"/nhs_interop_testbed-*.whl
  echo "$stamp" >"$wheels/.stamp"
  log "wheels ready in $(( $(date +%s) - start ))s ($(find "$wheels" -name '*.whl' | wc -l) wheels)"
fi

start=$(date +%s)
log "docker build $TESTBED_IMAGE from $BASE_IMAGE"
previous="$(image_id "$TESTBED_IMAGE")"
out="$(mktemp)"
if ! docker build --force-rm --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg PIP_INSTALL_FROM=wheels \
    -t "$TESTBED_IMAGE" "$root" >"$out" 2>&1; then
  tail -n 40 "$out" >&2
  rm -f "$out"
  exit 1
fi
rm -f "$out"
log "$TESTBED_IMAGE built in $(( $(date +%s) - start ))s"
# The image this tag named before: each rebuild would otherwise leave one more untagged image behind.
drop_if_untagged "$previous"
# Likewise the untagged images of earlier builds' project stage (labelled so in the Dockerfile); the
# newest one is this build's and stays, as the cache of the next.
docker images -q --no-trunc --filter dangling=true --filter label=org.testbed.build-stage=project \
  | tail -n +2 | xargs -r docker rmi >/dev/null 2>&1 || true

if [ "$local_base" = 1 ]; then
  log "for docker-compose: export BASE_IMAGE=$BASE_IMAGE POSTGRES_IMAGE=testbed/postgres:bookworm"
fi
