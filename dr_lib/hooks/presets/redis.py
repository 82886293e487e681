"""The Redis preset: an RDB over the replication protocol out, the same protocol back in.

Redis loads an RDB file only when it starts, and with ``appendonly yes`` not even then (it
loads its AOF): the first version of this preset wrote the file into the server's ``dir`` and
shut the server down for the kubelet to restart it, and the real Redis 7.0 on our node
restarted on its AOF — the restored keys silently gone, the verify still happy. So the restore
now starts a private ``redis-server`` on a loopback port that loads the RDB, makes the running
server its replica (a full resync replaces every key and, with AOF, rewrites the AOF), waits
for the sync, and promotes it back with ``REPLICAOF NO ONE``: no restart, any persistence
setting, and the verify step talks to the restored data.
"""

from __future__ import annotations

from dr_lib.hooks.presets.model import Preset

_AUTH = ('P="${REDISCLI_AUTH:-${REDIS_PASSWORD:-}}"; if [ -n "$P" ]; then REDISCLI_AUTH="$P"; export REDISCLI_AUTH; '
         'fi; r() { redis-cli --no-auth-warning "$@" | tr -d "\\r"; }; ')
# "db0=12 db3=1 ": keys without an expiry per database — what a sync must carry over exactly (keys with a TTL may
# expire on the way).
_PERSISTENT = ('persistent() { sed -n "s/^\\(db[0-9]*\\):keys=\\([0-9]*\\),expires=\\([0-9]*\\).*/\\1 \\2 \\3/p" '
               '| while read -r d k e; do printf "%s=%s " "$d" $((k - e)); done; }; ')
# The private server: the RDB in a 0700 directory, a loopback port derived from our pid (three tries), the
# replication credentials the running server will present (masteruser/masterauth), no persistence of its own.
_PRIVATE = (
    'q() { printf "%s" "$1" | sed \'s/[\\\\"]/\\\\&/g\'; }; '
    'A=$(r CONFIG GET masterauth | sed -n 2p); MU=$(r CONFIG GET masteruser | sed -n 2p); pid=; replica=0; '
    # the private server is our child: killed and reaped here (the container's PID 1 may never reap orphans)
    'cleanup() { [ "$replica" = 1 ] && r REPLICAOF NO ONE >/dev/null 2>&1; '
    'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$W"; }; trap cleanup EXIT; '
    't() { if [ -n "$A" ]; then REDISCLI_AUTH="$A" redis-cli --no-auth-warning -p "$PORT" ${MU:+--user "$MU"} "$@"; '
    'else (unset REDISCLI_AUTH; redis-cli -p "$PORT" "$@"); fi | tr -d "\\r"; }; '
    'for PORT in $((20000 + $$ % 15000)) $((35000 + $$ % 15000)) $((50000 + $$ % 15000)); do '
    '{ printf \'port %s\\nbind 127.0.0.1\\ndir "%s"\\ndbfilename dump.rdb\\nsave ""\\nappendonly no\\n'
    'repl-diskless-sync-delay 0\\n\' "$PORT" "$W"; '
    'if [ -n "$MU" ]; then printf \'user default off\\nuser "%s" on ">%s" ~* &* +@all\\n\' "$(q "$MU")" "$(q "$A")"; '
    'elif [ -n "$A" ]; then printf \'requirepass "%s"\\n\' "$(q "$A")"; fi; } > "$W/redis.conf"; '
    'redis-server "$W/redis.conf" > "$W/log" 2>&1 & pid=$!; i=0; '
    'while kill -0 "$pid" 2>/dev/null && [ "$(t PING 2>/dev/null)" != PONG ]; do i=$((i + 1)); '
    '[ "$i" -lt 3000 ] || break; sleep 0.2; done; '
    '[ "$(t PING 2>/dev/null)" = PONG ] && break; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; done; '
    '[ -n "$pid" ] || { echo "k3s-dr: a private redis-server could not load the RDB:" >&2; tail -n 5 "$W/log" >&2; '
    'exit 1; }; ')
_SYNC = (
    'want=$(t INFO keyspace | persistent); '
    # redis-cli exits 0 on an error reply (a renamed or refused REPLICAOF): the reply itself must be OK
    'ok=$(r REPLICAOF 127.0.0.1 "$PORT"); [ "$ok" = OK ] || { echo "k3s-dr: the server refused REPLICAOF: $ok" >&2; '
    'exit 1; }; replica=1; i=0; '
    'while :; do s=$(r INFO replication); case "$s" in *master_link_status:up*master_sync_in_progress:0*) break;; '
    'esac; i=$((i + 1)); [ "$i" -lt 3000 ] || { echo "k3s-dr: the sync from the private server did not finish" >&2; '
    'exit 1; }; sleep 0.2; done; '
    'while r INFO persistence | grep -q "^loading:1"; do sleep 0.2; done; '
    'ok=$(r REPLICAOF NO ONE); [ "$ok" = OK ] || { echo "k3s-dr: REPLICAOF NO ONE failed: $ok" >&2; exit 1; }; '
    'replica=0; have=$(r INFO keyspace | persistent); '
    '[ "$want" = "$have" ] || { echo "k3s-dr: the RDB held persistent keys $want but the server now holds $have" >&2; '
    'exit 1; }; '
    # With AOF off, save the restored data now rather than at the next save point.
    'case "$(r INFO persistence)" in *aof_enabled:0*) r BGSAVE >&2;; esac; '
    'echo "k3s-dr: restored keys without expiry: ${have:-none}" >&2')

REDIS = Preset(
    name="redis", engine="Redis",
    scripts={
        "dump": _AUTH + 'F=$(mktemp); trap \'rm -f "$F"\' EXIT; redis-cli --no-auth-warning --rdb "$F" >&2 '
                        '&& cat "$F"',
        "restore": _AUTH + _PERSISTENT +
        'role=$(r INFO replication | sed -n "s/^role://p"); [ "$role" = master ] || { echo "k3s-dr: this Redis is a '
        '${role:-server that did not answer}: restore into the master, never a replica" >&2; exit 1; }; '
        'umask 077; W=$(mktemp -d) || exit 1; cat > "$W/dump.rdb" || exit 1; ' + _PRIVATE + _SYNC,
        "verify": _AUTH + _PERSISTENT +
        'role=$(r INFO replication | sed -n "s/^role://p"); [ "$role" = master ] || { echo "k3s-dr: the restored Redis '
        'is a ${role:-server that did not answer}, not a master (REPLICAOF NO ONE undoes a stopped restore)" >&2; '
        'exit 1; }; echo "role master, keys without expiry: $(r INFO keyspace | persistent)dbsize $(r DBSIZE)"',
    },
    magic=(b"REDIS",),
    params=(),
    reason="redis-cli --rdb asks the server for a fresh RDB snapshot over the replication protocol (point in time, "
           "no SAVE on the server's disk; the server first waits its repl-diskless-sync-delay, 5 s by default); the "
           "restore hands the RDB back the same way — a private redis-server loads it and the running server "
           "resyncs from it (REPLICAOF, then REPLICAOF NO ONE), which replaces every key with no restart and works "
           "with AOF on (a restart would load the AOF, not the RDB); the keys without an expiry are counted on both "
           "sides; the password goes through REDISCLI_AUTH; a restore killed during the sync leaves the server a "
           "replica, which the verify step reports",
    tested="real: Debian's Redis 7.0 on the real node, with AOF on (tests/integration/test_hooks_real.py)",
)
