"""The page as readers get it, in Debian's Chromium driven by Playwright: phone (390 px) and
desktop (1280 px), light and dark.

No request leaves the machine: the pages are files, and every http(s) request they make (the
blogs' pictures) is answered here: one picture is served, every other request fails, which
is how a broken avatar is made. Screenshots go to ``screenshots/`` at the repository's root
for a person to look at (the folder is not committed).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from planetkit import CHROMIUM, CHROMIUM_FLAGS, REPO, run_tool
from sitekit import AVATAR_PNG, BROKEN_AVATAR, WORKING_AVATAR, camp_site

pytestmark = pytest.mark.browser

SHOTS = REPO / "screenshots"
WIDTHS = (390, 1280)
SCHEMES = ("light", "dark")
PAGES = ("index.html", "page/1/index.html", "feeds.html", "about/index.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return camp_site(tmp_path_factory.mktemp("camp"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def answer(route: Route) -> None:
    """The blogs' pictures, offline: the working avatar is served, anything else fails."""
    if route.request.url == WORKING_AVATAR:
        route.fulfill(status=200, content_type="image/png", body=AVATAR_PNG)
    else:
        route.abort()


def open_page(browser: Browser, path: Path, width: int, scheme: str) -> tuple[BrowserContext, Page]:
    phone = width < 600
    context = browser.new_context(
        viewport={"width": width, "height": 844 if phone else 900},
        color_scheme=scheme,
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=1,
    )
    context.route(re.compile(r"^https?://"), answer)
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    # every avatar loaded or failed (lazy ones below the fold are asked for now)
    page.evaluate(
        """() => Promise.all([...document.images].map(img => {
             img.loading = 'eager';
             return img.complete ? null : new Promise(r => { img.onload = img.onerror = r; });
           }))"""
    )
    return context, page


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_scroll_and_screenshots(site, browser, width, scheme):
    SHOTS.mkdir(exist_ok=True)
    for rel in PAGES:
        context, page = open_page(browser, site / rel, width, scheme)
        try:
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{rel} scrolls sideways by {overflow}px at {width}px"
            name = rel.replace("/index.html", "").replace(".html", "").replace("/", "-")
            page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
        finally:
            context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_every_folded_post_opens_with_a_click_and_shows_its_rest(site, browser, width):
    context, page = open_page(browser, site / "index.html", width, "light")
    try:
        folds = page.locator("details.fold")
        assert folds.count() >= 3
        for i in range(folds.count()):
            fold = folds.nth(i)
            rest = fold.locator(":scope > div.content")
            assert fold.get_attribute("open") is None
            assert not rest.is_visible()
            summary = fold.locator("summary")
            assert summary.inner_text().startswith("Continue reading")
            assert re.fullmatch(r"— [\d,]+ more words", summary.locator(".left").inner_text())
            summary.click()
            assert fold.get_attribute("open") == ""
            assert rest.is_visible()
            box = rest.bounding_box()
            assert box is not None and box["height"] > 100
            assert "Paragraph 24 of the write-up" in rest.inner_text()  # the post's last
            assert rest.locator("p").last.is_visible()
        # and with the keyboard: Enter on the summary folds it again
        first = folds.nth(0)
        first.locator("summary").focus()
        page.keyboard.press("Enter")
        assert first.get_attribute("open") is None
    finally:
        context.close()


def face_shot(page: Page, selector: str) -> bytes:
    return page.locator(selector).first.screenshot(animations="disabled")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_a_broken_avatar_shows_the_initials_and_no_broken_image_icon(site, browser, width, scheme):
    context, page = open_page(browser, site / "index.html", width, scheme)
    try:
        broken = page.locator(f'.people .avatar:has(img[src="{BROKEN_AVATAR}"])').first
        working = page.locator(f'.people .avatar:has(img[src="{WORKING_AVATAR}"])').first
        assert broken.evaluate(
            "e => { const i = e.querySelector('img'); return i.complete && i.naturalWidth === 0 }"
        )
        assert working.evaluate("e => e.querySelector('img').naturalWidth === 8")
        assert broken.inner_text() == "SL"
        broken_face, working_face = broken.element_handle(), working.element_handle()
        with_broken_image = broken_face.screenshot(animations="disabled")
        with_picture = working_face.screenshot(animations="disabled")
        # The same faces without their images: the bare initials badges.
        page.evaluate("() => document.querySelectorAll('.avatar img').forEach(i => i.remove())")
        # Pixel for pixel, a face whose picture failed is its badge: no icon, no frame.
        assert broken_face.screenshot(animations="disabled") == with_broken_image
        # (and the check can fail: a picture that loads does change the face)
        assert working_face.screenshot(animations="disabled") != with_picture
    finally:
        context.close()


