#!/bin/sh
# run.sh — what `make run` does after building ./closeloopd and ./closeloop:
#   1. unless CLOSELOOP_DATABASE_URL is set, start a private PostgreSQL in .run/pg;
#   2. closeloopd migrate;
#   0. refuse, changing nothing, when CLOSELOOP_LISTEN is already taken (a second
#      `make run` while one serves);
#   3. replace the "local-admin" token ("local-admin-PORT" off port 8080), write the CLI config
#      ${XDG_CONFIG_HOME:-~/.config}/closeloop/config (mode 0600), or config.make-run
#      beside it when the existing one points at another closeloop;
#   4. closeloopd serve on CLOSELOOP_LISTEN (default 127.0.0.1:8080) until Ctrl-C
#      or SIGTERM, then stop the private PostgreSQL if this script started it,
#      and exit with closeloopd's status.
# shellcheck disable=SC2317 # cleanup and on_int run from traps
set -eu

log() {
    printf 'run: %s\n' "$*" >&2
}
die() {
    log "$*"
    exit 1
}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pgctl="$root/contrib/pgctl.sh"

pgdir=   # set while this script owns a running PostgreSQL
child=   # closeloopd serve, while it runs
timer=   # the pending "INT did not stop it, send TERM" timer

cleanup() {
    rc=$?
    trap '' INT TERM HUP
    if [ -n "$timer" ]; then
        kill "$timer" 2>/dev/null || true
    fi
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    if [ -n "$pgdir" ]; then
        log "stopping PostgreSQL in $pgdir"
        sh "$pgctl" stop "$pgdir" || log "could not stop PostgreSQL in $pgdir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

for b in ./closeloopd ./closeloop; do
    [ -x "$b" ] || die "$b is missing: run 'make run' (it builds first)"
done

CLOSELOOP_LISTEN=${CLOSELOOP_LISTEN:-127.0.0.1:8080}
export CLOSELOOP_LISTEN
host=${CLOSELOOP_LISTEN%:*}
port=${CLOSELOOP_LISTEN##*:}
case $host in
'' | 0.0.0.0 | '*') host=127.0.0.1 ;;
'[::]' | '::') host='[::1]' ;;
esac
url="http://$host:$port"

# Before anything changes (tokens, the CLI config): is the address taken, by an earlier
# `make run` or anything else? curl exits 7 only when nothing accepts the connection.
busy=0
curl -s -m 2 -o /dev/null "$url/healthz" || busy=$?
if [ "$busy" -ne 7 ]; then
    if curl -s -m 2 "$url/healthz" 2>/dev/null | grep -q '"status"'; then
        die "closeloopd is already serving on $CLOSELOOP_LISTEN (an earlier 'make run'?): use it, stop it, or set CLOSELOOP_LISTEN=127.0.0.1:PORT for a second one"
    fi
    die "something already listens on $CLOSELOOP_LISTEN: stop it or set CLOSELOOP_LISTEN=127.0.0.1:PORT"
fi

if [ -z "${CLOSELOOP_DATABASE_URL:-}" ]; then
    dir="$root/.run/pg"
    if ! sh "$pgctl" check "$dir" 2>/dev/null; then
        # The repository's path is too long for a socket, or user postgres
        # cannot reach it (e.g. under /root): keep the cluster in /tmp instead.
        sum=$(printf '%s' "$root" | cksum | cut -d' ' -f1)
        alt="/tmp/closeloop-run-$(id -u)-$sum"
        log "$(sh "$pgctl" check "$dir" 2>&1 || true)"
        log "keeping the private PostgreSQL in $alt instead"
        dir=$alt
    fi
    if sh "$pgctl" status "$dir" >/dev/null 2>&1; then
        log "PostgreSQL in $dir is already running: using it and leaving it running"
    else
        log "starting a private PostgreSQL in $dir"
        pgdir=$dir # from here on, every exit stops it
        sh "$pgctl" start "$dir"
    fi
    CLOSELOOP_DATABASE_URL=$(sh "$pgctl" dsn "$dir")
    export CLOSELOOP_DATABASE_URL
else
    log "using CLOSELOOP_DATABASE_URL from the environment"
fi

./closeloopd migrate || die "closeloopd migrate failed"

# One admin token per address: a second run beside the first (another port) leaves the
# first one's token, and so its CLI config, working.
admin=local-admin
[ "$port" = 8080 ] || admin="local-admin-$port"
./closeloopd token revoke "$admin" >/dev/null 2>&1 || true
token=$(./closeloopd token create --name "$admin" --scope admin) ||
    die "closeloopd token create failed"
case $token in
'' | *[[:space:]]*) die "closeloopd token create did not print a single token" ;;
esac

# The CLI config: written when absent or when it points here already; a config that
# points elsewhere (another closeloop) is left alone, and this run's goes beside it.
confdir="${XDG_CONFIG_HOME:-${HOME:?HOME is not set}/.config}/closeloop"
conf="$confdir/config"
mkdir -p "$confdir"
if [ -f "$conf" ] && ! grep -qx "url = $url" "$conf"; then
    conf="$confdir/config.make-run"
    log "$confdir/config points elsewhere: left as it is"
fi
(
    umask 077
    printf 'url = %s\ntoken = %s\n' "$url" "$token" >"$conf.tmp.$$"
)
chmod 0600 "$conf.tmp.$$"
mv -f "$conf.tmp.$$" "$conf"
unset token
if [ "$conf" = "$confdir/config" ]; then
    log "wrote $conf (url = $url, admin token \"$admin\"): ./closeloop works from another terminal"
else
    log "wrote $conf (url = $url, admin token \"$admin\"): CLOSELOOP_CONFIG=$conf ./closeloop ..."
fi
log "serving on $CLOSELOOP_LISTEN; Ctrl-C stops it"

# closeloopd runs in the background so that `wait` can be interrupted: a SIGTERM
# sent to this script alone is passed on. Ctrl-C reaches closeloopd directly
# (same process group); when INT came to this script alone, TERM follows 5 s later.
./closeloopd serve &
child=$!
on_int() {
    if [ -z "$timer" ]; then
        (sleep 5 && kill -TERM "$child" 2>/dev/null) &
        timer=$!
    fi
}
trap on_int INT
trap 'kill -TERM "$child" 2>/dev/null || true' TERM HUP

while :; do
    status=0
    wait "$child" || status=$?
    # Above 128 is either closeloopd's own status or an interrupted wait:
    # a child that is still there (running or not yet reaped) means the latter.
    if [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; then
        continue
    fi
    break
done
child=
log "closeloopd exited with status $status"
exit "$status"
