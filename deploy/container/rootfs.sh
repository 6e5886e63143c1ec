#!/bin/sh
# Assemble the container image's files under DEST: the lux binary, exactly the shared libraries
# it loads (from ldd) with the dynamic loader, the default configuration, the health check and
# an empty document root. The Containerfile runs this in its build stage and copies DEST onto
# the runtime image; the tests run the binary from DEST with nothing else, so the list is proven
# complete without a container runtime.
#
# usage: rootfs.sh BINARY DEST     (prints every file it placed, relative to DEST)
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 BINARY DEST" >&2
    exit 2
fi
bin=$1
dest=$2
here=$(cd "$(dirname "$0")" && pwd)

place() { # place SOURCE TARGET-PATH-IN-DEST [MODE]
    mkdir -p "$dest$(dirname "$2")"
    cp -L "$1" "$dest$2"
    chmod "${3:-0644}" "$dest$2"
    echo "$2"
}

# The libraries ldd resolves ("name => /path (addr)") and the loader ("/lib64/ld-... (addr)").
# A library ldd cannot find makes the image useless: stop rather than ship it.
libs=$(ldd "$bin")
if echo "$libs" | grep -q "not found"; then
    echo "$0: $bin needs libraries that are not installed:" >&2
    echo "$libs" | grep "not found" >&2
    exit 1
fi

# Each library goes where its directory really is: on a merged-/usr system (Debian's images)
# ldd names /lib/x86_64-linux-gnu/..., and /lib is a symlink to usr/lib there; a real /lib in
# the image's layer would replace that symlink and hide the base's own libraries. The file name
# stays the one the loader looks for.
canonical() {
    echo "$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"
}

place "$bin" /usr/sbin/lux 0755
echo "$libs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
    while read -r lib; do canonical "$lib"; done | sort -u | while read -r lib; do
        place "$lib" "$lib" 0755
    done
place "$here/lux.conf" /etc/lux/lux.conf
place "$here/healthcheck.sh" /usr/libexec/lux/healthcheck 0755
place "$here/index.html" /var/www/html/index.html
