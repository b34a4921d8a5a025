#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for the pg_allot tests.
#
#   cluster.sh start   DIR PORT [--preload] [--tcp] [-c name=value]...
#       initdb a new cluster in DIR/data (trust auth, superuser "postgres",
#       UTF8, locale C, no fsync), socket in DIR, log in DIR/log, and start
#       it. --preload sets shared_preload_libraries='pg_allot'; --tcp also
#       listens on 127.0.0.1 (otherwise: unix socket only); -c appends a
#       setting to postgresql.conf. On success prints, on stdout only,
#           export PGHOST=DIR PGPORT=PORT PGUSER=postgres
#       so callers can:  eval "$(cluster.sh start "$dir" 55432 --preload)"
#   cluster.sh restart DIR      start an existing cluster again (after a
#                               stop or a crash); prints the same exports
#   cluster.sh env     DIR      print the exports of an existing cluster
#   cluster.sh status  DIR      exit 0 if the server is running
#   cluster.sh stop    DIR      stop (fast, then immediate); 0 if not running
#   cluster.sh destroy DIR      stop, then remove DIR
#
# Callers should stop the cluster from an EXIT trap:
#   trap 'tests/harness/cluster.sh stop "$dir"' EXIT
#
# When run as root the server runs as the OS user "postgres" (initdb refuses
# root); otherwise as the current user. Everything but the exports goes to
# stderr.
set -euo pipefail

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

pg_ctl_() {
    as_server_user env -u PGHOST -u PGPORT -u PGDATA -u PGUSER -u PGDATABASE \
        -u PGOPTIONS "$PG_BINDIR/pg_ctl" "$@"
}

abs_dir() {
    local d="$1"
    [ -d "$d" ] || return 1
    (cd "$d" && pwd)
}

print_exports() {
    local dir="$1" port
    port="$(cat "$dir/port" 2>/dev/null || true)"
    [ -n "$port" ] || die "$dir/port is missing: not a cluster made by cluster.sh"
    printf 'export PGHOST=%q PGPORT=%q PGUSER=postgres\n' "$dir" "$port"
}

# A pid is alive if it exists and is not a zombie (a killed postmaster can
# linger as a zombie when nothing reaps it, e.g. in containers).
pid_alive() {
    local pid="$1" state
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [ "$state" != Z ]
}

postmaster_pid() {
    head -n 1 "$1/data/postmaster.pid" 2>/dev/null || true
}

is_running() {
    local dir="$1"
    [ -f "$dir/data/postmaster.pid" ] || return 1
    pid_alive "$(postmaster_pid "$dir")"
}

show_log() {
    local dir="$1"
    if [ -f "$dir/log" ]; then
        note "---- last lines of $dir/log ----"
        tail -n 40 "$dir/log" >&2 || true
        note "----"
    fi
}

start_server() {
    local dir="$1"
    if ! pg_ctl_ -D "$dir/data" -l "$dir/log" -w -t 90 start >&2; then
        note "cluster.sh: server in $dir did not start"
        show_log "$dir"
        return 1
    fi
}

