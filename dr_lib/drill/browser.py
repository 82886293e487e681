"""Headless Chromium (Debian's ``chromium``): render a report to a PNG, or read its DOM after
its scripts ran. pytest-html draws its table with JavaScript, so reading the file's text
proves nothing about what a reader sees; the rendered DOM does.

The flags keep it offline and stateless: no network side traffic, no first-run work, a fresh
profile directory per call (removed after), no sandbox (we run as root in a container).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from dr_lib import proc
from dr_lib.errors import DeadlineExceeded, EnvironmentProblem

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
BASE_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=5000",
)
WINDOW = "1280,2000"
TIMEOUT_SECONDS = 60.0


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(binary: str, args: list[str], html: Path, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="k3s-dr-chromium-") as profile:
        argv = [binary, *BASE_FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW}", *args,
                html.resolve().as_uri()]
        try:
            done = proc.run(argv, timeout=timeout, check=False)
        except DeadlineExceeded:
            raise DeadlineExceeded(f"chromium did not finish rendering {str(html)!r} within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise EnvironmentProblem(f"chromium failed on {str(html)!r} (exit {done.returncode}): {' | '.join(tail)}")
    return done.stdout


def dump_dom(html: Path, *, binary: str | None = None, timeout: float = TIMEOUT_SECONDS) -> str:
    """The page's DOM after its scripts ran."""
    chosen = binary or find_chromium()
    if chosen is None:
        raise EnvironmentProblem("chromium is not installed", hint="apt-get install -y chromium")
    return _run(chosen, ["--dump-dom"], html, timeout)


def screenshot(html: Path, png: Path, *, binary: str | None = None, timeout: float = TIMEOUT_SECONDS) -> Path:
    """A PNG of the page as a reader sees it."""
    chosen = binary or find_chromium()
    if chosen is None:
        raise EnvironmentProblem("chromium is not installed", hint="apt-get install -y chromium")
    _run(chosen, [f"--screenshot={png.resolve()}"], html, timeout)
    if not png.is_file() or png.stat().st_size == 0:
        raise EnvironmentProblem(f"chromium wrote no screenshot of {str(html)!r}")
    return png
