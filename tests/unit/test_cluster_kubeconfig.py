"""Kubeconfig rendering (pure): verified TLS with an embedded CA, a token, one current context."""

import base64

import yaml

from k3s_dr_testbed.clusters.kubeconfig_file import render_kubeconfig, server_of

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_embeds_the_ca_and_does_not_skip_verification() -> None:
    text = render_kubeconfig(cluster_name="a", server="https://127.0.0.1:1234", token="t0k", ca_pem=CA)
    doc = yaml.safe_load(text)
    cluster = doc["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == CA
    assert "insecure-skip-tls-verify" not in cluster
    assert doc["users"][0]["user"] == {"token": "t0k"}
    assert doc["current-context"] == doc["contexts"][0]["name"] == "k3s-dr-a"


def test_without_a_ca_it_says_so_explicitly() -> None:
    doc = yaml.safe_load(render_kubeconfig(cluster_name="a", server="https://h:1", token="t", ca_pem=None))
    assert doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True


def test_server_of_reads_the_current_context() -> None:
    text = render_kubeconfig(cluster_name="b", server="https://127.0.0.1:9", token="t", ca_pem=CA)
    assert server_of(text) == "https://127.0.0.1:9"
    assert server_of("not: [valid") is None
    assert server_of("just a string") is None
