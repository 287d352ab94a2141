#!/usr/bin/env bash
# Builds the base images locally from Debian packages, for machines that cannot pull images from a
# registry:
#
#   testbed/debian:bookworm       debootstrap --variant=minbase bookworm, imported with `docker import`
#   testbed/base-python:bookworm  + Debian's python3 (3.11) with venv and pip   (BASE_IMAGE=...)
#   testbed/postgres:bookworm     + Debian's postgresql (15) with an entrypoint  (POSTGRES_IMAGE=...)
#
# The Debian archive is the one this machine's apt uses (see debian_mirrors in docker/lib.sh).
# An image that already exists is kept; --force builds all three again. Needs root (debootstrap).
#
#   bash docker/build-base-images.sh [--force]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=docker/lib.sh
source "$here/lib.sh"

SUITE=bookworm
DEBIAN_IMAGE="testbed/debian:$SUITE"
PYTHON_IMAGE="testbed/base-python:$SUITE"
POSTGRES_IMAGE="testbed/postgres:$SUITE"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

log() { printf '[build-base-images] %s\n' "$*" >&2; }

quiet_build() {  # docker build, its output shown only when it fails
  local out
  out="$(mktemp)"
  if ! docker build --force-rm "$@" >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}

replaced=()  # ids of the images this run gives a tag to again, removed at the end when unused
remember() {
  local id
  id="$(image_id "$1")"
  if [ -n "$id" ]; then replaced+=("$id"); fi
}

wanted() {  # true when the image must be built
  [ "$force" = 1 ] || ! image_exists "$1"
}

# One build at a time on this machine; a second one waits, then finds the images made.
exec 9>"${TMPDIR:-/tmp}/testbed-build-base-images.lock"
flock 9

if ! wanted "$PYTHON_IMAGE" && ! wanted "$POSTGRES_IMAGE"; then
  log "$PYTHON_IMAGE and $POSTGRES_IMAGE exist (--force rebuilds them)"
  exit 0
fi

mirrors="$(debian_mirrors)"
read -r ARCHIVE SECURITY <<<"$mirrors"

rootfs=""
cleanup() {
  if [ -n "$rootfs" ] && [ -d "$rootfs" ]; then
    # debootstrap mounts proc and sys inside the target; an interrupted run can leave them there.
    awk -v r="$rootfs" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$rootfs"
    rm -f "$rootfs.log"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if wanted "$DEBIAN_IMAGE"; then
  if [ "$(id -u)" != 0 ]; then
    echo "debootstrap needs root: run this script as root (or with sudo)" >&2
    exit 1
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/testbed-debootstrap.XXXXXX")"
  log "debootstrap --variant=minbase $SUITE from $ARCHIVE into $rootfs"
  start=$(date +%s)
  # In the background, so that a signal to this script stops debootstrap too before the clean-up.
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$ARCHIVE" >"$rootfs.log" 2>&1 &
  bootstrap=$!
  trap 'kill "$bootstrap" 2>/dev/null; wait "$bootstrap" 2>/dev/null; exit 130' INT TERM
  wait "$bootstrap" || { tail -n 30 "$rootfs.log" >&2; exit 1; }
  trap 'exit 130' INT TERM
  rm -f "$rootfs.log"
  {
    echo "deb $ARCHIVE $SUITE main"
    echo "deb $ARCHIVE $SUITE-updates main"
    [ -n "$SECURITY" ] && echo "deb $SECURITY $SUITE-security main"
  } >"$rootfs/etc/apt/sources.list"
  # What a container image needs of the packaging, as the official Debian images do it: no
  # recommends, no documentation, no package cache kept in a layer.
  cat >"$rootfs/etc/apt/apt.conf.d/90container" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90container" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/*/changelog*
  remember "$DEBIAN_IMAGE"
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' \
    -m "debootstrap --variant=minbase $SUITE" - "$DEBIAN_IMAGE" >/dev/null
  cleanup
  rootfs=""
  log "$DEBIAN_IMAGE built in $(( $(date +%s) - start ))s"
fi

# The package steps run apt-get inside the build, on the host's network so that they reach the same
# archive as the host does (a build container on the default bridge may not).
if wanted "$PYTHON_IMAGE"; then
  start=$(date +%s)
  remember "$PYTHON_IMAGE"
  quiet_build --network host --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" -t "$PYTHON_IMAGE" - \
    <"$here/base-python.Dockerfile"
  log "$PYTHON_IMAGE built in $(( $(date +%s) - start ))s"
fi

if wanted "$POSTGRES_IMAGE"; then
  start=$(date +%s)
  remember "$POSTGRES_IMAGE"
  quiet_build --network host --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" -t "$POSTGRES_IMAGE" "$here/postgres"
  log "$POSTGRES_IMAGE built in $(( $(date +%s) - start ))s"
fi

# Newest first: an image goes only after the images built on it.
for ((i = ${#replaced[@]} - 1; i >= 0; i--)); do
  drop_if_untagged "${replaced[i]}"
done

log "ready: BASE_IMAGE=$PYTHON_IMAGE POSTGRES_IMAGE=$POSTGRES_IMAGE"
