"""Run a command in a container through the Kubernetes exec API (the ``kubernetes`` client's stream).

One exec is one WebSocket to the API server, which proxies it to the kubelet. Binary frames
carry stdin (channel 0), stdout (1), stderr (2) and the exit status (3). With the
``v5.channel.k8s.io`` protocol (Kubernetes ≥ 1.29) stdin can be *closed*, which programs that
read a dump from stdin (``pg_restore``) need to finish.

Frames are read here, not with the client's ``update()``: its ``poll()`` on the raw socket
misses bytes OpenSSL already buffered (it would wait for the next frame, or the deadline), and
it concatenates unread output into ever-growing strings. stdout goes to a sink as it arrives
(a 1 GB dump never sits in memory); stderr is kept up to a limit (its tail). Every exec has a
deadline: on timeout the socket is closed and the result says so.
"""

from __future__ import annotations

import json
import select
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from websocket import ABNF, WebSocketException

from dr_lib.clock import monotonic
from dr_lib.errors import ClusterError, ClusterUnreachable
from dr_lib.kube.client import Kube

STDIN, STDOUT, STDERR, STATUS, CLOSE = 0, 1, 2, 3, 255
V5_PROTOCOL = "v5.channel.k8s.io"
STDIN_CHUNK = 256 * 1024
DEFAULT_STDERR_LIMIT = 64 * 1024

Sink = Callable[[bytes], None]


@dataclass(frozen=True)
class ExecResult:
    """How one exec ended. ``exit_code`` is None when it timed out or the status never came."""

    exit_code: int | None
    stdout: bytes  # empty when a sink took stdout
    stderr: bytes  # the last ``stderr_limit`` bytes
    stdout_bytes: int
    seconds: float
    timed_out: bool = False
    failure: str | None = None  # the API server's or kubelet's reason when the command did not run or end well

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.failure is None


class _Collector:
    def __init__(self, sink: Sink | None, stderr_limit: int) -> None:
        self.sink = sink
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.stdout_bytes = 0
        self.status: bytes = b""
        self.stderr_limit = stderr_limit

    def take(self, channel: int, data: bytes) -> None:
        if channel == STDOUT:
            self.stdout_bytes += len(data)
            if self.sink is not None:
                self.sink(data)
            else:
                self.stdout += data
        elif channel == STDERR:
            self.stderr += data
            if len(self.stderr) > 2 * self.stderr_limit:
                del self.stderr[: len(self.stderr) - self.stderr_limit]
        elif channel == STATUS:
            self.status += data


def parse_status(raw: bytes) -> tuple[int | None, str | None]:
    """The status channel's ``metav1.Status``: (exit code, failure reason) — (0, None) on success."""
    if not raw:
        return None, "the exec ended without an exit status (connection lost)"
    try:
        status = json.loads(raw)
    except ValueError:
        return None, f"unreadable exec status: {raw[:200]!r}"
    if status.get("status") == "Success":
        return 0, None
    details = status.get("details") or {}
    for cause in details.get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", "")), None
            except ValueError:
                break
    return None, str(status.get("message") or status.get("reason") or "exec failed")


def _check_target(kube: Kube, namespace: str, pod: str, container: str | None) -> None:
    """A clear error for a missing pod or container: the stream's own handshake failure says nothing."""
    response = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}")
    if response.status == 404:
        raise ClusterError(f"exec: pod {namespace}/{pod} does not exist")
    if not response.ok:
        raise ClusterError(f"exec: cannot read pod {namespace}/{pod}: {response.reason}")
    names = [c.get("name") for c in (response.body.get("spec") or {}).get("containers") or []]
    if container and container not in names:
        raise ClusterError(f"exec: pod {namespace}/{pod} has no container {container!r}: accepted is one of "
                           f"{', '.join(str(n) for n in names)}")
    phase = (response.body.get("status") or {}).get("phase")
    if phase != "Running":
        raise ClusterError(f"exec: pod {namespace}/{pod} is {phase or 'not running'}, not Running")


