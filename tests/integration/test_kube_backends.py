"""Both request paths against a real API server, giving the same answers.

* direct (no ``kubernetes`` import): a token kubeconfig (our clusters) and a client-certificate
  kubeconfig shaped like the one k3s writes (``/etc/rancher/k3s/k3s.yaml``);
* the ``kubernetes`` client: a kubeconfig whose token comes from an exec credential plugin.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _backup_helpers import cli, create, isolated_env

from dr_lib.errors import ClusterAuthError, ClusterUnreachable
from dr_lib.kube.client import DirectBackend, Kube
from dr_lib.kube.full_client import ClientBackend
from dr_lib.kube.writing import Writer, encode

EXEC_API = "client.authentication.k8s.io/v1beta1"


def _tls_dir(cluster: Any) -> Path:
    tls = Path(cluster.dir) / "server" / "tls"
    if not (tls / "server-ca.key").is_file():
        pytest.skip("needs the local cluster provider's CA key (server/tls/server-ca.key) to mint a client "
                    "certificate; run with --cluster=local")
    return tls


def _mint(tls: Path, out: Path, subject: str, *, ca: tuple[Path, Path] | None = None) -> tuple[bytes, bytes]:
    """A client certificate (and key) signed by ``ca`` (the cluster's CA by default), via openssl."""
    ca_cert, ca_key = ca or (tls / "server-ca.crt", tls / "server-ca.key")
    cert, key = out / "client.crt", out / "client.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", subject, "-keyout", str(key), "-out", str(cert),
                    "-CA", str(ca_cert), "-CAkey", str(ca_key)], check=True, capture_output=True, timeout=30)
    return cert.read_bytes(), key.read_bytes()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _with_user(source: Path, target: Path, user: dict[str, Any]) -> Path:
    document = yaml.safe_load(source.read_text())
    document["users"][0]["user"] = user
    target.write_text(yaml.safe_dump(document))
    return target


@pytest.fixture
def certificate_kubeconfig(cluster: Any, tmp_path: Path) -> Path:
    cert, key = _mint(_tls_dir(cluster), tmp_path, "/O=system:masters/CN=k3s-dr-test-admin")
    return _with_user(cluster.kubeconfig, tmp_path / "k3s.yaml",
                      {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)})


@pytest.fixture
def exec_kubeconfig(cluster: Any, tmp_path: Path) -> Path:
    token = yaml.safe_load(Path(cluster.kubeconfig).read_text())["users"][0]["user"]["token"]
    plugin = tmp_path / "get-token"
    credential = {"apiVersion": EXEC_API, "kind": "ExecCredential", "status": {"token": token}}
    plugin.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
    plugin.chmod(0o700)
    return _with_user(cluster.kubeconfig, tmp_path / "exec.yaml",
                      {"exec": {"apiVersion": EXEC_API, "command": str(plugin), "interactiveMode": "Never"}})


def _probe(kubeconfig: Path) -> dict[str, Any]:
    """In a fresh interpreter: which backend, whether ``kubernetes`` got imported, what the server says."""
    code = ("import json, sys\nfrom dr_lib.kube.client import Kube\n"
            f"kube = Kube.from_kubeconfig({str(kubeconfig)!r})\n"
            "names = sorted(n['metadata']['name'] for n in kube.get('/api/v1/namespaces')['items'])\n"
            "print(json.dumps({'backend': type(kube.backend).__name__, 'imported': 'kubernetes' in sys.modules,"
            " 'version': kube.version(), 'namespaces': names}))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def test_static_kubeconfigs_never_import_the_client_and_agree_with_it(cluster: Any, certificate_kubeconfig: Path,
                                                                      exec_kubeconfig: Path) -> None:
    token, certificate, plugin = (_probe(p) for p in (cluster.kubeconfig, certificate_kubeconfig, exec_kubeconfig))
    assert (token["backend"], token["imported"]) == ("DirectBackend", False)
    assert (certificate["backend"], certificate["imported"]) == ("DirectBackend", False)
    assert (plugin["backend"], plugin["imported"]) == ("ClientBackend", True)
    assert token["version"] == certificate["version"] == plugin["version"] == cluster.kubernetes_version
    assert token["namespaces"] == certificate["namespaces"] == plugin["namespaces"]


