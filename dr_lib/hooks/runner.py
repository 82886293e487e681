"""Run one hook in its pod and judge how it ended: exit code, timeout, output that is no dump.

An exec whose stream is closed does not stop the process in the container (seen on
containerd: a timed-out ``sleep`` kept running). So a hook runs under a tiny ``/bin/sh``
wrapper that records its process group in ``/tmp``; on timeout a second exec kills that
group. A container without ``/bin/sh`` runs the hook directly (and a hung one is only
reported, not stopped).

Output is bounded too: a dump hook's stdout passes a counting wrapper that stops the exec once
the dump would pass its cap (``hooks.max_dump_size``; the hook is then killed like a timed-out
one), and the other hooks' stdout, which is kept in memory, is cut to its tail.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from dr_lib.clock import monotonic
from dr_lib.errors import ClusterError, DumpCapped
from dr_lib.hooks.policy import human_bytes
from dr_lib.hooks.redact import Redactor, tail_text
from dr_lib.hooks.spec import Hook, PodPlan
from dr_lib.kube.client import Kube
from dr_lib.kube.exec import ExecResult, exec_in_pod

# $1 is the pid file's token; the hook's own argv follows. The wrapper stays the group leader
# (no exec), so killing the group stops the hook and everything it started.
_WRAP = 'p=/tmp/.k3s-dr-hook-$1.pid; shift; echo $$ > "$p" 2>/dev/null; "$@"; rc=$?; rm -f "$p"; exit $rc'
_KILL = ('p=/tmp/.k3s-dr-hook-$1.pid; [ -s "$p" ] || exit 3; g=$(cat "$p"); '
         'kill -KILL -"$g" 2>/dev/null || kill -KILL "$g"; rm -f "$p"')
_NO_SHELL = ("/bin/sh: no such file", "\"/bin/sh\": stat /bin/sh", "exec: \"/bin/sh\"")
KILL_TIMEOUT = 15.0
KEPT_STDOUT = 64 * 1024  # of a hook whose stdout is no dump: the tail, for the report (a count, "ok")


class _CappedSink:
    """Counts what passes to ``sink``; the chunk that would pass ``limit`` is refused, not written (-1: no cap)."""

    def __init__(self, sink: Callable[[bytes], None], limit: int) -> None:
        self.sink, self.limit, self.written = sink, limit, 0

    def __call__(self, chunk: bytes) -> None:
        if 0 <= self.limit < self.written + len(chunk):
            raise DumpCapped(f"the dump reached its cap of {self.limit} bytes")
        self.sink(chunk)
        self.written += len(chunk)


class _Tail:
    """Keeps the last ``limit`` bytes of stdout (a hook that prints gigabytes must not fill memory)."""

    def __init__(self, limit: int = KEPT_STDOUT) -> None:
        self.limit, self.kept, self.total = limit, bytearray(), 0

    def __call__(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.kept += chunk
        if len(self.kept) > 2 * self.limit:
            del self.kept[: len(self.kept) - self.limit]


@dataclass(frozen=True)
class HookOutcome:
    """One hook's result as reports show it: no command, no secret."""

    namespace: str
    pod: str
    hook: str  # "dump hook (preset postgresql)"
    phase: str
    container: str | None
    ok: bool
    reason: str  # "" when ok
    exit_code: int | None
    seconds: float
    on_error: str
    output_bytes: int = 0
    stderr: str = ""  # redacted tail, for reports
    stdout: str = ""  # redacted, verify hooks only (a count, "ok")

    @property
    def label(self) -> str:
        container = f" container {self.container!r}" if self.container else ""
        return f"{self.hook} of pod {self.namespace}/{self.pod}{container}"

    def message(self) -> str:
        return f"{self.label} failed: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "pod": self.pod, "hook": self.hook, "phase": self.phase,
                "container": self.container, "ok": self.ok, "reason": self.reason, "exit_code": self.exit_code,
                "seconds": round(self.seconds, 3), "on_error": self.on_error, "output_bytes": self.output_bytes,
                **({"stderr": self.stderr} if self.stderr else {}), **({"stdout": self.stdout} if self.stdout else {})}


def _no_shell(result: ExecResult) -> bool:
    text = (result.failure or "") + result.stderr.decode("utf-8", "replace")
    return result.exit_code is None and any(marker in text for marker in _NO_SHELL)


