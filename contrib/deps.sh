#!/bin/sh
# deps.sh — install the Debian packages closeloop needs to build, run and test,
# and only those that are missing. Fast (one dpkg-query) when all are present.
# As root it runs apt-get itself; otherwise through sudo when there is one.
set -eu

PACKAGES="gcc make pkg-config libev-dev libpq-dev libcurl4-openssl-dev libjansson-dev
libmicrohttpd-dev libssl-dev libcmocka-dev libcmark-dev libical-dev postgresql postgresql-client python3
python3-icalendar curl wrk
openssl clang libclang-rt-14-dev clang-format zsh groff-base python3-aiosmtpd libcairo2-dev libfontconfig-dev chromium"
# Node.js runs the OpenAPI conformance check of the tests (npm packages, pinned in
# tests/conformance); a node already on PATH (e.g. from nodesource) is used as it is.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES="$PACKAGES nodejs npm"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found: this script knows Debian only; install the equivalents of:" >&2
    printf '  %s\n' "$(printf '%s' "$PACKAGES" | tr '\n' ' ')" >&2
    exit 1
fi

nl='
'
# One line "NAME STATUS" per package dpkg knows; unknown packages only complain on stderr.
# shellcheck disable=SC2086 # word splitting of the package list is intended
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $PACKAGES 2>/dev/null || true)

missing=
for p in $PACKAGES; do
    case "$nl$installed$nl" in
    *"$nl$p installed$nl"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" = 0 ]; then
    sudo=
elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
else
    echo "deps.sh: these Debian packages are missing:$missing" >&2
    echo "deps.sh: not root and no sudo: as root run" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi

echo "deps.sh: installing:$missing" >&2
# shellcheck disable=SC2086 # $sudo may be empty; $missing is a list
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing

# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $missing 2>/dev/null || true)
still=
for p in $missing; do
    case "$nl$installed$nl" in
    *"$nl$p installed$nl"*) ;;
    *) still="$still $p" ;;
    esac
done
if [ -n "$still" ]; then
    echo "deps.sh: still missing after apt-get install:$still" >&2
    exit 1
fi