def test_a_broken_avatar_check_would_see_the_icon(site, browser):
    """The control for the test above: given a width and a height, Chromium draws its
    broken-image icon over the badge, and the screenshots differ."""
    context, page = open_page(browser, site / "index.html", 390, "light")
    try:
        face = page.locator(f'.people .avatar:has(img[src="{BROKEN_AVATAR}"])').first
        handle = face.element_handle()
        face.locator("img").evaluate("i => { i.style.width = '100%'; i.style.height = '100%' }")
        with_icon = handle.screenshot(animations="disabled")
        face.locator("img").evaluate("i => i.remove()")
        assert handle.screenshot(animations="disabled") != with_icon
    finally:
        context.close()


def test_phone_layout_title_across_avatar_beside_byline(site, browser):
    context, page = open_page(browser, site / "index.html", 390, "light")
    try:
        for article in page.locator("article.entry").all()[:4]:
            title = article.locator("h3").bounding_box()
            face = article.locator("header > .avatar").bounding_box()
            by = article.locator("p.by").bounding_box()
            header = article.locator("header").bounding_box()
            assert title["width"] >= header["width"] - 1  # the title uses the full width
            assert face["y"] >= title["y"] + title["height"]  # the avatar is below it,
            centre = face["y"] + face["height"] / 2
            assert by["y"] <= centre <= by["y"] + by["height"]  # beside the byline
            assert face["x"] + face["width"] <= by["x"]
        # a 71-character title takes at most 3 lines on a phone
        long = page.locator("h3", has_text="What we learned").first
        lines = long.evaluate(
            "e => Math.round(e.getBoundingClientRect().height"
            " / parseFloat(getComputedStyle(e).lineHeight))"
        )
        assert lines <= 3
        # the header leaves room before the first post
        header = page.locator("header.site").bounding_box()
        intro = page.locator("p.intro").bounding_box()
        assert intro["y"] - (header["y"] + header["height"]) >= 20
    finally:
        context.close()
    context, page = open_page(browser, site / "index.html", 1280, "light")
    try:
        article = page.locator("article.entry").first
        face = article.locator("header > .avatar").bounding_box()
        title = article.locator("h3").bounding_box()
        assert face["x"] + face["width"] <= title["x"]  # beside title and byline
        side = page.locator("aside.people").bounding_box()
        stream = page.locator(".stream").bounding_box()
        assert side["x"] >= stream["x"] + stream["width"]  # a column of its own
    finally:
        context.close()


def test_day_headings_stay_at_the_top_while_scrolling_a_phone(site, browser):
    context, page = open_page(browser, site / "index.html", 390, "dark")
    try:
        heading = page.locator("section.day h2").first
        section = page.locator("section.day").first.bounding_box()
        page.evaluate(f"() => window.scrollTo(0, {section['y'] + section['height'] / 2})")
        page.wait_for_function("() => window.scrollY > 500")
        assert abs(heading.evaluate("e => e.getBoundingClientRect().top")) <= 1
        # and the next post's title is not hidden under it
        assert heading.evaluate("e => getComputedStyle(e).position") == "sticky"
    finally:
        context.close()


def forced_dark_copy(site: Path, folder: Path) -> Path:
    """The site with its dark theme applied unconditionally, for a checker that renders in
    the light scheme only."""
    shutil.copytree(site, folder)
    css = folder / "style.css"
    text, n = re.subn(r"@media \(prefers-color-scheme: dark\)", "@media all", css.read_text())
    assert n == 2  # the theme's own dark colours and the accent's
    css.write_text(text)
    return folder


def test_axe_finds_nothing_in_either_theme(site, tmp_path):
    pages = [str(site / rel) for rel in PAGES]
    for folder in ("axe-light", "axe-dark"):  # check-a11y names its shots after the paths
        shutil.rmtree(SHOTS / folder, ignore_errors=True)
    light = run_tool(
        "check-a11y", "--fail-on", "minor", "--shots", str(SHOTS / "axe-light"), *pages
    )
    dark_site = forced_dark_copy(site, tmp_path / "dark")
    dark = run_tool(
        "check-a11y",
        "--fail-on",
        "minor",
        "--shots",
        str(SHOTS / "axe-dark"),
        *(str(dark_site / rel) for rel in PAGES),
    )
    for output in (light, dark):
        assert "0 of 4 page(s) failing" in output
        assert "0 critical, 0 serious, 0 moderate, 0 minor" in output
