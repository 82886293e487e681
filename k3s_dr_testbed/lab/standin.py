"""The k3s stand-in of the reference host, as files: a ``k3s.service`` running kine (SQLite at k3s's
own path) and kube-apiserver, the k3s layout (token, kubeconfig, TLS) and a small application.

Everything here is text placed into the image; keys are made on the machine with ``openssl``
(the minimal Debian image has none) when the image is built, once per image.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
from pathlib import Path

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters.binaries import binary_versions
from k3s_dr_testbed.clusters.versionflags import APISERVER, flags_for

STANDIN_DIR = "/usr/local/lib/k3s-standin"
SERVER_DIR = "/var/lib/rancher/k3s/server"
KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
API_PORT = 6443
KINE_PORT = 2379
READY_SECONDS = 90

K3S_UNIT = f"""\
[Unit]
Description=k3s stand-in (k3s-dr reference host): kine with SQLite + kube-apiserver
After=network.target

[Service]
Type=exec
ExecStart={STANDIN_DIR}/run
ExecStartPost={STANDIN_DIR}/wait-ready {READY_SECONDS}
# SIGTERM to kube-apiserver alone, kine is killed once it exited: killed together, the API server
# waits for its gone etcd and every `systemctl stop k3s` ran into TimeoutStopSec (20 s, 'timeout').
KillMode=mixed
TimeoutStartSec={READY_SECONDS + 30}
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
"""

RUN_SCRIPT = f"""\
#!/bin/bash
# kine serves the etcd API from SQLite at k3s's path; kube-apiserver stores into it.
set -eu
S={SERVER_DIR}
mkdir -p "$S/db"
{STANDIN_DIR}/kine --endpoint "sqlite://$S/db/state.db?_journal=WAL&cache=shared" \\
  --listen-address 127.0.0.1:{KINE_PORT} --metrics-bind-address 127.0.0.1:{KINE_PORT + 2} &
for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/{KINE_PORT}) 2>/dev/null && break; sleep 0.05; done
exec {STANDIN_DIR}/kube-apiserver --etcd-servers=http://127.0.0.1:{KINE_PORT} --storage-backend=etcd3 \\
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port={API_PORT} \\
  --tls-cert-file=$S/tls/serving-kube-apiserver.crt --tls-private-key-file=$S/tls/serving-kube-apiserver.key \\
  --token-auth-file=$S/cred/tokens.csv --authorization-mode=RBAC --allow-privileged=true \\
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \\
  --service-account-key-file=$S/tls/service.pub --service-account-signing-key-file=$S/tls/service.key \\
  --service-cluster-ip-range=10.43.0.0/16 --kubelet-preferred-address-types=Hostname @RELEASE_FLAGS@
"""


def run_script(kubernetes_version: str) -> str:
    """RUN_SCRIPT with the API server flags that release needs (k3s_dr_testbed/clusters/versionflags.py)."""
    flags = " ".join(flags_for(APISERVER, kubernetes_version))
    return RUN_SCRIPT.replace("@RELEASE_FLAGS@", flags).replace(" \n", "\n")

# Python, because the image has no curl: waits until the API server answers /readyz.
WAIT_READY_SCRIPT = f"""\
#!/usr/bin/python3
import ssl, sys, time, urllib.request
deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 60)
token = open("{SERVER_DIR}/cred/tokens.csv").read().split(",", 1)[0].strip()
context = ssl.create_default_context(cafile="{SERVER_DIR}/tls/server-ca.crt")
request = urllib.request.Request("https://127.0.0.1:{API_PORT}/readyz", headers={{"Authorization": "Bearer " + token}})
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as answer:
            if answer.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.25)
sys.exit("kube-apiserver did not answer /readyz in time")
"""

# A small application like the seed's, so archives hold several kinds. Idempotent (409 is fine).
SEED_APP_SCRIPT = f"""\
#!/usr/bin/python3
import json, ssl, urllib.error, urllib.request
token = open("{SERVER_DIR}/cred/tokens.csv").read().split(",", 1)[0].strip()
context = ssl.create_default_context(cafile="{SERVER_DIR}/tls/server-ca.crt")
def create(path, obj):
    body = json.dumps(obj).encode()
    request = urllib.request.Request("https://127.0.0.1:{API_PORT}" + path, data=body, method="POST",
        headers={{"Authorization": "Bearer " + token, "Content-Type": "application/json"}})
    try:
        urllib.request.urlopen(request, timeout=10, context=context).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
labels = {{"app": "shop"}}
for ns in ("shop", "shop-data"):
    create("/api/v1/namespaces", {{"apiVersion": "v1", "kind": "Namespace", "metadata": {{"name": ns}}}})
