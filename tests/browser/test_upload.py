"""Upload round trips in the browser: a GB18030 CSV, a file with bad rows, an oversize file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from dashboard.app import create_app
from tests.browser.test_dashboard import TIMEOUT, open_page, open_tab

pytestmark = pytest.mark.browser

GOOD = Path(__file__).resolve().parents[1] / "data" / "good"
HEADER = ("id,name_zh,category,industries,town,lon,lat,coord_source,coord_precision_m,"
          "source")


def upload(page, name: str, data: bytes, mime: str = "text/csv"):
    open_tab(page, "upload")
    page.locator("#upload input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])


def test_gb18030_csv_becomes_a_session_layer(page, server_url, bundled_atlas):
    open_page(page, server_url)
    upload(page, "excel导出.csv", (GOOD / "gb18030.csv").read_bytes())
    page.wait_for_selector("#upload-ok", timeout=TIMEOUT)
    assert "1 条有效记录" in page.locator("#upload-ok").text_content()
    page.wait_for_function("() => document.getElementById('selection-count')"
                           ".textContent.includes('另有上传 1 个')", timeout=TIMEOUT)
    page.wait_for_selector("path.uploaded-marker", timeout=TIMEOUT)
    # The same filter applies to the uploaded layer: it is in 嘉定, so filtering to 青浦 hides it.
    page.goto(server_url + "?town=qingpu")
    page.wait_for_selector(".town-label", timeout=TIMEOUT)
    assert page.locator("path.uploaded-marker").count() == 0  # a fresh page has no upload


def test_bad_rows_are_listed_and_nothing_is_added(page, server_url):
    open_page(page, server_url)
    rows = [HEADER,
            "U1,好的,lab,ai,jiading,121.25,31.38,x,50,y",
            "U2,坏的新城,lab,ai,nowhere,121.25,31.38,x,50,y",
            "U3,北京的点,lab,ai,jiading,116.40,39.90,x,50,y",
            "U4,<img src=x onerror=alert(1)>,lab,aii,jiading,121.25,31.38,x,50,y"]
    upload(page, "bad.csv", ("\n".join(rows) + "\n").encode("utf-8"))
    page.wait_for_selector("#upload-errors", timeout=TIMEOUT)
    text = page.locator("#upload-errors").text_content()
    assert "3 个问题" in text
    assert "row 2, field 'town'" in text and "row 3, field 'lon/lat'" in text
    assert "row 4, field 'industries'" in text
    assert page.locator("#upload-errors img").count() == 0  # hostile text stays text
    assert page.locator("path.uploaded-marker").count() == 0


@pytest.fixture(scope="module")
def small_limit_url(bundled_atlas):
    """The same app with a 1 MB upload limit, so an oversize file is quick to make."""
    app = create_app(bundled_atlas, max_upload_bytes=1024 * 1024)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_oversize_file_is_refused_in_the_browser(page, small_limit_url):
    open_page(page, small_limit_url)
    assert "≤1 MB" in page.locator("#upload").text_content()
    posted: list[int] = []
    page.on("request", lambda r: r.method == "POST" and posted.append(len(r.post_data or "")))
    upload(page, "huge.csv", b"a" * (3 * 1024 * 1024 // 2))
    page.wait_for_function("() => document.getElementById('upload-status')"
                           ".textContent.includes('上传上限')", timeout=TIMEOUT)
    assert "1.5 MB" in page.locator("#upload-status").text_content()
    assert max(posted, default=0) < 100_000  # the file itself never went to the server
