"""The local cluster's keys and certificates, made with the ``openssl`` command.

One CA per cluster signs the API server's serving certificate (so kubeconfigs verify the
server instead of skipping TLS checks) and the API server's client certificate towards
kubelets; it is also the client CA, so a real node's kubelet can authenticate with a
certificate. Keys are ECDSA P-256: generating them takes milliseconds, unlike RSA.
Everything is created once; a restart on the same directory reuses it.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters.files import write_atomic
from k3s_dr_testbed.clusters.spec import ToolMissing

SERVICE_IP = "10.43.0.1"  # first address of the service CIDR: the `kubernetes` Service
SERVING_SANS = (
    "IP:127.0.0.1", f"IP:{SERVICE_IP}", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local",
)
_DAYS = "3650"
_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True)
class Pki:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "server-ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "server-ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.dir / "serving-kube-apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.dir / "serving-kube-apiserver.key"

    @property
    def kubelet_client_cert(self) -> Path:
        return self.dir / "client-kube-apiserver.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.dir / "client-kube-apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "service.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "service.pub"

    @property
    def token_file(self) -> Path:
        return self.dir.parent / "cred" / "tokens.csv"

    def all_files(self) -> tuple[Path, ...]:
        return (self.ca_cert, self.ca_key, self.serving_cert, self.serving_key, self.kubelet_client_cert,
                self.kubelet_client_key, self.sa_key, self.sa_pub, self.token_file)


def _openssl(*args: str) -> None:
    try:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)
    except FileNotFoundError:
        raise ToolMissing("the 'openssl' command is not installed",
                                 hint="install it (Debian: apt-get install openssl)") from None
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise EnvironmentProblem(f"openssl {args[0]} failed: {detail[0]}") from None


def _ca(pki: Pki, cluster_name: str) -> None:
    _openssl("req", "-x509", *_EC, "-keyout", str(pki.ca_key), "-out", str(pki.ca_cert), "-days", _DAYS,
             "-subj", f"/CN=k3s-dr-{cluster_name}-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def _leaf(pki: Pki, cert: Path, key: Path, subject: str, extensions: list[str]) -> None:
    ext_args = [arg for ext in extensions for arg in ("-addext", ext)]
    # `req -x509 -CA` (OpenSSL 3) signs the new key with the CA in one step, copying -addext.
    _openssl("req", "-x509", *_EC, "-keyout", str(key), "-out", str(cert), "-days", _DAYS, "-subj", subject,
             "-CA", str(pki.ca_cert), "-CAkey", str(pki.ca_key), *ext_args)


def _service_account_keys(pki: Pki) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", str(pki.sa_key))
    _openssl("pkey", "-in", str(pki.sa_key), "-pubout", "-out", str(pki.sa_pub))


def ensure_pki(tls_dir: Path, cluster_name: str) -> Pki:
    """Create what is missing of the cluster's keys and certificates; keep what exists."""
    pki = Pki(tls_dir)
    if all(path.exists() for path in pki.all_files()[:-1]):
        return pki
    if shutil.which("openssl") is None:
        raise ToolMissing("the 'openssl' command is not installed",
                                 hint="install it (Debian: apt-get install openssl)")
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _ca(pki, cluster_name)
    _leaf(pki, pki.serving_cert, pki.serving_key, "/CN=kube-apiserver",
          ["subjectAltName=" + ",".join(SERVING_SANS), "extendedKeyUsage=serverAuth",
           "keyUsage=critical,digitalSignature,keyEncipherment", "basicConstraints=critical,CA:FALSE"])
    _leaf(pki, pki.kubelet_client_cert, pki.kubelet_client_key, "/O=system:masters/CN=kube-apiserver-kubelet-client",
          ["extendedKeyUsage=clientAuth", "keyUsage=critical,digitalSignature,keyEncipherment",
           "basicConstraints=critical,CA:FALSE"])
    _service_account_keys(pki)
    for path in pki.all_files()[:-1]:
        if path.suffix == ".key":
            path.chmod(0o600)
    return pki


def ensure_admin_token(pki: Pki) -> str:
    """The admin bearer token (random, group system:masters), created once per cluster."""
    if pki.token_file.exists():
        return pki.token_file.read_text().split(",", 1)[0].strip()
    token = secrets.token_hex(24)
    write_atomic(pki.token_file, f"{token},admin,admin,system:masters\n", mode=0o600)
    return token
