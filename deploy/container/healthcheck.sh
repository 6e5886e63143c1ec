#!/bin/bash
# The image's HEALTHCHECK: GET server.health-url over loopback and succeed only on 200. The
# runtime image has bash but no HTTP client, so this speaks HTTP/1.0 over bash's /dev/tcp.
# usage: healthcheck [PORT] [PATH]     (defaults: 8080 /healthz)
port=${1:-8080}
path=${2:-/healthz}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
read -r -t 5 version status rest <&3 || exit 1
[ "$status" = 200 ]