def _open(kube: Kube, namespace: str, pod: str, container: str | None, command: list[str], *,
          with_stdin: bool, timeout: float) -> Any:
    # Imported here, not at the top: every backup imports this module (hooks), few exec.
    from kubernetes import client as k8s_client  # noqa: PLC0415
    from kubernetes.client.exceptions import ApiException  # noqa: PLC0415
    from kubernetes.stream import stream  # noqa: PLC0415

    _check_target(kube, namespace, pod, container)
    # stream() swaps the ApiClient's request method while it connects: a client of our own keeps
    # other threads that share ``kube`` (a backup's export) off the WebSocket.
    api = k8s_client.CoreV1Api(k8s_client.ApiClient(kube.client_configuration()))
    kwargs: dict[str, Any] = {"command": command, "stdin": with_stdin, "stdout": True, "stderr": True, "tty": False,
                              "_preload_content": False, "binary": True, "_request_timeout": timeout}
    if container:
        kwargs["container"] = container
    where = f"pod {namespace}/{pod}" + (f" container {container!r}" if container else "")
    try:
        return stream(api.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
    except ApiException as exc:
        reason = exc.reason or f"HTTP {exc.status}"
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
        raise ClusterError(f"exec in {where} refused: {reason} {body[:300]}".strip()) from None
    except (WebSocketException, OSError) as exc:
        raise ClusterUnreachable(f"exec in {where}: cannot open the stream to {kube.server}: {exc}") from None
    except (AttributeError, TypeError, ValueError) as exc:  # the client's handshake error path is brittle
        raise ClusterError(f"exec in {where}: the stream could not be opened ({type(exc).__name__})") from None


def _readable(sock: Any, seconds: float) -> bool:
    raw = sock.sock
    if raw is None:
        return False
    pending = getattr(raw, "pending", None)
    if pending is not None and pending() > 0:
        return True
    ready, _, _ = select.select([raw], [], [], max(0.0, seconds))
    return bool(ready)


class _StdinFeeder(threading.Thread):
    """Sends stdin in chunks while the main thread reads output, so neither side can block the other."""

    def __init__(self, client: Any, chunks: Iterable[bytes], v5: bool) -> None:
        super().__init__(name="exec-stdin", daemon=True)
        self.client, self.chunks, self.v5 = client, chunks, v5
        self.error: BaseException | None = None
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                for start in range(0, len(chunk), STDIN_CHUNK):
                    if self.stop.is_set():
                        return
                    piece = chunk[start:start + STDIN_CHUNK]
                    self.client.sock.send(bytes([STDIN]) + piece, opcode=ABNF.OPCODE_BINARY)
                    self.sent += len(piece)
            if self.v5:
                self.client.sock.send(bytes([CLOSE, STDIN]), opcode=ABNF.OPCODE_BINARY)
        except Exception as exc:  # noqa: BLE001 - the stdin source's own failure is reported, not lost
            self.error = exc
            # Without the close the command would wait for the rest of its input until the deadline.
            self.client.close()


def _pump(client: Any, collector: _Collector, deadline: float) -> bool:
    """Read frames until the server closes the stream; False when the deadline came first."""
    sock = client.sock
    while True:
        left = deadline - monotonic()
        if left <= 0:
            return False
        if not _readable(sock, min(left, 1.0)):
            continue
        try:
            opcode, frame = sock.recv_data_frame(True)
        except (WebSocketException, OSError):
            return True
        if opcode == ABNF.OPCODE_CLOSE:
            return True
        if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) and frame.data:
            data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
            if data[0] != CLOSE:
                collector.take(data[0], data[1:])


def _as_chunks(stdin: bytes | Iterable[bytes] | None) -> Iterable[bytes] | None:
    if stdin is None:
        return None
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        return [bytes(stdin)]
    return stdin


def exec_in_pod(kube: Kube, namespace: str, pod: str, container: str | None, command: list[str], *,
                timeout: float, stdin: bytes | Iterable[bytes] | None = None, stdout_sink: Sink | None = None,
                stderr_limit: int = DEFAULT_STDERR_LIMIT) -> ExecResult:
    """Run ``command`` in ``container`` of ``namespace/pod`` and wait for it, at most ``timeout`` seconds.

    ``stdin`` (bytes or an iterable of chunks) is sent and then closed; ``stdout_sink`` receives
    stdout as it arrives (else it is returned). Raises ClusterError when the exec cannot start
    (pod or container missing, forbidden); the command's own failure is a value.
    """
    started = monotonic()
    deadline = started + timeout
    chunks = _as_chunks(stdin)
    client = _open(kube, namespace, pod, container, command, with_stdin=chunks is not None, timeout=timeout)
    collector = _Collector(stdout_sink, stderr_limit)
    feeder = None
    try:
        if chunks is not None:
            v5 = getattr(client, "subprotocol", None) == V5_PROTOCOL
            feeder = _StdinFeeder(client, chunks, v5)
            feeder.start()
        finished = _pump(client, collector, deadline)
    finally:
        if feeder is not None:
            feeder.stop.set()
        client.close()
        if feeder is not None:
            feeder.join(timeout=5)
    seconds = monotonic() - started
    stderr = bytes(collector.stderr[-stderr_limit:])
    if not finished:
        return ExecResult(None, bytes(collector.stdout), stderr, collector.stdout_bytes, seconds, timed_out=True,
                          failure=f"no exit within {timeout:g} s (timed out; the stream was closed)")
    code, failure = parse_status(collector.status)
    if feeder is not None and feeder.error is not None:
        failure = f"sending stdin failed after {feeder.sent} bytes: {type(feeder.error).__name__}: {feeder.error}"
    return ExecResult(code, bytes(collector.stdout), stderr, collector.stdout_bytes, seconds, failure=failure)


__all__ = ["ExecResult", "exec_in_pod", "parse_status"]
