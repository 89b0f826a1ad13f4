#!/bin/sh
# pgctl.sh — a private PostgreSQL cluster kept in one directory, reachable only
# through a unix socket in that directory.
#
#   pgctl.sh start DIR [--fast]   initdb on first use, start (no-op when running),
#                                 create database "closeloop" when missing
#   pgctl.sh stop DIR             fast shutdown (no-op when not running)
#   pgctl.sh dsn DIR              print the libpq URL of database "closeloop"
#   pgctl.sh status DIR           print running/stopped; exit 0 running, 3 not
#   pgctl.sh check DIR            exit 0 when DIR can hold a cluster (socket path
#                                 length, reachable by the server's user)
#
# PostgreSQL refuses to run as root: as root the server runs as user "postgres"
# (CLOSELOOP_PG_OSUSER to change it) and DIR is handed to that user; otherwise it
# runs as the calling user. Authentication is "trust" on the socket, so any local
# user (root included) connects as that user. --fast (fsync, synchronous_commit
# and full_page_writes off) is for throwaway test clusters only.
# PG_BINDIR overrides where initdb/pg_ctl/psql are looked up.
set -eu

me=pgctl.sh
die() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 1
}
say() {
    printf '%s: %s\n' "$me" "$*" >&2
}
usage() {
    sed -n '5,11s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

# Highest-numbered /usr/lib/postgresql/N/bin with initdb, else initdb on PATH.
find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/pg_ctl" ] || die "PG_BINDIR=$PG_BINDIR has no pg_ctl"
        printf '%s\n' "$PG_BINDIR"
        return
    fi
    best=
    best_v=0
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] || continue
        v=${d%/bin}
        v=${v##*/}
        case $v in *[!0-9]* | '') continue ;; esac
        if [ "$v" -gt "$best_v" ]; then
            best=$d
            best_v=$v
        fi
    done
    if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
        best=$(dirname "$(command -v initdb)")
    fi
    [ -n "$best" ] || die "PostgreSQL server programs (initdb, pg_ctl) not found: run 'make deps' or set PG_BINDIR"
    printf '%s\n' "$best"
}

