"""Reading static kubeconfig credentials, checked against the ``kubernetes`` client's own loader.

Each static kubeconfig below is read twice — by :func:`read_static_credentials` and by
``kubernetes.config.load_kube_config`` — and both must agree on the server, TLS verification,
CA, client certificate and the Authorization header. Kubeconfigs the direct path does not
implement must be handed to the client (None), never half-read.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from dr_lib.errors import UsageError
from dr_lib.kube.kubeconfig import StaticCredentials, read_static_credentials

CA = b"-----BEGIN CERTIFICATE-----\nCA-PEM\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nCLIENT-PEM\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN EC PRIVATE KEY-----\nKEY-PEM\n-----END EC PRIVATE KEY-----\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any] | None, *,
               extra_contexts: int = 0, current: str | None = "main") -> Path:
    document = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}, {"name": "other", "cluster": {"server": "https://10.0.0.9"}}],
        "users": [{"name": "u", "user": user}, {"name": "other", "user": {"token": "other-token"}}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}]
        + [{"name": f"extra{i}", "context": {"cluster": "other", "user": "other"}} for i in range(extra_contexts)],
    }
    if current:
        document["current-context"] = current
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def client_view(path: Path, context: str | None = None) -> Any:
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=str(path), context=context, client_configuration=configuration,
                                persist_config=False)
    return configuration


def assert_same_as_client(ours: StaticCredentials | None, path: Path) -> None:
    assert ours is not None
    theirs = client_view(path)
    assert ours.server == theirs.host
    assert ours.insecure == (not theirs.verify_ssl)
    # A token file's trailing newline: kubectl (client-go) trims it, the Python client sends it
    # along in the header; we do as kubectl does.
    theirs_auth = theirs.api_key.get("BearerToken")
    assert ours.authorization() == (theirs_auth.strip() if theirs_auth else None)
    for mine, file_name in ((ours.ca_pem.encode() if ours.ca_pem else None, theirs.ssl_ca_cert),
                            (ours.cert_pem, theirs.cert_file), (ours.key_pem, theirs.key_file)):
        assert mine == (Path(file_name).read_bytes() if file_name else None)


STATIC_CASES = {
    "token + inline CA (our local clusters)": ({"server": "https://127.0.0.1:6443",
                                                "certificate-authority-data": b64(CA)}, {"token": "abc"}),
    "client certificate inline (k3s.yaml)": ({"server": "https://127.0.0.1:6443/",
                                             "certificate-authority-data": b64(CA)},
                                            {"client-certificate-data": b64(CERT), "client-key-data": b64(KEY)}),
    "files relative to the kubeconfig": ({"server": "https://k3s.example:6443", "certificate-authority": "ca.crt"},
                                         {"client-certificate": "pki/client.crt", "client-key": "pki/client.key"}),
    "token file": ({"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(CA)},
                   {"tokenFile": "token"}),
    "token wins over a password": ({"server": "https://127.0.0.1:6443"},
                                   {"token": "abc", "username": "admin", "password": "pw"}),
    "basic auth": ({"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True},
                   {"username": "admin", "password": "s3cret"}),
    "plain http, anonymous": ({"server": "http://127.0.0.1:8080"}, {}),
}


@pytest.mark.parametrize("case", list(STATIC_CASES))
def test_static_credentials_match_the_kubernetes_client(tmp_path: Path, case: str) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "ca.crt").write_bytes(CA)
    (tmp_path / "pki" / "client.crt").write_bytes(CERT)
    (tmp_path / "pki" / "client.key").write_bytes(KEY)
    (tmp_path / "token").write_text("file-token\n")
    cluster, user = STATIC_CASES[case]
    path = kubeconfig(tmp_path, cluster, user)
    assert_same_as_client(read_static_credentials(path), path)


def test_what_the_fields_hold(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("  file-token \n")
    path = kubeconfig(tmp_path, {"server": "https://h:6443/", "certificate-authority-data": b64(CA)},
                      {"tokenFile": "token"})
    credentials = read_static_credentials(path)
    assert credentials == StaticCredentials(server="https://h:6443", ca_pem=CA.decode(), token="file-token")
    assert credentials.authorization() == "Bearer file-token"
    assert "file-token" not in repr(credentials)
    basic = read_static_credentials(kubeconfig(tmp_path, {"server": "https://h"}, {"username": "a", "password": "b"}))
    assert basic is not None
    assert basic.authorization() == "Basic " + b64(b"a:b")
    assert "'b'" not in repr(basic)


@pytest.mark.parametrize(("cluster", "user"), [
    ({"server": "https://h"}, {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "get-token"}}),
    ({"server": "https://h"}, {"auth-provider": {"name": "oidc", "config": {}}}),
    ({"server": "https://h"}, {"token": "t", "as": "someone-else"}),
    ({"server": "https://h", "proxy-url": "http://proxy:3128"}, {"token": "t"}),
    ({"server": "https://h", "tls-server-name": "kubernetes"}, {"token": "t"}),
], ids=["exec plugin", "auth provider", "impersonation", "proxy", "tls server name"])
def test_what_only_the_kubernetes_client_implements_is_left_to_it(tmp_path: Path, cluster: dict[str, Any],
                                                                   user: dict[str, Any]) -> None:
    assert read_static_credentials(kubeconfig(tmp_path, cluster, user)) is None


def test_an_explicit_context_is_used(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, {"server": "https://h"}, {"token": "t"}, extra_contexts=1)
    credentials = read_static_credentials(path, "extra0")
    assert credentials is not None
    assert (credentials.server, credentials.token) == ("https://10.0.0.9", "other-token")


@pytest.mark.parametrize(("setup", "message"), [
    (lambda p: kubeconfig(p, {"server": "https://h"}, {"token": "t"}, current=None), "names no current-context"),
    (lambda p: kubeconfig(p, {"server": "https://h"}, {"token": "t"}, current="nope"),
     "has no context named 'nope': accepted is one of main"),
    (lambda p: kubeconfig(p, {"server": "h:6443"}, {"token": "t"}), "has server 'h:6443': accepted is an https://"),
    (lambda p: kubeconfig(p, {"server": "https://h", "certificate-authority-data": "!!"}, {"token": "t"}),
     "certificate-authority data is not valid base64"),
    (lambda p: kubeconfig(p, {"server": "https://h", "certificate-authority": "missing.crt"}, {"token": "t"}),
     "certificate-authority file"),
    (lambda p: (p / "k").write_text("clusters: [") and p / "k", "is not valid YAML"),
    (lambda p: (p / "k").write_text("- a list\n") and p / "k", "is not usable: expected a mapping"),
], ids=["no current context", "unknown context", "bad server", "bad base64", "missing CA file", "not YAML",
        "not a mapping"])
def test_bad_kubeconfigs_are_named_errors(tmp_path: Path, setup: Any, message: str) -> None:
    with pytest.raises(UsageError, match="kubeconfig") as caught:
        read_static_credentials(setup(tmp_path))
    assert message in str(caught.value)


@pytest.mark.parametrize(("environ", "proxied"), [
    ({}, False),
    ({"HTTPS_PROXY": "http://proxy:3128"}, True),
    ({"http_proxy": "http://proxy:3128"}, True),
    ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.1,localhost"}, False),
    ({"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "*"}, False),
    ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "other.host"}, True),
    ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.0/8"}, True),  # CIDR: left to the client
    ({"HTTPS_PROXY": "", "HTTP_PROXY": ""}, False),
], ids=["none", "HTTPS_PROXY", "http_proxy", "no_proxy lists it", "no_proxy *", "no_proxy other", "cidr", "empty"])
def test_an_environment_proxy_sends_the_server_to_the_kubernetes_client(environ: dict[str, str],
                                                                        proxied: bool) -> None:
    from dr_lib.kube.kubeconfig import proxied_by_environment  # noqa: PLC0415

    assert proxied_by_environment("https://127.0.0.1:6443", environ) is proxied


def test_domain_suffixes_in_no_proxy() -> None:
    from dr_lib.kube.kubeconfig import proxied_by_environment  # noqa: PLC0415

    environ = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": ".cluster.example:6443, other"}
    assert not proxied_by_environment("https://k3s.cluster.example:6443", environ)
    assert not proxied_by_environment("https://cluster.example", environ)
    assert proxied_by_environment("https://notcluster.example", environ)


def test_kube_picks_the_path_the_environment_allows(tmp_path: Path) -> None:
    from dr_lib.kube.client import DirectBackend, Kube  # noqa: PLC0415
    from dr_lib.kube.full_client import ClientBackend  # noqa: PLC0415

    path = kubeconfig(tmp_path, {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True},
                      {"token": "t"})
    direct = Kube.from_kubeconfig(path, environ={})
    assert isinstance(direct.backend, DirectBackend)
    proxied = Kube.from_kubeconfig(path, environ={"HTTPS_PROXY": "http://proxy.invalid:3128"})
    assert isinstance(proxied.backend, ClientBackend)


TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLWJvZHk.sig-7f2c9a41d"


@pytest.mark.parametrize("broken", [
    f"users:\n- name: u\n  user:\n    token: {TOKEN}: {{oops\n",   # a mapping value where none may be
    f"users:\n- name: u\n  user:\n    token: \"{TOKEN}\n",          # an unterminated string
    f"users:\n- name: u\n  user:\n\ttoken: {TOKEN}\n",               # a tab that cannot start a token
    f"users:\n- name: u\n  user: *{TOKEN[:20]}\n",                   # an undefined alias named from the text
])
def test_a_yaml_error_never_shows_any_of_the_files_content(tmp_path: Path, broken: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from dr_lib.cli.main import main  # noqa: PLC0415

    path = tmp_path / "k.yaml"
    path.write_text(broken)
    with pytest.raises(UsageError) as caught:
        read_static_credentials(path)
    message = str(caught.value)
    assert re.fullmatch(rf"kubeconfig '{re.escape(str(path))}' is not valid YAML \(\w+Error at line \d+, column "
                        r"\d+\) \(open the file at that place; nothing of its content is shown here\)", message), \
        message
    shown = message.replace(str(path), "")
    fragments = {piece for line in broken.splitlines() for piece in re.split(r"[\s:\"{}*\-]+", line) if len(piece) > 3}
    assert not [piece for piece in fragments if piece in shown], shown
    assert main(["--config", "/dev/null", "diff", str(path), "--kubeconfig", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not valid YAML" in err and TOKEN[:8] not in err


def test_insecure_skip_tls_verify_is_said_once_per_command(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from dr_lib.kube import kubeconfig as module  # noqa: PLC0415
    from dr_lib.kube.client import Kube  # noqa: PLC0415

    path = kubeconfig(tmp_path, {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}, {"token": "t"})
    expected = [f"warning: kubeconfig '{path}' sets insecure-skip-tls-verify: the API server's certificate is not "
                "checked, so whoever sits on the network path can pose as the cluster (and read every Secret "
                "restored or backed up); set certificate-authority-data instead"]
    proxied = {"HTTPS_PROXY": "http://127.0.0.1:9"}  # sends the same kubeconfig down the kubernetes client's path
    for environ in ({}, proxied):
        module._warned.clear()  # a fresh command
        caplog.clear()
        with caplog.at_level("WARNING", logger="dr_lib.kube.kubeconfig"):
            for _ in range(3):
                Kube.from_kubeconfig(path, environ=environ).close()
        assert [r.getMessage() for r in caplog.records] == expected, environ
    caplog.clear()
    verified = kubeconfig(tmp_path, {"server": "http://127.0.0.1:1"}, {"token": "t"})
    with caplog.at_level("WARNING", logger="dr_lib.kube.kubeconfig"):
        Kube.from_kubeconfig(verified).close()
    assert caplog.records == []