def _bounded_exec(kube: Kube, plan: PodPlan, hook: Hook, command: list[str], *,
                  stdin: Callable[[], Iterable[bytes]] | None,
                  stdout_sink: Callable[[bytes], None] | None) -> tuple[ExecResult, bool]:
    """One exec with its output bounded; (result, whether the dump cap stopped it)."""
    tail = _Tail()
    counter = None if stdout_sink is None else _CappedSink(stdout_sink, hook.max_output or -1)
    started = monotonic()
    try:
        result = exec_in_pod(kube, plan.namespace, plan.pod, hook.container, command, timeout=hook.timeout,
                             stdin=None if stdin is None else stdin(), stdout_sink=counter or tail)
    except DumpCapped:  # the exec is closed on the way out
        written = counter.written if counter is not None else 0
        return ExecResult(None, b"", b"", written, monotonic() - started), True
    if counter is None:
        result = replace(result, stdout=bytes(tail.kept[-tail.limit:]))
    return result, False


def _kill(kube: Kube, plan: PodPlan, hook: Hook, token: str) -> bool:
    try:
        killed = exec_in_pod(kube, plan.namespace, plan.pod, hook.container,
                             ["/bin/sh", "-c", _KILL, "k3s-dr-kill", token], timeout=KILL_TIMEOUT)
    except ClusterError:
        return False
    return killed.ok


def run_in_pod(kube: Kube, plan: PodPlan, hook: Hook, *, stdin: Callable[[], Iterable[bytes]] | None = None,
               stdout_sink: Callable[[bytes], None] | None = None) -> tuple[ExecResult, bool]:
    """Exec the hook (wrapped when the container has a shell); (result, stopped-after-timeout).

    ``stdin`` makes a fresh iterable of chunks each time it is called (a retry without the
    wrapper needs the input again). A dump that reaches ``hook.max_output`` is stopped: the
    result then has no exit code and a failure naming the cap.
    """
    token = secrets.token_hex(8)
    wrapped = ["/bin/sh", "-c", _WRAP, "k3s-dr-hook", token, *hook.command]
    try:
        result, capped = _bounded_exec(kube, plan, hook, wrapped, stdin=stdin, stdout_sink=stdout_sink)
        if not capped and _no_shell(result) and result.stdout_bytes == 0:
            result, capped = _bounded_exec(kube, plan, hook, list(hook.command), stdin=stdin,
                                             stdout_sink=stdout_sink)
            return (_capped(result, hook, stopped=False), False) if capped else (result, False)
    except ClusterError as exc:  # no pod, no container, not running: the hook's failure, judged by its policy
        return ExecResult(None, b"", b"", 0, 0.0, failure=exc.message), False
    if capped:
        return _capped(result, hook, stopped=_kill(kube, plan, hook, token)), False
    return result, _kill(kube, plan, hook, token) if result.timed_out else False


def _capped(result: ExecResult, hook: Hook, *, stopped: bool) -> ExecResult:
    limit = human_bytes(hook.max_output or 0)
    return replace(result, failure=f"its dump passed the cap of {limit} (hooks.max_dump_size) and was stopped; "
                                   + ("the hook's processes were killed" if stopped else
                                      "it may still run in the container"))


def judge(plan: PodPlan, hook: Hook, result: ExecResult, stopped: bool, redactor: Redactor,
          *, first_bytes: bytes = b"", keep_stdout: bool = False) -> HookOutcome:
    """Turn an exec result into a verdict with the exact reason, redacted."""
    stderr = tail_text(result.stderr, redactor)
    reason = ""
    if result.timed_out:
        reason = (f"timed out after {hook.timeout:g} s (timeout); "
                  + ("the hook's processes were killed" if stopped else "it may still run in the container"))
    elif result.exit_code is None:
        reason = redactor(result.failure or "the command did not run")
    elif result.exit_code != 0:
        reason = f"exit code {result.exit_code}"
    elif result.failure:
        reason = redactor(result.failure)
    elif hook.phase == "dump":
        reason = _dump_problem(hook, result.stdout_bytes, first_bytes)
    if reason and stderr and not result.timed_out:
        reason = f"{reason}; stderr: {stderr}"
    stdout = tail_text(result.stdout, redactor, 300) if keep_stdout else ""
    return HookOutcome(plan.namespace, plan.pod, hook.describe(plan.preset), hook.phase, hook.container,
                       not reason, reason, result.exit_code, result.seconds, hook.on_error,
                       output_bytes=result.stdout_bytes, stderr=stderr if reason else "", stdout=stdout)


def _dump_problem(hook: Hook, size: int, first_bytes: bytes) -> str:
    if size == 0:
        return "wrote nothing to stdout: an empty dump is not a backup"
    if hook.magic and not any(first_bytes.startswith(m) for m in hook.magic):
        expected = " or ".join(repr(m.decode("latin-1")) for m in hook.magic)
        return (f"wrote {size} bytes that are not a dump of this kind (garbage): a good one starts with "
                f"{expected}")
    return ""
