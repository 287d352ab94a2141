#!/bin/bash
# HEALTHCHECK of the party image: GET /health of the uvicorn server running in this container. Plain
# bash (/dev/tcp), so a check every second or two costs milliseconds, not a Python start-up.
# The port is the one uvicorn was started with (--port, as /proc shows it), so one image serves
# every party whatever its port; UVICORN_PORT or uvicorn's default 8000 otherwise.
port=""
for cmdline in /proc/[0-9]*/cmdline; do
  mapfile -d '' -t argv <"$cmdline" 2>/dev/null || continue
  [[ "${argv[*]:0:3}" == *uvicorn* ]] || continue
  for ((i = 0; i < ${#argv[@]}; i++)); do
    case "${argv[i]}" in
      --port) port="${argv[i + 1]}" ;;
      --port=*) port="${argv[i]#--port=}" ;;
    esac
  done
  [ -n "$port" ] && break
done
port="${port:-${UVICORN_PORT:-8000}}"

exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
read -r -t 3 status <&3 || { echo "no answer on port $port"; exit 1; }
[[ "$status" == HTTP/1.?" 200"* ]] || { echo "port $port: $status"; exit 1; }