cmd_start() {
    [ $# -ge 2 ] || usage
    local dir="$1" port="$2"
    shift 2
    local preload=0 tcp=0
    local -a extra=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --preload) preload=1 ;;
            --tcp) tcp=1 ;;
            -c) [ $# -ge 2 ] || usage; extra+=("$2"); shift ;;
            -c*) extra+=("${1#-c}") ;;
            *) note "cluster.sh: unknown option $1"; usage ;;
        esac
        shift
    done
    case "$port" in
        '' | *[!0-9]*) die "PORT must be a number, got '$port'" ;;
    esac

    mkdir -p "$dir"
    dir="$(abs_dir "$dir")"
    if [ -e "$dir/data" ]; then
        die "$dir/data already exists; use 'cluster.sh restart $dir' or a new DIR"
    fi
    # unix socket paths are limited to 107 bytes
    if [ $(( ${#dir} + 20 )) -gt 107 ]; then
        die "DIR path too long for a unix socket: $dir"
    fi

    local user
    user="$(server_user)"
    if [ "$(id -u)" = 0 ]; then
        chown "$user" "$dir"
    fi
    chmod 755 "$dir"
    if ! as_server_user test -w "$dir"; then
        die "user $user cannot write to $dir (is a parent directory closed to it?)"
    fi

    echo "$port" >"$dir/port"
    if [ "$(id -u)" = 0 ]; then chown "$user" "$dir/port"; fi

    if ! as_server_user "$PG_BINDIR/initdb" -D "$dir/data" --auth=trust -U postgres \
        --no-sync --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
        note "cluster.sh: initdb failed:"
        cat "$dir/initdb.log" >&2
        exit 1
    fi

    local listen="''"
    [ "$tcp" = 1 ] && listen="'127.0.0.1'"
    {
        echo
        echo "# ---- added by tests/harness/cluster.sh ----"
        echo "port = $port"
        echo "listen_addresses = $listen"
        echo "unix_socket_directories = '$dir'"
        echo "max_connections = 300"
        echo "fsync = off"
        echo "full_page_writes = off"
        echo "shared_buffers = 256MB"
        echo "max_wal_size = 2GB"
        echo "logging_collector = off"
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
        echo "lc_messages = 'C'"
        echo "timezone = 'UTC'"
        if [ "$preload" = 1 ]; then
            echo "shared_preload_libraries = 'pg_allot'"
        fi
        local s
        for s in ${extra[@]+"${extra[@]}"}; do
            echo "$s"
        done
    } | as_server_user tee -a "$dir/data/postgresql.conf" >/dev/null

    start_server "$dir" || exit 1
    print_exports "$dir"
}

cmd_restart() {
    [ $# -eq 1 ] || usage
    local dir
    dir="$(abs_dir "$1")" || die "no such directory: $1"
    [ -f "$dir/data/PG_VERSION" ] || die "no cluster in $dir"
    if ! is_running "$dir"; then
        # After a crash, orphaned backends may still hold the old shared
        # memory for a moment; the postmaster refuses to start until they
        # are gone, so retry a few times.
        local try
        for try in 1 2 3 4 5; do
            if start_server "$dir"; then break; fi
            [ "$try" = 5 ] && exit 1
            note "cluster.sh: retrying start ($try)"
            sleep 2
        done
    fi
    print_exports "$dir"
}

cmd_env() {
    [ $# -eq 1 ] || usage
    local dir
    dir="$(abs_dir "$1")" || die "no such directory: $1"
    print_exports "$dir"
}

cmd_status() {
    [ $# -eq 1 ] || usage
    local dir
    dir="$(abs_dir "$1")" || exit 1
    is_running "$dir"
}

cmd_stop() {
    [ $# -eq 1 ] || usage
    local dir
    dir="$(abs_dir "$1")" || return 0
    [ -f "$dir/data/postmaster.pid" ] || return 0
    if ! is_running "$dir"; then
        return 0
    fi
    if pg_ctl_ -D "$dir/data" -m fast -w -t 60 stop >&2; then
        return 0
    fi
    note "cluster.sh: fast stop failed; trying immediate"
    if pg_ctl_ -D "$dir/data" -m immediate -w -t 30 stop >&2; then
        return 0
    fi
    # Last resort: the postmaster we started, by its pid.
    local pid
    pid="$(postmaster_pid "$dir")"
    if pid_alive "$pid"; then
        note "cluster.sh: killing postmaster $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    return 0
}

cmd_destroy() {
    [ $# -eq 1 ] || usage
    [ -d "$1" ] || return 0
    cmd_stop "$1"
    rm -rf -- "$1"
}

[ $# -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
    start) cmd_start "$@" ;;
    restart) cmd_restart "$@" ;;
    env) cmd_env "$@" ;;
    status) cmd_status "$@" ;;
    stop) cmd_stop "$@" ;;
    destroy) cmd_destroy "$@" ;;
    -h | --help | help) usage ;;
    *) note "cluster.sh: unknown command $cmd"; usage ;;
esac