# Absolute path without requiring DIR to exist.
abspath() {
    case $1 in
    /*) p=$1 ;;
    *) p=$(pwd)/$1 ;;
    esac
    if [ -d "$p" ]; then
        (cd "$p" && pwd)
    else
        printf '%s\n' "$p" | sed 's://*:/:g; s:/$::'
    fi
}

# Percent-encodes everything but unreserved characters and "/".
urlencode() {
    printf '%s' "$1" | od -An -v -tx1 | tr -s ' ' '\n' | while read -r h; do
        [ -n "$h" ] || continue
        case $h in
        2[def] | 3[0-9] | 4[1-9a-f] | 5[0-9a] | 5f | 6[1-9a-f] | 7[0-9a] | 7e)
            # shellcheck disable=SC2059 # the format is the octal escape itself
            printf "\\$(printf '%03o' "0x$h")"
            ;;
        *) printf '%%%s' "$(printf '%s' "$h" | tr 'a-f' 'A-F')" ;;
        esac
    done
}

# Runs a command as the server's OS user, from "/" so that the user never
# needs access to the caller's working directory.
as_pg() {
    if [ "$is_root" = 1 ]; then
        (cd / && runuser -u "$pg_os_user" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Nearest existing ancestor of $1 (itself included).
existing_ancestor() {
    a=$1
    while [ ! -d "$a" ]; do
        a=$(dirname "$a")
    done
    printf '%s\n' "$a"
}

# Prints why DIR cannot hold a cluster, or nothing.
check_problem() {
    sock="$dir/.s.PGSQL.5432"
    if [ "${#sock}" -gt 107 ]; then
        echo "socket path $sock is ${#sock} bytes; unix sockets allow about 107: use a shorter directory"
        return
    fi
    if [ "$is_root" = 1 ]; then
        anc=$(existing_ancestor "$dir")
        if ! as_pg test -x "$anc"; then
            echo "user $pg_os_user cannot reach $anc: every parent directory of $dir needs o+x (chmod o+x ...), or use a directory under /tmp"
        fi
    fi
}

is_running() {
    [ -f "$dir/data/PG_VERSION" ] || return 1
    as_pg "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

# Settings rewritten on every start; postgresql.conf includes this file.
write_settings() {
    q=$(printf '%s' "$dir" | sed "s/'/''/g")
    conf="$dir/data/closeloop.conf"
    {
        echo "# Written by contrib/pgctl.sh on every start; edits are lost."
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$q'"
        echo "port = 5432"
        echo "max_connections = 100"
        if [ "$fast" = 1 ]; then
            echo "# --fast: throwaway cluster, durability off"
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } >"$conf.tmp"
    if [ "$is_root" = 1 ]; then
        chown "$pg_os_user" "$conf.tmp"
    fi
    chmod 0600 "$conf.tmp"
    mv -f "$conf.tmp" "$conf"
}

do_initdb() {
    if [ -d "$dir/data" ]; then
        # An initdb that was interrupted leaves a data directory without PG_VERSION.
        say "removing incomplete data directory $dir/data"
        as_pg rm -rf "$dir/data"
    fi
    locale=C
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\{0,1\}8'; then
        locale=C.UTF-8
    fi
    say "initdb into $dir/data (user $pg_os_user)"
    if ! as_pg "$bindir/initdb" -D "$dir/data" -A trust -E UTF8 --locale="$locale" \
        -U "$pg_os_user" >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    fi
    printf "\ninclude_if_exists = 'closeloop.conf'\n" >>"$dir/data/postgresql.conf"
}

psql_pg() {
    "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir" -p 5432 -U "$pg_os_user" "$@"
}

do_start() {
    problem=$(check_problem)
    [ -z "$problem" ] || die "$problem"
    if is_running; then
        ensure_database
        return
    fi
    mkdir -p "$dir"
    if [ "$is_root" = 1 ]; then
        chown "$pg_os_user" "$dir"
        [ ! -e "$dir/log" ] || chown "$pg_os_user" "$dir/log"
    fi
    [ -f "$dir/data/PG_VERSION" ] || do_initdb
    write_settings
    if ! as_pg "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/log" -w -t 60 -s; then
        tail -n 30 "$dir/log" >&2 2>/dev/null || true
        die "PostgreSQL did not start (log: $dir/log)"
    fi
    ensure_database
}

ensure_database() {
    have=$(psql_pg -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'closeloop'") ||
        die "cannot connect to the server in $dir"
    if [ "$have" != 1 ]; then
        psql_pg -d postgres -c 'CREATE DATABASE closeloop' || die "cannot create database closeloop"
    fi
}

do_stop() {
    [ -f "$dir/data/postmaster.pid" ] || return 0
    if ! as_pg "$bindir/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 -s; then
        if is_running; then
            die "PostgreSQL in $dir did not stop"
        fi
    fi
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2
fast=0
for a in "$@"; do
    case $a in
    --fast) fast=1 ;;
    *) usage ;;
    esac
done
[ -n "$dir" ] || usage
dir=$(abspath "$dir")

if [ "$(id -u)" = 0 ]; then
    is_root=1
    pg_os_user=${CLOSELOOP_PG_OSUSER:-postgres}
    id "$pg_os_user" >/dev/null 2>&1 ||
        die "user $pg_os_user does not exist (PostgreSQL cannot run as root): run 'make deps'"
    command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)"
else
    is_root=0
    pg_os_user=$(id -un)
fi

case $cmd in
start)
    bindir=$(find_bindir)
    do_start
    ;;
stop)
    [ -d "$dir" ] || exit 0
    bindir=$(find_bindir)
    do_stop
    ;;
status)
    bindir=$(find_bindir)
    if is_running; then
        echo "running ($dir)"
    else
        echo "stopped ($dir)"
        exit 3
    fi
    ;;
dsn)
    printf 'postgresql:///closeloop?host=%s&user=%s\n' "$(urlencode "$dir")" "$(urlencode "$pg_os_user")"
    ;;
check)
    problem=$(check_problem)
    if [ -n "$problem" ]; then
        say "$problem"
        exit 1
    fi
    ;;
*) usage ;;
esac