def test_a_backup_is_the_same_whichever_path_carries_it(cluster: Any, namespace: str, tmp_path: Path,
                                                        certificate_kubeconfig: Path, exec_kubeconfig: Path) -> None:
    kube = Kube.from_kubeconfig(cluster.kubeconfig)
    for i in range(30):
        create(kube, f"/api/v1/namespaces/{namespace}/configmaps",
               {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i) * 100}})
    digests = []
    for label, kubeconfig in (("token", cluster.kubeconfig), ("certificate", certificate_kubeconfig),
                              ("exec", exec_kubeconfig)):
        (tmp_path / label).mkdir()
        run = cli("backup", "--kubeconfig", kubeconfig, "--dir", tmp_path / label, "--json", "-n", namespace,
                  "--kind", "configmaps", env=isolated_env(tmp_path / label))
        assert run.code == 0, f"{label}: {run.stderr}"
        assert run.json["objects"] == 31  # ours + kube-root-ca.crt
        manifest = json.loads(subprocess.run(["tar", "-xOzf", run.json["archive"], "manifest.json"],
                                             capture_output=True, check=True).stdout)
        digests.append([(f["path"], f["objects"], f["sha256"]) for f in manifest["files"]])
    assert digests[0] == digests[1] == digests[2]


def test_restore_writes_through_the_kubernetes_client_path_too(cluster: Any, namespace: str,
                                                               exec_kubeconfig: Path) -> None:
    with Kube.from_kubeconfig(exec_kubeconfig) as kube:
        assert isinstance(kube.backend, ClientBackend)
        body = encode({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "via-plugin"}})
        created = Writer(kube).create(f"/api/v1/namespaces/{namespace}/configmaps", body)
        assert created.status == 201, created.reason
    with Kube.from_kubeconfig(cluster.kubeconfig) as kube:
        assert isinstance(kube.backend, DirectBackend)
        assert kube.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/via-plugin").ok


def test_a_certificate_from_another_ca_is_refused_credentials(cluster: Any, tmp_path: Path) -> None:
    tls = _tls_dir(cluster)
    rogue = tmp_path / "rogue"
    rogue.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=rogue-ca", "-keyout", str(rogue / "ca.key"), "-out",
                    str(rogue / "ca.crt")], check=True, capture_output=True, timeout=30)
    cert, key = _mint(tls, rogue, "/O=system:masters/CN=intruder", ca=(rogue / "ca.crt", rogue / "ca.key"))
    kubeconfig = _with_user(cluster.kubeconfig, tmp_path / "rogue.yaml",
                            {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)})
    with Kube.from_kubeconfig(kubeconfig) as kube, pytest.raises(ClusterAuthError, match="401 Unauthorized"):
        kube.version()


def test_a_server_certificate_the_kubeconfig_does_not_trust_is_named(cluster: Any, tmp_path: Path) -> None:
    rogue = tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=other-ca", "-keyout", str(tmp_path / "ca.key"), "-out", str(rogue)],
                   check=True, capture_output=True, timeout=30)
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    document["clusters"][0]["cluster"]["certificate-authority-data"] = _b64(rogue.read_bytes())
    kubeconfig = tmp_path / "untrusted.yaml"
    kubeconfig.write_text(yaml.safe_dump(document))
    with Kube.from_kubeconfig(kubeconfig) as kube, pytest.raises(ClusterUnreachable) as caught:
        kube.version()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert "certificate-authority" in (caught.value.hint or "")


def _insecure(source: Path, target: Path) -> Path:
    document = yaml.safe_load(Path(source).read_text())
    cluster = document["clusters"][0]["cluster"]
    cluster.pop("certificate-authority-data", None)
    cluster.pop("certificate-authority", None)
    cluster["insecure-skip-tls-verify"] = True
    target.write_text(yaml.safe_dump(document))
    return target


def test_insecure_skip_tls_verify_works_and_every_command_says_so_once(cluster: Any, namespace: str,
                                                                       tmp_path: Path, exec_kubeconfig: Path) -> None:
    for label, source in (("token", cluster.kubeconfig), ("exec", exec_kubeconfig)):
        kubeconfig = _insecure(source, tmp_path / f"{label}-insecure.yaml")
        (tmp_path / label).mkdir()
        env = isolated_env(tmp_path / label)
        backup = cli("backup", "--kubeconfig", kubeconfig, "--dir", tmp_path / label, "--json", "-n", namespace,
                     "--kind", "configmaps", env=env)
        assert backup.code == 0, f"{label}: {backup.stderr}"
        diff = cli("diff", backup.json["archive"], "--kubeconfig", kubeconfig, "-n", namespace, env=env)
        assert diff.code == 0, f"{label}: {diff.stderr}"
        for run in (backup, diff):
            said = [line for line in run.stderr.splitlines() if "insecure-skip-tls-verify" in line]
            assert said == [f"warning: kubeconfig '{kubeconfig}' sets insecure-skip-tls-verify: the API server's "
                            "certificate is not checked, so whoever sits on the network path can pose as the "
                            "cluster (and read every Secret restored or backed up); set "
                            "certificate-authority-data instead"], f"{label}: {run.stderr}"
    quiet = cli("diff", backup.json["archive"], "--kubeconfig", cluster.kubeconfig, "-n", namespace, env=env)
    assert quiet.code == 0 and "insecure" not in quiet.stderr
