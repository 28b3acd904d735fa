"""make screenshots: the search page of ``searchkit serve`` at 1280 and 390 pixels wide, over
the example posts, into ``docs/serve.png`` and ``docs/serve-390.png`` (headless Chromium,
Debian's package, driven by Playwright; a CJK font such as Debian's fonts-noto-cjk draws the
Chinese)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshots: Chromium is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        index = Path(work) / "index"
        subprocess.run(
            [SEARCHKIT, "index", str(ROOT / "examples" / "posts"), "--index", str(index)],
            check=True,
            capture_output=True,
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [SEARCHKIT, "serve", "--index", str(index), "--port", str(port)],
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/api/stats", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            address = base + "/?" + urllib.parse.urlencode({"q": "數據中心"})
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=chromium, args=ARGS)
                for width, height, name in ((1280, 860, "serve.png"), (390, 844, "serve-390.png")):
                    context = browser.new_context(
                        locale="zh-CN", viewport={"width": width, "height": height}
                    )
                    page = context.new_page()
                    page.goto(address)
                    page.wait_for_selector("#trend rect.bar")
                    page.screenshot(path=str(ROOT / "docs" / name))
                    context.close()
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    print("docs/serve.png, docs/serve-390.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
