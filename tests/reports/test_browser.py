"""The report in a real browser: headless Chromium loads it from disk, offline.

A test-only copy of the page gets a small script (the report itself has none) that records
JavaScript errors, console.error calls and Content-Security-Policy violations, and on load
writes what it found — image count, undecodable images, section ids — into the DOM, which
`chromium --dump-dom` prints. A second Chromium call takes a screenshot of the untouched page.
Skips when no Chromium is installed (CI installs Debian's `chromium` package).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaelab.reports.page import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.slow  # a real browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio"]

PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) { errors.push("error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) { errors.push("rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) {
    errors.push("csp: " + e.violatedDirective + " " + e.blockedURI);
  });
  var original = console.error;
  console.error = function () {
    errors.push("console: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
  window.addEventListener("load", function () {
    var images = Array.prototype.slice.call(document.images);
    var result = {
      images: images.length,
      broken: images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                    .map(function (i) { return i.alt; }),
      sections: Array.prototype.map.call(document.querySelectorAll("section[id]"),
                                         function (s) { return s.id; }),
      title: document.title,
      errors: errors
    };
    var out = document.createElement("pre");
    out.id = "vaelab-probe";
    out.textContent = JSON.stringify(result);
    document.body.appendChild(out);
  });
})();
</script>"""


def find_browser() -> str | None:
    override = os.environ.get("VAELAB_CHROMIUM")
    if override:
        return override
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def run_browser(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def browser() -> str:
    path = find_browser()
    if path is None:
        pytest.skip("no Chromium binary found (apt-get install chromium, or set VAELAB_CHROMIUM)")
    return path


def probed_copy(report: Path, target: Path) -> Path:
    """The report with the probe script injected; the CSP is widened only by inline scripts."""
    page = report.read_text()
    assert "<script" not in page
    policy = f'content="{CONTENT_SECURITY_POLICY}"'
    assert policy in page
    page = page.replace(policy, f"content=\"{CONTENT_SECURITY_POLICY}; script-src 'unsafe-inline'\"")
    page = page.replace("<head>", "<head>\n" + PROBE, 1)
    target.write_text(page)
    return target


def test_report_renders_in_headless_chromium(browser: str, report_2d: Path, tmp_path: Path) -> None:
    probe = probed_copy(report_2d, tmp_path / "probe.html")
    done = run_browser(browser, tmp_path / "profile", "--virtual-time-budget=10000",
                       "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="vaelab-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not finish loading; stderr: {done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result["errors"] == []
    assert result["broken"] == [] and result["images"] == 9
    assert result["title"].startswith("vaelab report: latent2")
    for key in ("summary", "metrics", "curves", "samples", "reconstructions", "interpolations",
                "latent-usage", "traversals", "latent-space", "manifold", "estimators"):
        assert f"run1-{key}" in result["sections"], key

    shot = tmp_path / "report.png"
    done = run_browser(browser, tmp_path / "profile", "--window-size=1280,4000",
                       f"--screenshot={shot}", report_2d.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 10.0  # text, tables and pictures, not a blank page
    assert (pixels < 64).mean() > 0.01  # dark pixels: text and the digits' backgrounds
