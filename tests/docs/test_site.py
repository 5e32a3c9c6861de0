"""The site builds in strict mode, and headless Chromium opens it from disk (file://, no server):
the home page, a guide page and a reference page render without console errors, and the search
finds `importance_sampled_log_marginal`. Screenshots are kept as artifacts ($VAELAB_ARTIFACTS,
else the test's temporary folder). Skips without MkDocs, Chromium or chromedriver."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # builds the whole site

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def test_the_site_builds_strictly_and_quickly(built_site: Path) -> None:
    assert (built_site / "index.html").is_file() and (built_site / "search" / "search_index.js").is_file()
    for page in ("reference/cli.html", "reference/config.html", "reference/api/objectives.html",
                 "guide/own-networks.html", "examples.html", "benchmarks/index.html"):
        assert (built_site / page).is_file(), page
    api = (built_site / "reference/api/objectives.html").read_text()
    assert 'id="vaelab.objectives.marginal.importance_sampled_log_marginal"' in api
    remote = {m for page in built_site.rglob("*.html")
              for m in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', page.read_text())}
    assert remote == set(), f"the site loads from the network: {remote}"
    assert "fonts.googleapis" not in (built_site / "index.html").read_text()


@pytest.fixture
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    path = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if path is None or driver_path is None:
        pytest.skip("headless Chromium and chromedriver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = path
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1400",
                 "--disable-dev-shm-usage", "--allow-file-access-from-files"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VAELAB_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_built_site_in_a_browser(browser: Any, built_site: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shots = _artifacts(tmp_path)
    pages = {"home": "index.html", "guide": "guide/own-networks.html",
             "reference": "reference/api/objectives.html"}
    expected = {"home": "Where to go", "guide": "Your encoder and decoder",
                "reference": "importance_sampled_log_marginal"}
    for name, page in pages.items():
        browser.get((built_site / page).as_uri())
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "article h1"))
        assert expected[name] in browser.find_element(By.CSS_SELECTOR, "article").get_attribute("textContent")
        browser.save_screenshot(str(shots / f"site-{name}.png"))
    browser.get((built_site / "index.html").as_uri())
    box = browser.find_element(By.CSS_SELECTOR, "input[data-md-component='search-query']")
    box.click()
    box.send_keys("importance_sampled_log_marginal")
    deadline = time.monotonic() + 30
    results = ""
    while time.monotonic() < deadline and "importance_sampled_log_marginal" not in results:
        time.sleep(0.5)
        results = browser.find_element(By.CSS_SELECTOR, ".md-search-result").text
    browser.save_screenshot(str(shots / "site-search.png"))
    assert "importance_sampled_log_marginal" in results, f"search found: {results!r}"
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
