"""The MongoDB preset: one ``mongodump --archive`` of every database (GridFS included), checked back by counts."""

from __future__ import annotations

import shlex

from dr_lib.hooks.presets.census import mongodb_census, mongodb_census_env
from dr_lib.hooks.presets.model import Preset

# Every script works in a private 0700 directory removed on exit. The root password goes to mongodump/mongorestore
# in a 0600 --config file (they read 'password' there), to mongosh through its own process.env: never argv.
_PRIVATE = 'umask 077; W=$(mktemp -d) || exit 1; trap \'rm -rf "$W"\' EXIT; LC_ALL=C; export LC_ALL; set --; '
_TOOLS_AUTH = (
    'if [ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]; then '
    'case "${MONGO_INITDB_ROOT_PASSWORD:-}" in *"\n"*) echo "k3s-dr: the MongoDB root password holds a newline, which '
    'a --config file cannot carry" >&2; exit 2;; esac; '
    'printf \'password: "%s"\\n\' "$(printf %s "${MONGO_INITDB_ROOT_PASSWORD:-}" | sed \'s/[\\\\"]/\\\\&/g\')" '
    '> "$W/auth.yaml"; '
    'set -- --config="$W/auth.yaml" --username="$MONGO_INITDB_ROOT_USERNAME" --authenticationDatabase=admin; fi; ')
_JS_AUTH = ("const u = process.env.MONGO_INITDB_ROOT_USERNAME; "
            "if (u) { db.getSiblingDB('admin').auth(u, process.env.MONGO_INITDB_ROOT_PASSWORD); } ")
# One line per collection of every user database, [database, collection, documents], and per database with GridFS
# ["gridfs", database, files whose chunk count is not ceil(length / chunkSize)] — JSON.stringify, as the census.
_JS_COUNT = _JS_AUTH + (
    "const skip = ['admin', 'config', 'local']; "
    "for (const d of db.adminCommand({listDatabases: 1, nameOnly: true}).databases) { "
    "if (skip.includes(d.name)) continue; const s = db.getSiblingDB(d.name); "
    "const names = s.getCollectionInfos({type: 'collection'}, {nameOnly: true}).map(c => c.name); "
    "for (const c of names) print(JSON.stringify([d.name, c, s.getCollection(c).countDocuments({})])); "
    "if (names.includes('fs.files')) { const bad = s.getCollection('fs.files').aggregate(["
    "{$lookup: {from: 'fs.chunks', let: {id: '$_id'}, pipeline: [{$match: {$expr: {$eq: ['$files_id', '$$id']}}}, "
    "{$count: 'n'}], as: 'c'}}, "
    "{$project: {want: {$cond: [{$gt: ['$length', 0]}, {$ceil: {$divide: ['$length', '$chunkSize']}}, 0]}, "
    "got: {$ifNull: [{$arrayElemAt: ['$c.n', 0]}, 0]}}}, "
    "{$match: {$expr: {$ne: ['$want', '$got']}}}, {$count: 'n'}]).toArray(); "
    "print(JSON.stringify(['gridfs', d.name, bad.length ? bad[0].n : 0])); } }")
_HELLO = "print((db.hello ? db.hello() : db.isMaster()).setName || '')"

