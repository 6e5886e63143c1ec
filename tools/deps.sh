#!/bin/sh
# Install the Debian packages lux needs: `deps.sh run` for building and serving,
# `deps.sh test` adds what the test suite drives, `deps.sh bench` the servers and load generator
# of the benchmark. As root it installs what is missing; otherwise it prints the apt-get line.
set -e
BUILD="make gcc pkg-config libpcre2-dev libssl-dev libnghttp2-dev zlib1g-dev libbrotli-dev libzstd-dev libbz2-dev libcrypt-dev liblua5.4-dev libsqlite3-dev"
TEST="clang libclang-rt-14-dev curl python3 procps openssl nghttp2-client chromium brotli zstd php-cgi litmus prometheus systemd man-db nodejs"
BENCH="lighttpd lighttpd-mod-openssl lighttpd-mod-deflate lighttpd-mod-magnet lighttpd-mod-webdav nginx h2o wrk util-linux nghttp2-client php-cgi brotli valgrind"

case "$1" in
run) want="$BUILD" ;;
test) want="$BUILD $TEST" ;;
bench) want="$BUILD $TEST $BENCH" ;;
*)
    echo "usage: deps.sh run|test|bench" >&2
    exit 2
    ;;
esac

# The Kubernetes API schemas test_kubernetes_schema.py validates deploy/kubernetes/ against: the
# npm package kubernetes-models, installed into tests/kubernetes/ (npm comes with some nodejs
# builds, and as its own Debian package with Debian's).
kubernetes_schemas() {
    dir=$(dirname "$0")/../tests/kubernetes
    [ -d "$dir/node_modules/kubernetes-models" ] && return 0
    if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm \
            >/dev/null || true
    fi
    if ! command -v npm >/dev/null; then
        echo "npm is missing: the Kubernetes schema tests will be skipped"
        return 0
    fi
    npm install --prefix "$dir" --no-package-lock --no-audit --no-fund --silent ||
        echo "npm install failed: the Kubernetes schema tests will be skipped"
}

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    [ "$1" = run ] || kubernetes_schemas
    exit 0
fi

if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # The packaged servers are benchmark peers or test tools only; they must not hold ports or run as services.
    for s in lighttpd nginx h2o prometheus; do
        systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
    done
    [ "$1" = run ] || kubernetes_schemas
else
    echo "missing Debian packages; run as root:"
    echo "  apt-get install -y$missing"
    exit 1
fi
