"""MariaDB and Redis as real workloads for the presets' round trips: Debian's servers on the real node.

Pure manifest builders and the fingerprints the tests compare (no I/O). Both run from
:data:`k3s_dr_testbed.apps.images.SERVERS_REF` as a one-replica StatefulSet on a hostPath
volume, the password from a Secret (``secretKeyRef``) — MariaDB's root account has no
unix-socket login, so the hooks must present it; Redis runs with ``requirepass`` and AOF on.
"""

from __future__ import annotations

from pathlib import Path

from dr_lib.jsontypes import JSONObject
from k3s_dr_testbed.apps.images import SERVERS_REF

# The database's name comes from MARIADB_DATABASE: quoted here with backticks doubled, so any name works.
_MARIADB_START = r"""set -e
D=/var/lib/mysql-data
mkdir -p "$D" /run/mysqld
chown mysql:mysql "$D" /run/mysqld
if [ ! -d "$D/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$D" --auth-root-authentication-method=normal --skip-test-db >/dev/null
  mariadbd --user=mysql --datadir="$D" --skip-networking --socket=/run/mysqld/init.sock & pid=$!
  i=0; until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 120 ] || exit 1; sleep 0.5; done
  pw=$(printf %s "$MARIADB_ROOT_PASSWORD" | sed "s/[\\']/\\\\&/g")
  db=$(printf %s "$MARIADB_DATABASE" | sed 's/`/``/g')
  printf "ALTER USER root@localhost IDENTIFIED BY '%s'; CREATE DATABASE \`%s\`;" "$pw" "$db" \
    | mariadb --socket=/run/mysqld/init.sock
  kill "$pid"; wait "$pid" || true
fi
exec mariadbd --user=mysql --datadir="$D" --bind-address=127.0.0.1 --socket=/run/mysqld/mysqld.sock
"""

_REDIS_PING = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --no-auth-warning ping | grep -q PONG'
_REDIS_START = r"""set -e
mkdir -p /data
pw=$(printf %s "$REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')
printf 'requirepass "%s"\nappendonly yes\ndir /data\nbind 127.0.0.1\n' "$pw" > /run/redis.conf
exec redis-server /run/redis.conf
"""

# A table's fingerprint: row count, an md5 over the rows in key order, and the server's own CHECKSUM TABLE.
MARIADB_FINGERPRINT = ("SET SESSION group_concat_max_len = 67108864; "
                       "SELECT COUNT(*), MD5(GROUP_CONCAT(id, ':', title ORDER BY id SEPARATOR ',')) FROM items; "
                       "CHECKSUM TABLE items")

# 301 keys of every type, one with a day-long TTL.
REDIS_SEED = """
for i = 1, 200 do redis.call('SET', 'str:' .. i, 'value-' .. i) end
for i = 1, 30 do redis.call('HSET', 'hash:' .. i, 'a', i, 'b', i * 2) end
for i = 1, 30 do redis.call('RPUSH', 'list:' .. i, 'x', 'y', i) end
for i = 1, 20 do redis.call('SADD', 'set:' .. i, 'm1', 'm2', i) end
for i = 1, 20 do redis.call('ZADD', 'zset:' .. i, 1, 'one', 2, 'two', i, 'n') end
redis.call('SET', 'ttl:kept', 'v', 'EX', 86400)
return redis.call('DBSIZE')
"""

# DBSIZE and a sha1 over every key, its type and its value in a canonical order (hash fields and set members sorted).
REDIS_FINGERPRINT = """
local keys = redis.call('KEYS', '*')
table.sort(keys)
local parts = {}
for _, k in ipairs(keys) do
  local t = redis.call('TYPE', k)['ok']
  local v
  if t == 'string' then v = redis.call('GET', k)
  elseif t == 'hash' then
    local h, kv = redis.call('HGETALL', k), {}
    for i = 1, #h, 2 do table.insert(kv, h[i] .. '=' .. h[i + 1]) end
    table.sort(kv); v = table.concat(kv, ',')
  elseif t == 'list' then v = table.concat(redis.call('LRANGE', k, 0, -1), ',')
  elseif t == 'set' then local s = redis.call('SMEMBERS', k); table.sort(s); v = table.concat(s, ',')
  elseif t == 'zset' then v = table.concat(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), ',')
  else v = '?' end
  table.insert(parts, k .. '|' .. t .. '|' .. v)
end
return {redis.call('DBSIZE'), redis.sha1hex(table.concat(parts, '\\n'))}
"""


def _statefulset(ns: str, name: str, container: JSONObject, data_dir: Path, annotations: dict[str, str]) -> JSONObject:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns},
            "spec": {"serviceName": name, "replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations},
                                  "spec": {"nodeSelector": {"kubernetes.io/hostname": "localhost"},
                                           "terminationGracePeriodSeconds": 10, "containers": [container],
                                           "volumes": [{"name": "data", "hostPath": {
                                               "path": str(data_dir), "type": "DirectoryOrCreate"}}]}}}}


def _secret_env(name: str, secret_name: str) -> JSONObject:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "password"}}}


def mariadb_statefulset(ns: str, data_dir: Path, annotations: dict[str, str], database: str,
                        secret_name: str = "mariadb-credentials") -> JSONObject:  # noqa: S107 - a name
    """MariaDB 10.11 as StatefulSet ``mariadb``: root's password from the Secret, ``database`` made at first start."""
    env = [_secret_env("MARIADB_ROOT_PASSWORD", secret_name), {"name": "MARIADB_DATABASE", "value": database}]
    container = {"name": "db", "image": SERVERS_REF, "imagePullPolicy": "Never",
                 "command": ["/bin/sh", "-c", _MARIADB_START], "env": env,
                 "volumeMounts": [{"name": "data", "mountPath": "/var/lib/mysql-data"}],
                 # ping answers "alive" without credentials (exit 0 even on access denied): readiness, no secret
                 "readinessProbe": {"exec": {"command": ["mariadb-admin", "ping"]}, "periodSeconds": 2,
                                    "failureThreshold": 60}}
    return _statefulset(ns, "mariadb", container, data_dir, annotations)


def redis_statefulset(ns: str, data_dir: Path, annotations: dict[str, str],
                      secret_name: str = "redis-credentials") -> JSONObject:  # noqa: S107 - a name
    """Redis 7.0 as StatefulSet ``redis``: requirepass from the Secret, AOF on, data in the volume."""
    container = {"name": "redis", "image": SERVERS_REF, "imagePullPolicy": "Never",
                 "command": ["/bin/sh", "-c", _REDIS_START], "env": [_secret_env("REDIS_PASSWORD", secret_name)],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                 "readinessProbe": {"exec": {"command": ["/bin/sh", "-c", _REDIS_PING]},
                                    "periodSeconds": 2, "failureThreshold": 60}}
    return _statefulset(ns, "redis", container, data_dir, annotations)