MONGODB = Preset(
    name="mongodb", engine="MongoDB (with GridFS)",
    scripts={
        "dump": _PRIVATE + _TOOLS_AUTH +
        'RS=; if command -v mongosh >/dev/null 2>&1; then '
        f'RS=$(mongosh --quiet --norc --eval {shlex.quote(_HELLO)}) || '
        '{ echo "k3s-dr: mongosh could not ask the server whether it is a replica set member" >&2; exit 1; }; '
        'RS=$(printf "%s\\n" "$RS" | tail -n 1); else echo "k3s-dr: no mongosh in this container: '
        'dumping without --oplog (not one point in time on a replica set)" >&2; fi; '
        'if [ -n "$RS" ]; then set -- --oplog "$@"; fi; '
        'mongodump --archive "$@" 2> "$W/err"; rc=$?; '
        'if [ "$rc" -ne 0 ]; then tail -n 20 "$W/err" >&2; exit "$rc"; fi; '
        "grep -E 'done dumping|dumped [0-9]+ oplog' \"$W/err\" >&2; "
        'printf "k3s-dr-census: replica-set %s\\n" "${RS:-none}" >&2',
        "restore": _PRIVATE + _TOOLS_AUTH +
        'if [ "${K3S_DR_OPLOG:-0}" = 1 ]; then set -- --oplogReplay "$@"; fi; '
        'mongorestore --archive --drop "$@" 2> "$W/err"; rc=$?; '
        "grep -E 'finished restoring|document\\(s\\) restored|replaying oplog|applied [0-9]+ oplog|Failed' "
        '"$W/err" >&2; [ "$rc" -eq 0 ] || { tail -n 5 "$W/err" >&2; exit "$rc"; }; '
        "failed=$(sed -n 's/.* \\([0-9][0-9]*\\) document(s) failed to restore\\..*/\\1/p' \"$W/err\" | tail -n 1); "
        '[ -n "$failed" ] || { echo "k3s-dr: mongorestore did not report how many documents it restored" >&2; '
        'exit 1; }; [ "$failed" = 0 ] || { echo "k3s-dr: mongorestore could not restore $failed document(s)" >&2; '
        'exit 1; }',
        "verify": _PRIVATE +
        'command -v mongosh >/dev/null 2>&1 || { echo "k3s-dr: mongosh is needed to count the restored documents '
        '(MongoDB images from 5.0 ship it)" >&2; exit 127; }; '
        f'mongosh --quiet --norc --eval {shlex.quote(_JS_COUNT)} > "$W/counted" 2> "$W/err" || '
        '{ tail -n 5 "$W/err" >&2; exit 1; }; sort "$W/counted" > "$W/have"; n=$(wc -l < "$W/have"); '
        'if [ -z "${K3S_DR_EXPECT:-}" ]; then echo "mongosh printed $n counts; no census came with this dump, nothing '
        'compared${K3S_DR_EXPECT_NOTE:+: $K3S_DR_EXPECT_NOTE}"; exit 0; fi; '
        'printf "%s\\n" "$K3S_DR_EXPECT" | sort > "$W/want"; comm -23 "$W/want" "$W/have" > "$W/missing"; '
        'if [ -s "$W/missing" ]; then echo "k3s-dr: not as dumped — expected and not found ([database, '
        'collection, documents] or [gridfs, database, inconsistent files]): $(head -n 10 "$W/missing" | tr "\\n" " ")'
        '" >&2; exit 1; fi; '
        'echo "$(wc -l < "$W/want") counts as dumped, all among the $n mongosh printed'
        '${K3S_DR_EXPECT_NOTE:+; $K3S_DR_EXPECT_NOTE}"',
    },
    magic=(b"\x6d\xe2\x99\x81",),
    params=(),
    census=mongodb_census, census_env=mongodb_census_env,
    reason="mongodump --archive streams every database to stdout as one file; GridFS files are ordinary collections "
           "(fs.files, fs.chunks), so the videos come with it; on a replica set member (db.hello().setName, asked at "
           "dump time) it adds --oplog for one point in time and the restore replays it (--oplogReplay); mongodump's "
           "per-collection counts are recorded with the dump and the verify step compares them with countDocuments "
           "per collection, plus every GridFS file's chunk count; mongorestore exits 0 with documents that failed to "
           "insert, so its summary line is read; the password never reaches argv; the archive starts with its magic "
           "number 0x8199e26d",
    tested="recorded outputs: MongoDB is not in Debian's archive and no image registry is reachable here; the "
           "scripts run against fake mongodump/mongorestore/mongosh replaying their real output "
           "(tests/unit/test_presets_recorded.py)",
)
