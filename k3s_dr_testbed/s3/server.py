"""A real S3 server on loopback for tests and benchmarks: versitygw over a directory.

versitygw (Apache-2.0) is an S3 gateway that stores buckets as directories and objects as
files, so a test can tamper with an object's bytes directly, stop the server in the middle of
an upload and start it again on the same data. It is built once from the Go module proxy into
``${K3S_DR_CACHE:-~/.cache/k3s-dr}/bin/versitygw-<version>/`` (about a minute on 2 cores) and
reused. By hand: ``python -m k3s_dr_testbed.s3.server`` builds it and prints its path.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from k3s_dr_testbed.gotools import TOOLS, ensure_tool, tool_path

VERSITYGW_VERSION = TOOLS["versitygw"].version
START_SECONDS = 30.0


def versitygw_path(version: str = VERSITYGW_VERSION) -> Path:
    return tool_path(replace(TOOLS["versitygw"], version=version))


def ensure_versitygw(progress: Callable[[str], None] = lambda _line: None,
                     version: str = VERSITYGW_VERSION) -> Path:
    """The cached versitygw binary, built with ``go install`` when missing (one build at a time)."""
    return ensure_tool(replace(TOOLS["versitygw"], version=version), progress)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class S3Server:
    """A running versitygw: ``endpoint`` to connect to, ``directory`` holding bucket/object files."""

    binary: Path
    directory: Path
    access_key: str
    secret_key: str
    port: int
    log: Path
    versioning: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_SECONDS) -> S3Server:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [str(self.binary), "--port", f"127.0.0.1:{self.port}", "posix"]
        if self.versioning:
            versions = self.directory.with_name(self.directory.name + ".versions")
            versions.mkdir(exist_ok=True)
            argv += ["--versioning-dir", str(versions)]
        argv.append(str(self.directory))
        # Keys through the environment: a command line is readable by every user of the machine.
        env = os.environ | {"ROOT_ACCESS_KEY_ID": self.access_key, "ROOT_SECRET_ACCESS_KEY": self.secret_key}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not _answers(self.port):
            if self.process.poll() is not None:
                raise EnvironmentProblem(f"versitygw exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                self.stop()
                raise DeadlineExceeded(f"versitygw did not listen on port {self.port} within {timeout:.0f} s")
            time.sleep(0.05)
        return self

    def stop(self, grace: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_s3_server(directory: Path, *, access_key: str, secret_key: str, port: int | None = None,
                    binary: Path | None = None, versioning: bool = False) -> S3Server:
    """Start versitygw serving ``directory`` on 127.0.0.1 (a free port unless given)."""
    server = S3Server(binary or ensure_versitygw(), directory, access_key, secret_key, port or free_port(),
                      directory.parent / f"{directory.name}.versitygw.log", versioning)
    return server.start()


if __name__ == "__main__":
    print(ensure_versitygw(progress=print))
