"""Real applications whose data k3s-dr must carry: Debian's PostgreSQL and a file-writing app.

Pure manifest builders (no I/O), shared by the real-node tests, ``bench/data.py`` and drills.
The PostgreSQL runs from :data:`k3s_dr_testbed.apps.images.DB_REF` with its password from a Secret
(``secretKeyRef``); hooks connect over TCP with it. The file app writes objects whole under a
temporary name and renames them, the shape "consistent enough" copies suit.
"""

from __future__ import annotations

from pathlib import Path

from dr_lib.jsontypes import JSONObject
from k3s_dr_testbed.apps.images import DB_REF, POSTGRES_BIN

APP_IMAGE = "docker.io/local/debian:bookworm"
ROWS_FINGERPRINT = ("select count(*) || ' ' || md5(coalesce(string_agg(id || ':' || title, ',' order by id), '')) "
                    "from items")


_PG_START = f"""set -e
B={POSTGRES_BIN}
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  umask 077; printf '%s\\n' "$POSTGRES_PASSWORD" > /tmp/pw; chown postgres /tmp/pw
  runuser -u postgres -- $B/initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pw --auth-local=peer \\
      --auth-host=scram-sha-256 >/dev/null
  rm -f /tmp/pw
  runuser -u postgres -- $B/pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  runuser -u postgres -- psql -q -h /run/postgresql -c "create database $POSTGRES_DB"
  runuser -u postgres -- $B/pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec runuser -u postgres -- $B/postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -c fsync=on
"""


def postgres_statefulset(ns: str, data_dir: Path, annotations: dict[str, str],
                         secret_name: str = "pg-credentials") -> JSONObject:  # noqa: S107 - a name
    """PostgreSQL 15 as a StatefulSet ``pg`` on a hostPath volume; initdb on first start, database ``shop``."""
    env = [{"name": "PGDATA", "value": "/var/lib/pg/data"}, {"name": "POSTGRES_DB", "value": "shop"},
           {"name": "PGHOST", "value": "127.0.0.1"}, {"name": "PGUSER", "value": "postgres"},
           {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "password"}}}]
    container = {"name": "pg", "image": DB_REF, "imagePullPolicy": "Never", "command": ["/bin/bash", "-c", _PG_START],
                 "env": env, "volumeMounts": [{"name": "data", "mountPath": "/var/lib/pg"}],
                 "readinessProbe": {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"]},
                                    "periodSeconds": 2, "failureThreshold": 60}}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "pg", "namespace": ns},
            "spec": {"serviceName": "pg", "replicas": 1, "selector": {"matchLabels": {"app": "pg"}},
                     "template": {"metadata": {"labels": {"app": "pg"}, "annotations": annotations},
                                  "spec": {"nodeSelector": {"kubernetes.io/hostname": "localhost"},
                                           "terminationGracePeriodSeconds": 10, "containers": [container],
                                           "volumes": [{"name": "data", "hostPath": {
                                               "path": str(data_dir), "type": "DirectoryOrCreate"}}]}}}}


# Objects written whole under a temporary name and renamed: a live copy never sees half a file.
_FILE_APP = """
import hashlib, os, sys, time
d = '/data'
with open(os.path.join(d, 'starts.log'), 'a') as log:
    log.write('%d %d\\n' % (time.time(), len(os.listdir(d))))
i = len([n for n in os.listdir(d) if n.startswith('obj-')])
while True:
    if i < int(sys.argv[1]):
        data = os.urandom(2048 * (1 + i % 7))
        tmp = os.path.join(d, '.tmp-%d' % i)
        with open(tmp, 'wb') as f:
            f.write(data)
        os.rename(tmp, os.path.join(d, 'obj-%04d' % i))
        i += 1
    time.sleep(0.05)
"""


def file_app(ns: str, data_dir: Path, objects: int, pv_name: str) -> list[JSONObject]:
    """A StatefulSet writing files to a claim bound to a hostPath volume (the local-path shape)."""
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "local-path-test",
                   "hostPath": {"path": str(data_dir), "type": "DirectoryOrCreate"}}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "files-data", "namespace": ns},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path-test", "volumeName": pv_name,
                    "resources": {"requests": {"storage": "1Gi"}}}}
    container = {"name": "writer", "image": APP_IMAGE, "imagePullPolicy": "Never",
                 "command": ["python3", "-c", _FILE_APP, str(objects)],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "files", "namespace": ns},
           "spec": {"serviceName": "files", "replicas": 1, "selector": {"matchLabels": {"app": "files"}},
                    "template": {"metadata": {"labels": {"app": "files"},
                                              "annotations": {"backup.k3s-dr.io/volumes": "data"}},
                                 "spec": {"nodeSelector": {"kubernetes.io/hostname": "localhost"},
                                          "terminationGracePeriodSeconds": 2, "containers": [container],
                                          "volumes": [{"name": "data",
                                                       "persistentVolumeClaim": {"claimName": "files-data"}}]}}}}
    return [pv, pvc, sts]
