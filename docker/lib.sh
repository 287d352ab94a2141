# shellcheck shell=bash
# Helpers shared by the scripts in docker/ (sourced, not run).

# The compose command this machine has: TESTBED_COMPOSE when set, else `docker compose` (v2) when
# the plugin answers, else the standalone `docker-compose` (v1). Prints it; fails when there is
# neither.
compose_cmd() {
  if [ -n "${TESTBED_COMPOSE:-}" ]; then
    echo "$TESTBED_COMPOSE"
  elif docker compose version >/dev/null 2>&1; then
    echo "docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then
    echo "docker-compose"
  else
    echo "neither 'docker compose' nor 'docker-compose' is installed" >&2
    return 1
  fi
}

# The Debian archive and security archive this machine's apt already uses, so that the base images
# come from the same place (a local mirror, a proxy) and no host name is written into the project.
# Prints "ARCHIVE_URI SECURITY_URI" (the second may be empty). DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR
# override.
debian_mirrors() {
  local archive="${DEBIAN_MIRROR:-}" security="${DEBIAN_SECURITY_MIRROR:-}"
  local found
  # deb822 files: one stanza per blank-line-separated block, with Types, URIs and Suites fields.
  found=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && uris != "") {
        if (suites ~ /-security/) { if (sec == "") sec = uris }
        else if (arch == "") arch = uris
      }
      types = ""; uris = ""; suites = ""
    }
    /^[ \t]*$/ { flush(); next }
    /^Types:/  { sub(/^Types:[ \t]*/, ""); types = $0 }
    /^URIs:/   { sub(/^URIs:[ \t]*/, ""); split($0, u, /[ \t]+/); uris = u[1] }
    /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
    END { flush(); print arch, sec }')
  local a s
  read -r a s <<<"$found"
  if [ -z "$a" ]; then
    # One-line format: deb [options] URI SUITE COMPONENTS...
    found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i+1) ~ /-security|\/updates/) { if (sec == "") sec = $i }
        else if (arch == "") arch = $i
      }
      END { print arch, sec }')
    read -r a s <<<"$found"
  fi
  archive="${archive:-$a}"
  security="${security:-$s}"
  if [ -z "$archive" ]; then
    echo "no Debian archive found in this machine's apt configuration; set DEBIAN_MIRROR" >&2
    return 1
  fi
  echo "$archive $security"
}

image_exists() {
  docker image inspect "$1" >/dev/null 2>&1
}

image_id() {
  docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true
}

# Removes image $1 (an id) once no tag names it: what a rebuild leaves of the image it replaced.
# Quietly keeps it while a container or another image still uses it.
drop_if_untagged() {
  if [ -n "$1" ] && [ -z "$(docker image inspect -f '{{join .RepoTags " "}}' "$1" 2>/dev/null)" ]; then
    docker rmi "$1" >/dev/null 2>&1 || true
  fi
}
