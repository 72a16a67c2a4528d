"""The panels read whole at every width: parameter labels beside their dropdowns, card notes
not cut off, and the Coverage tab's "use my upload" box off until there is an upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_dashboard import TIMEOUT, open_page, open_tab

pytestmark = pytest.mark.browser

GOOD = Path(__file__).resolve().parents[1] / "data" / "good"

# Every label in a parameter row that holds a dropdown: where its own text is and where the
# dropdown's box is (page px).
LABELLED_DROPDOWNS_JS = """(panel) => [...document.querySelectorAll(
    `#${panel} .nt-params label`)].filter(l => l.querySelector('.dash-dropdown'))
  .map(l => { const dd = l.querySelector('.dash-dropdown').getBoundingClientRect();
    const text = [...l.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
    const range = document.createRange(); range.selectNodeContents(text);
    const r = range.getBoundingClientRect();
    return {text: text.textContent, label: r.toJSON(), dropdown: dd.toJSON()}; })"""


@pytest.mark.parametrize("width,height", [(1440, 900), (1024, 768)])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dropdown_labels_sit_beside_their_dropdowns(browser, server_url, lang, width,
                                                     height):
    """The Coverage preset, the Clusters cell and the Scorecard town labels floated above
    their dropdowns (their text sat over the row, off the dropdown's line)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    open_page(page, server_url + f"?lang={lang}&filters=off")
    seen = 0
    for tab in ("coverage", "clusters", "scorecard"):
        open_tab(page, tab)
        page.wait_for_selector(f"#panel-{tab} .nt-params .dash-dropdown", timeout=TIMEOUT)
        for item in page.evaluate(LABELLED_DROPDOWNS_JS, f"panel-{tab}"):
            label, dropdown = item["label"], item["dropdown"]
            middle = (label["top"] + label["bottom"]) / 2
            # on the dropdown's line, vertically centred on it (a few px of slack) ...
            assert abs(middle - (dropdown["top"] + dropdown["bottom"]) / 2) <= 4, (tab, item)
            # ... and before it, not over it
            assert label["right"] <= dropdown["left"] + 1, (tab, item)
            seen += 1
    assert seen == 3
    context.close()


@pytest.mark.parametrize("width", [1024, 1280, 1440])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_card_notes_are_read_whole(browser, server_url, lang, width):
    """"共 134 个 · 77 个无年份未计入" ran past its card and was cut off."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    open_page(page, server_url + f"?lang={lang}&asof=2015")
    page.wait_for_function("() => (document.querySelector('#card-selected .nt-card-note')"
                           " || {}).textContent > ''", timeout=TIMEOUT)
    notes = page.evaluate("""() => [...document.querySelectorAll('.nt-card-note')]
      .filter(n => n.textContent).map(n => { const c = n.closest('.nt-card');
        return {text: n.textContent, scroll: n.scrollWidth, client: n.clientWidth,
                note: n.getBoundingClientRect().toJSON(),
                card: c.getBoundingClientRect().toJSON()}; })""")
    selected = [n for n in notes if "77" in n["text"]]
    assert selected, notes  # the long note is there
    for n in notes:
        assert n["scroll"] <= n["client"], n  # nothing runs past the note's own box
        note, card = n["note"], n["card"]
        assert card["left"] <= note["left"] and note["right"] <= card["right"] + 0.5, n
        assert note["bottom"] <= card["bottom"] + 0.5, n
    context.close()


def test_use_my_upload_is_off_until_something_is_uploaded(page, server_url):
    open_page(page, server_url + "?tab=coverage")
    box = page.locator("#cov-use-upload input[type=checkbox]")
    assert not box.is_checked()
    assert box.is_disabled()
    assert "上传" in page.locator("#cov-upload-hint").inner_text()  # says why
    page.locator("#upload input[type=file]").set_input_files(
        files=[{"name": "points.csv", "mimeType": "text/csv",
                "buffer": (GOOD / "gb18030.csv").read_bytes()}])
    page.wait_for_selector("#upload-ok", state="attached", timeout=TIMEOUT)
    page.wait_for_function("() => { const b = document.querySelector("
                           "'#cov-use-upload input[type=checkbox]');"
                           " return b && !b.disabled && b.checked; }", timeout=TIMEOUT)
    assert page.locator("#cov-upload-hint").inner_text() == ""
    assert not page.js_errors
