"""The product's production build, served for real, and Debian's Chromium to drive it.

One server per test session: `reflex run --env prod --single-port` on a free
port with its own build folder and a fresh SQLite database holding a small
demo tree. Screenshots go to test-output/ (kept by CI as the test record).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from membook_app.demo.seed import DEMO_PASSWORD
from tests.conftest import REPO_ROOT

OUTPUT = REPO_ROOT / "test-output"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp: Path, port: int, sandbox_port: int) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = REPO_ROOT / ".venv" / "bin"
    env.update({
        "PATH": f"{REPO_ROOT / '.tools/node_modules/.bin'}:{bin_dir}:{env['PATH']}",
        "REFLEX_USE_SYSTEM_BUN": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        # Own build folder per run, so parallel runs (and `make run`) never share one.
        "REFLEX_WEB_WORKDIR": str(tmp / "web"),
        "REFLEX_STATES_WORKDIR": str(tmp / "states"),
        "DATABASE_URL": f"sqlite:///{tmp / 'e2e.db'}",
        "VAR_DIR": str(tmp / "var"),
        "BASE_URL": f"http://127.0.0.1:{port}",
        "PORT": str(port),
        "PAYTRAIL_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
    })
    env.pop("SMTP_HOST", None)
    env.pop("REDIS_URL", None)
    return env


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrate, seed, build and serve; yields the env (DATABASE_URL) and the base URL."""
    tmp = tmp_path_factory.mktemp("e2e")
    port, sandbox_port = _free_port(), _free_port()
    env = _env(tmp, port, sandbox_port)
    membook = str(REPO_ROOT / ".venv/bin/membook")
    subprocess.run([membook, "db", "upgrade"], env=env, check=True, cwd=REPO_ROOT)
    subprocess.run([membook, "seed-demo", "--people", "300"], env=env, check=True, cwd=REPO_ROOT)
    log = (tmp / "server.log").open("w")
    sandbox = subprocess.Popen(
        [str(REPO_ROOT / ".venv/bin/python"), "-m", "membook_app.payments.sandbox",
         "--port", str(sandbox_port), "--base-url", env["PAYTRAIL_BASE_URL"]],
        env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    proc = subprocess.Popen(
        [str(REPO_ROOT / ".venv/bin/reflex"), "run", "--env", "prod", "--single-port",
         "--frontend-port", str(port), "--backend-port", str(port)],
        env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(tmp / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    login = httpx.get(f"{base}/login", timeout=5, follow_redirects=True)
                    if login.status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            raise RuntimeError(f"server did not start: {(tmp / 'server.log').read_text()[-3000:]}")
        yield {"base": base, **env}
    finally:
        for child in (proc, sandbox):
            os.killpg(child.pid, 15)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, 9)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API holds an event loop while it is open, which
    would stop later asyncio tests from starting theirs."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing (make test installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    OUTPUT.mkdir(exist_ok=True)
    pg.screenshot(path=str(OUTPUT / f"{request.node.name}-final.png"), full_page=True)
    context.close()


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of a step in the test output folder."""
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, email: str) -> None:
    """Sign in with a demo account's password (where the browser lands is the test's to check)."""
    page.goto(f"{base}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("#sign-in").click()
