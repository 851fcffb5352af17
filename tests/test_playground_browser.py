"""The playground in a real browser: Playwright driving Debian's Chromium (``/usr/bin/chromium``; ``make test``
installs it where it runs as root or with sudo).  Where the browser is absent these tests skip with one line.

The time from Run to the first frame drawn is measured here and reported (``first_frame_s`` in the summary
``make test`` prints), never asserted: timings are for reports.
"""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from harness_util import run_cli

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("browser tests: no /usr/bin/chromium (Debian's chromium package; `make test` installs it when run "
                "as root or with sudo)", allow_module_level=True)
pytest.importorskip("gradio", reason="the playground extra (make setup installs it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is the browser extra (make setup installs it)")

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
SERVER_START_S = 120  # imports, the warm-up render and Gradio's start on a loaded 2-core machine
FRAME_DRAWN = """() => { const i = document.querySelector('#frame img');
    if (!i || !i.complete || !i.naturalWidth) return null;
    const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(i, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data; let lo = 255, hi = 0;
    for (let k = 0; k < d.length; k += 4 * 97) { lo = Math.min(lo, d[k]); hi = Math.max(hi, d[k]); }
    return [c.width, c.height, hi - lo]; }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A small results folder: 2 short classic episodes by eval.run, with videos."""
    root = tmp_path_factory.mktemp("results")
    run_cli("agent=classic", "task=place", "episodes=2", "workers=1", "max_steps=20", "video=true",
            f"out_dir={root / 'runs' / 'classic'}", check=0)
    return root


@pytest.fixture(scope="module")
def server(results, tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "GRADIO_ANALYTICS_ENABLED": "False",
           "RERUN_ANALYTICS": "0"}
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):  # gemini must read as not configured
        env.pop(key, None)
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "eval.playground", "--port", str(port), "--results",
                                 str(results), "--out", str(results / "playground")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + SERVER_START_S
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the playground did not serve {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(60_000)
        page.goto(server)
        page.wait_for_selector("#run")
        yield page
        browser.close()


def _flat(text: str) -> str:
    """Text as the page shows it, without the line breaks and spaces its layout puts between the parts."""
    return "".join(text.split())


def _pick(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_typed_prompt_runs_a_classic_episode_and_draws_its_frames(page, record_property):
    page.locator("#instruction textarea").fill("put the red block on the blue target")
    page.locator("#max-steps textarea, #max-steps input").first.fill("40")
    start = time.perf_counter()
    page.locator("#run").click()
    drawn = page.wait_for_function(FRAME_DRAWN, timeout=30_000).json_value()
    first_frame_s = time.perf_counter() - start
    record_property("first_frame_s", round(first_frame_s, 3))
    print(f"playground: first frame drawn {first_frame_s:.2f} s after Run (classic, place)")
    width, height, spread = drawn
    assert (width, height) == (640, 240) and spread > 50  # a rendered scene, not a blank image
    page.wait_for_function("() => /SUCCESS|FAILURE|ERROR/.test(document.querySelector('#outcome').innerText)")
    outcome = page.locator("#outcome").inner_text()
    server_side = re.search(r"first frame ([0-9.]+) s after Run", outcome)
    if server_side:  # the same, without the browser's part (the page's request, the image's transfer)
        record_property("first_frame_server_s", float(server_side.group(1)))
    assert "after 40 steps" in outcome and "ERROR" not in outcome, outcome
    assert "was told: 'put the red block on the blue target'" in outcome and "scored against the task's goal" in outcome
    assert "setGripperState" in page.locator("#calls").inner_text() and "move" in page.locator("#calls").inner_text()
    assert "released" in page.locator("#conditions").inner_text()
    downloads = _flat(page.locator("#downloads").inner_text())
    assert "episode.mp4" in downloads and "episode.json" in downloads
    assert "episode.rrd" in downloads  # the Rerun replay (rerun-sdk is installed by make setup)


def test_an_agent_without_its_key_says_so_in_the_page(page):
    _pick(page, "#agent", "gemini")
    page.locator("#run").click()
    page.wait_for_function("() => /Could not start/.test(document.querySelector('#outcome').innerText)")
    assert "GEMINI_API_KEY" in page.locator("#outcome").inner_text()


def test_the_results_tab_opens_a_run_folder_its_cell_and_episodes(page, results):
    seeds = pd.read_csv(results / "runs" / "classic" / "episodes.csv")["seed"].tolist()
    page.get_by_role("tab", name="Results").click()
    _pick(page, "#folder", "runs/classic")
    page.wait_for_function("() => /classic/.test(document.querySelector('#results-table').innerText)")
    table = page.locator("#results-table").inner_text()
    assert "place" in table and "nominal" in table
    page.wait_for_function(f"() => document.querySelector('#cell-episodes').innerText.includes('{seeds[1]}')")
    assert str(seeds[0]) in page.locator("#cell-episodes").inner_text()
    page.wait_for_selector("#episode-video video[src]")  # episode 0's mp4, served from the results folder
    assert f'"seed":{seeds[0]},' in _flat(page.locator("#episode-record").inner_text())
    page.wait_for_function("() => /move/.test(document.querySelector('#episode-calls').innerText)")  # its trace
