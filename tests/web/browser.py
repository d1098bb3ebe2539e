"""Headless Chromium for the end-to-end web tests: Debian's own browser driven by Playwright.

Playwright never downloads a browser here (`playwright install` is not run; the network reaches package
registries only): it launches the distribution's ``chromium`` (``make install`` installs it where it can).
Without it the browser tests fail in CI, which must run them, and are skipped elsewhere, as the
PostgreSQL tests are. Screenshots land in ``artifacts/screenshots`` under the repository root, the folder
CI keeps as its artifacts.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = [
    "CHROMIUM",
    "SCREENSHOTS",
    "ScreenshotSummary",
    "chromium_executable",
    "free_port",
    "launch_chromium",
    "unavailable",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"  # Debian's `chromium` package
_INSTALL_HINT = "install Debian's package (`apt-get install chromium`, done by `make install` as root)"


def unavailable(reason: str) -> None:
    """CI must run the browser tests, so a missing browser fails there; elsewhere it only skips them."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the end-to-end browser tests", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str:
    """The chromium binary: EARSHOT_CHROMIUM when set, else Debian's /usr/bin/chromium (or one on PATH)."""
    configured = os.environ.get("EARSHOT_CHROMIUM")
    candidates = [configured] if configured else [CHROMIUM, shutil.which("chromium") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    unavailable(f"no chromium at {configured or CHROMIUM}: {_INSTALL_HINT}")
    raise AssertionError("unreachable: unavailable() fails or skips")


def _launch_args() -> list[str]:
    """Chromium refuses its sandbox as root (CI containers); /dev/shm there is often tiny."""
    args = ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--mute-audio"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """A headless Debian chromium under Playwright's sync API, closed on exit."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"the playwright package is missing ({exc}): `make install` installs the dev extra")
        raise AssertionError("unreachable") from exc
    executable = chromium_executable()
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=_launch_args()
            )
        except PlaywrightError as exc:
            unavailable(f"chromium at {executable} does not start under Playwright: {exc.message}")
            raise AssertionError("unreachable") from exc
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    """A loopback port nobody listens on now, for the web app under test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ScreenshotSummary:
    """A pytest plugin that names the screenshots at the end of the run, so CI logs point at its artifacts."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def add(self, path: Path) -> None:
        if path not in self.paths:
            self.paths.append(path)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.paths:
            return
        terminalreporter.section("end-to-end screenshots (CI artifacts)")
        for path in self.paths:
            size = path.stat().st_size if path.exists() else 0
            terminalreporter.write_line(f"{path} ({size} bytes)")