create("/api/v1/namespaces/shop/configmaps", {{"apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {{"name": "web-config", "labels": labels}}, "data": {{"LOG_LEVEL": "info"}}}})
create("/api/v1/namespaces/shop/secrets", {{"apiVersion": "v1", "kind": "Secret",
    "metadata": {{"name": "db-password", "labels": labels}}, "stringData": {{"password": "not-a-real-one"}}}})
create("/api/v1/namespaces/shop/services", {{"apiVersion": "v1", "kind": "Service",
    "metadata": {{"name": "web", "labels": labels}},
    "spec": {{"selector": labels, "ports": [{{"port": 80, "targetPort": 8080}}]}}}})
create("/apis/apps/v1/namespaces/shop/deployments", {{"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {{"name": "web", "labels": labels}},
    "spec": {{"replicas": 2, "selector": {{"matchLabels": labels}}, "template": {{"metadata": {{"labels": labels}},
        "spec": {{"containers": [{{"name": "web", "image": "local/debian-systemd:bookworm"}}]}}}}}}}})
"""

EXPECTED_KINDS = ("namespaces", "configmaps", "secrets", "services", "deployments.apps")

# The host's k3s-dr configuration: the defaults (the seed's paths), plus the kinds its app has.
HOST_CONFIG = (
    "# k3s-dr reference host: the seed's layout (defaults), checks expect the app's kinds.\n"
    "checks:\n  expected_kinds: [" + ", ".join(EXPECTED_KINDS) + "]\n"
)


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise EnvironmentProblem("openssl is needed to make the reference host's keys",
                                 hint="apt-get install -y openssl")
    done = subprocess.run(["openssl", *args], capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise EnvironmentProblem(f"openssl {args[0]} failed: {tail[0]}")


_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650")


def make_server_files(root: Path) -> str:
    """Token, TLS keys and kubeconfig under ``root`` (the image's ``/``); returns the admin token."""
    server = root / SERVER_DIR.lstrip("/")
    tls, cred = server / "tls", server / "cred"
    tls.mkdir(parents=True)
    cred.mkdir(parents=True)
    ca_key, ca_crt = tls / "server-ca.key", tls / "server-ca.crt"
    _openssl("req", "-x509", *_EC, "-keyout", str(ca_key), "-out", str(ca_crt), "-subj", "/CN=k3s-dr-reference-ca",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-x509", *_EC, "-keyout", str(tls / "serving-kube-apiserver.key"),
             "-out", str(tls / "serving-kube-apiserver.crt"), "-subj", "/CN=kube-apiserver",
             "-CA", str(ca_crt), "-CAkey", str(ca_key),
             "-addext", "subjectAltName=IP:127.0.0.1,IP:10.43.0.1,DNS:localhost,DNS:kubernetes.default.svc",
             "-addext", "extendedKeyUsage=serverAuth", "-addext", "basicConstraints=critical,CA:FALSE")
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-out", str(tls / "service.key"))
    _openssl("pkey", "-in", str(tls / "service.key"), "-pubout", "-out", str(tls / "service.pub"))
    admin = secrets.token_hex(24)
    (cred / "tokens.csv").write_text(f"{admin},admin,admin,system:masters\n")
    # k3s's own token format: K10<ca hash>::server:<secret>; only its presence and secrecy matter here.
    (server / "token").write_text(f"K10{secrets.token_hex(32)}::server:{secrets.token_hex(16)}\n")
    for path in [*tls.glob("*.key"), cred / "tokens.csv", server / "token"]:
        path.chmod(0o600)
    server.chmod(0o700)
    return admin


def kubeconfig(ca_pem: str, token: str) -> str:
    ca = base64.b64encode(ca_pem.encode()).decode()
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: default, cluster: {{server: 'https://127.0.0.1:{API_PORT}', "
        f"certificate-authority-data: {ca}}}}}]\n"
        "users: [{name: default, user: {token: " + token + "}}]\n"
        "contexts: [{name: default, context: {cluster: default, user: default}}]\n"
        "current-context: default\n"
    )


def write_standin_tree(root: Path, bin_dir: Path) -> None:
    """The stand-in's files under ``root`` (copied into the image as ``/``)."""
    standin = root / STANDIN_DIR.lstrip("/")
    standin.mkdir(parents=True)
    for name in ("kine", "kube-control-plane"):
        source = bin_dir / name
        if not source.is_file():
            raise EnvironmentProblem(f"{source} is missing", hint="build the binaries: k3s-dr cluster build")
        shutil.copy2(source, standin / name)
    (standin / "kube-apiserver").symlink_to("kube-control-plane")  # the multi-call binary picks by argv[0]
    release = binary_versions(bin_dir).kubernetes
    for name, text in (("run", run_script(release)), ("wait-ready", WAIT_READY_SCRIPT), ("seed-app", SEED_APP_SCRIPT)):
        (standin / name).write_text(text)
        (standin / name).chmod(0o755)
    units = root / "etc/systemd/system"
    (units / "multi-user.target.wants").mkdir(parents=True)
    (units / "k3s.service").write_text(K3S_UNIT)
    (units / "multi-user.target.wants" / "k3s.service").symlink_to("/etc/systemd/system/k3s.service")
    admin = make_server_files(root)
    ca_pem = (root / SERVER_DIR.lstrip("/") / "tls" / "server-ca.crt").read_text()
    config_dir = root / "etc/rancher/k3s"
    config_dir.mkdir(parents=True)
    (config_dir / "k3s.yaml").write_text(kubeconfig(ca_pem, admin))
    (config_dir / "k3s.yaml").chmod(0o600)
