"""The pages in a real headless browser (Debian's chromium driven by Selenium through Debian's
chromium-driver), against `reputation serve` running as its own process: the freelancer page
of a simulated marketplace has one chart step per published change (without the token) or per
ledger entry (trust, with it), and a drop's causes sum to it."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections import Counter

import pytest

import reputation
from engine.serve.load import started_server
from engine.simulate import simulate
from tests.services import unavailable

SEED = 7  # the simulated marketplace
TOKEN = "browser-trust-token"
TRUST = {"Authorization": f"Bearer {TOKEN}"}
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def _first(paths: tuple[str, ...], name: str) -> str:
    for p in paths:
        if shutil.which(p):
            return p
    found = shutil.which(name)
    if found:
        return found
    unavailable(f"{name} is not installed (`bash .ci/browser.sh` installs Debian's chromium and chromium-driver)")
    raise AssertionError  # unreachable


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (the `test` extra installs it)")
    options = webdriver.ChromeOptions()
    options.binary_location = _first(CHROMIUM, "chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1100,1500",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_first(DRIVER, "chromedriver")))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("browser") / "home"
    with reputation.open(str(home)) as engine:
        engine.ingest(simulate(25, 36, SEED))
        engine.project()
    with started_server(["--home", str(home)], {"REPUTATION_TRUST_TOKEN": TOKEN}) as url:
        yield url


def get_json(url: str, headers: dict[str, str] | None = None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
        return json.load(r)


def when(e: dict) -> str:
    """Where an entry's step sits: a ledger entry's effective time, a published change's instant."""
    return e.get("effective_at") or e["published_at"]


def numbered(entries: list[dict]) -> list[dict]:
    """The entries with the number the page gives them: the ledger's seq, or 1..n for published changes."""
    return [e if "seq" in e else {**e, "seq": n} for n, e in enumerate(entries, start=1)]


def a_drop(url: str, headers: dict[str, str]) -> tuple[str, dict, list[dict]]:
    """A freelancer, an entry where the displayed JSS drops (both shown) alone at its instant,
    and the freelancer's entries in that audience."""
    for fid in [f"f-{i:06d}" for i in range(1, 26)]:
        entries = numbered(get_json(f"{url}/freelancers/{fid}/history", headers))
        at = Counter(when(e) for e in entries)
        for e in entries:
            if (
                e["jss_before"] is not None
                and e["jss_after"] is not None
                and e["jss_after"] < e["jss_before"]
                and at[when(e)] == 1
            ):
                return fid, e, entries
    raise AssertionError(f"seed {SEED}: no freelancer has a drop of a shown JSS")


@pytest.fixture(params=["freelancer", "trust"])
def audience(request, browser):
    """The browser as a request without the token (the freelancer audience) or with it (trust):
    the header on every request, through the DevTools protocol."""
    headers = TRUST if request.param == "trust" else {}
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
    yield request.param, headers
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


def test_freelancer_page_steps_and_a_drop_explained(browser, server, audience, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    who, headers = audience
    # the current ledger (no restated entries) for trust, the published changes for the freelancer
    fid, drop, entries = a_drop(server, headers)
    browser.get(f"{server}/ui/freelancers/{fid}")
    assert f"({who} view)" in browser.find_element(By.TAG_NAME, "body").text
    steps = browser.find_elements(By.CSS_SELECTOR, "#jss-chart g.step")
    assert sorted(int(s.get_attribute("data-seq")) for s in steps) == sorted(e["seq"] for e in entries)
    for s in steps:  # each step carries its entry's displayed values, at its instant
        e = next(e for e in entries if e["seq"] == int(s.get_attribute("data-seq")))
        assert s.get_attribute("data-after") == ("" if e["jss_after"] is None else str(e["jss_after"]))
        assert s.get_attribute("data-at") == when(e)
    counted = browser.find_elements(By.CSS_SELECTOR, "#contracts tr.contract.counts")
    score = get_json(f"{server}/freelancers/{fid}/score", headers)
    assert score.get("audience", "trust") == who  # the trust Score names no audience
    window = score["counted"]["window_months"]
    # the freelancer is not told whether a contract decided by private feedback counts
    assert len(counted) == sum(window in (k["in_windows"] or []) for k in score["contracts"])
    browser.save_screenshot(str(tmp_path / f"freelancer-{who}.png"))

    # a range: only the entries in it are steps
    start, end = when(drop)[:10] + "T00:00:00Z", when(entries[-1])
    browser.get(f"{server}/ui/freelancers/{fid}?from={start}&to={end}")
    ranged = browser.find_elements(By.CSS_SELECTOR, "#jss-chart g.step")
    assert len(ranged) == sum(start <= when(e) <= end for e in entries) >= 1

    browser.get(f"{server}/ui/freelancers/{fid}")
    target = browser.find_element(By.CSS_SELECTOR, f'#jss-chart g.step[data-seq="{drop["seq"]}"]')
    assert "drop" in target.get_attribute("class")
    target.find_element(By.TAG_NAME, "circle").click()
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.ID, "causes")))
    assert browser.current_url.endswith(f"/ui/freelancers/{fid}/changes/{drop['seq']}")
    causes = browser.find_elements(By.CSS_SELECTOR, "#causes tr.cause")
    assert causes, "the change lists its causes"
    total = float(browser.find_element(By.ID, "delta").get_attribute("data-value"))
    assert total < 0
    assert sum(float(c.get_attribute("data-delta")) for c in causes) == pytest.approx(total, abs=1e-9)
    assert browser.find_element(By.ID, "shown-before").text == str(drop["jss_before"])
    assert browser.find_element(By.ID, "shown-after").text == str(drop["jss_after"])
    at = when(drop)
    explained = get_json(f"{server}/freelancers/{fid}/explain?from={at}&to={at}", headers)
    assert explained["to"]["jss"] == drop["jss_after"]
    earlier = [when(e) for e in entries if e["seq"] < drop["seq"]]
    if who == "freelancer" and earlier:  # the page explains the span since the previous published change
        explained = get_json(f"{server}/freelancers/{fid}/explain?from={earlier[-1]}&to={at}", headers)
        assert (explained["from"]["jss"], explained["to"]["jss"]) == (drop["jss_before"], drop["jss_after"])
        assert explained["jss_delta"] == pytest.approx(total, abs=1e-9)
    browser.save_screenshot(str(tmp_path / f"change-{who}.png"))


def test_whatif_page_links_the_movers(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/ui/whatif?rules=jss-2024&at=2021-01-15T00:00:00Z")
    api = get_json(f"{server}/whatif?rules=jss-2024&at=2021-01-15T00:00:00Z")
    for key in ("gain", "lose", "same", "appear", "disappear", "hidden_both"):
        assert browser.find_element(By.CSS_SELECTOR, f'td[data-count="{key}"]').text == str(api[key])
    bars = browser.find_elements(By.CSS_SELECTOR, "#whatif-histogram rect.bar")
    assert [int(b.get_attribute("data-count")) for b in bars] == [b["count"] for b in api["histogram"]]
    links = browser.find_elements(By.CSS_SELECTOR, "#movers tr.mover a")
    assert [a.text for a in links] == [m["freelancer_id"] for m in api["movers"]]
    browser.save_screenshot(str(tmp_path / "whatif.png"))
    links[0].click()
    assert browser.find_element(By.TAG_NAME, "h1").text == api["movers"][0]["freelancer_id"]
