"""The page readers see: long posts folded, prolific blogs spread out, the camp's identity
(description, logo, accent colour, about page) and who writes on the planet."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import feedparser
import html5lib
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from campplanet import colour, pages
from campplanet.cli import main
from campplanet.config import PlanetSettings, RenderSettings, Settings, load_settings
from campplanet.exceptions import ConfigError
from campplanet.fold import count_words, fold_html
from campplanet.render import build_files, render_site
from campplanet.theme import BADGE_COLOURS, default_templates_dir
from sitekit import T0, entry, feed, paragraphs, parse_html, png, settings_for, text_of, words

STRICT = html5lib.HTMLParser(strict=True)


def valid(fragment: str) -> bool:
    """Whether an HTML fragment parses without a single error (every element closed where
    it should be, nothing closed that was not open)."""
    try:
        STRICT.parseFragment(fragment)
    except html5lib.html5parser.ParseError:
        return False
    return True


def fragment_text(fragment: str) -> str:
    return " ".join(text_of(html5lib.parseFragment(fragment, namespaceHTMLElements=False)).split())


# --- the fold --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "opening_words", "rest_words"),
    [
        # cut at the first paragraph end after 150 words
        (paragraphs(*[40] * 10), 160, 240),
        (paragraphs(150, 100), 150, 100),
        # a paragraph far longer than the opening: the boundary before it, if it holds
        # at least half the opening
        (paragraphs(100, 400, 100), 100, 500),
        # inside a wrapping div and a blockquote: closed, and opened again in the rest
        (f"<div><blockquote>{paragraphs(*[50] * 4)}</blockquote></div>", 150, 50),
        # list items are blocks too
        ("<ul>" + "".join(f"<li>{words(30)}</li>" for _ in range(10)) + "</ul>", 150, 150),
        # a word across inline tags is one word; &nbsp; separates words
        (
            "<p>" + "Hel<b>lo</b> " * 150 + f"</p><p>one&nbsp;two <em>thr</em>ee {words(60)}</p>",
            150,
            63,
        ),
        # headings, figures and tables are blocks a cut may follow
        (
            f"<h4>Title words</h4>{paragraphs(149)}<figure><img src='a' alt=''>"
            f"<figcaption>cap</figcaption></figure><table><tr><td>{words(60)}</td></tr></table>",
            151,
            61,
        ),
    ],
)
def test_fold_cuts_after_about_150_words_on_a_block_boundary(content, opening_words, rest_words):
    folded = fold_html(content, 150)
    assert folded is not None
    assert count_words(folded.opening) == opening_words
    assert folded.words == rest_words == count_words(folded.rest)
    assert valid(folded.opening) and valid(folded.rest)
    assert fragment_text(folded.opening + folded.rest) == fragment_text(content)
    assert folded.opening.endswith(">")  # never inside a block's text


@pytest.mark.parametrize(
    "content",
    [
        paragraphs(100),  # short
        paragraphs(150, 40),  # the rest would be under a third of the opening: shown whole
        paragraphs(120, 60),  # under 150 words before the last boundary
        "<p>" + words(3000) + "</p>",  # one block: no boundary to cut at
        "<pre>" + "\n".join(words(20) for _ in range(100)) + "</pre>",  # one block too
        "",
        "plain text " * 500,
    ],
)
def test_short_or_uncuttable_posts_are_not_folded(content):
    assert fold_html(content, 150) is None


def test_an_ordered_list_goes_on_at_its_next_number():
    content = '<ol start="3">' + "".join(f"<li>{words(40)}</li>" for _ in range(8)) + "</ol>"
    folded = fold_html(content, 150)
    assert folded.opening.endswith("</li></ol>")
    assert folded.rest.startswith('<ol start="7"><li>')  # items 3, 4, 5, 6 before the cut
    assert folded.words == 160


def test_pictures_weigh_in_and_are_counted():
    photos = "".join(f'<p><img src="https://img.example/{n}.jpg" alt=""></p>' for n in range(12))
    folded = fold_html(f"<p>{words(20)}</p>{photos}", 150)
    assert folded is not None and folded.media == 8 and folded.words == 0
    assert folded.opening.count("<img") == 4  # 20 words and 3 pictures weigh 140; 4, 180


BLOCKS = st.one_of(
    st.integers(1, 90).map(lambda n: f"<p>{words(n)} <em>em</em> <a href='x'>link</a>.</p>"),
    st.integers(1, 6).map(lambda n: "<ul>" + f"<li>{words(12)}</li>" * n + "</ul>"),
    st.integers(1, 6).map(lambda n: "<ol>" + f"<li>{words(15)}</li>" * n + "</ol>"),
    st.just("<h4>A heading here</h4>"),
    st.just("<hr>"),
    st.integers(1, 40).map(lambda n: f"<blockquote><p>{words(n)}</p></blockquote>"),
    st.just(
        '<figure><img src="https://i.example/a.png" alt=""><figcaption>A</figcaption></figure>'
    ),
)
POSTS = st.lists(BLOCKS, max_size=25).flatmap(
    lambda blocks: st.sampled_from(["{}", "<div>{}</div>", "<section><div>{}</div></section>"]).map(
        lambda wrap: wrap.format("".join(blocks))
    )
)


@settings(max_examples=200, deadline=None)
@given(POSTS, st.integers(20, 200))
def test_any_fold_is_valid_markup_and_loses_nothing(content, target):
    folded = fold_html(content, target)
    if folded is None:
        return
    assert valid(folded.opening) and valid(folded.rest)
    assert fragment_text(folded.opening + folded.rest) == fragment_text(content)
    assert folded.words == count_words(folded.rest)
    assert count_words(folded.opening) + folded.words == count_words(content)
    assert folded.words + 40 * folded.media >= target // 3


def test_the_page_folds_long_posts_and_keeps_short_ones_whole(tmp_path):
    long = entry(0, content=paragraphs(*[60] * 25))  # 1,500 words
    short = entry(1, content=paragraphs(90))
    render_site(settings_for(tmp_path), [long, short], [long.feed, short.feed])
    doc = parse_html(tmp_path / "public" / "index.html")
    first, second = doc.findall(".//article")
    details = first.find("details")
    assert details is not None and details.get("open") is None  # folded, closed
    summary = " ".join(text_of(details.find("summary")).split())
    assert summary == "Continue reading “Post 0” — 1,320 more words"
    opening = ElementTree.tostring(first.find("div[@class='content']"), encoding="unicode")
    assert count_words(opening) == 180
    assert second.find("details") is None and "p0w89" in text_of(second)


@pytest.mark.parametrize(
    ("mode", "shows", "hides", "link"),
    [
        ("fold", "p0w0", "", False),  # the rest is in <details>
        ("full", "p24w59", "", False),
        ("summary", "The summary", "p0w0", True),
    ],
)
def test_content_modes(tmp_path, mode, shows, hides, link):
    e = entry(0, content=paragraphs(*[60] * 25), summary="The summary")
    render_site(settings_for(tmp_path, content=mode), [e], [e.feed])
    article = parse_html(tmp_path / "public" / "index.html").find(".//article")
    assert shows in text_of(article)
    assert not hides or hides not in text_of(article)
    assert (article.find("details") is not None) == (mode == "fold")
    assert (article.find(".//p[@class='more']/a") is not None) == link


def test_cut_after_is_the_opening_in_words_and_0_never_folds(tmp_path):
    e = entry(0, content=paragraphs(*[10] * 100))
    render_site(settings_for(tmp_path, cut_after=50), [e], [e.feed])
    summary = parse_html(tmp_path / "public" / "index.html").find(".//details/summary")
    assert text_of(summary).endswith("950 more words")
    render_site(settings_for(tmp_path, cut_after=0), [e], [e.feed])
    assert parse_html(tmp_path / "public" / "index.html").find(".//details") is None


# --- variety ---------------------------------------------------------------------------------


def blog_feed(n: int):
    return feed(n, title=f"Blog {n}")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 80)), min_size=1, max_size=40),
    st.integers(1, 4),
    st.integers(1, 12),
)
def test_no_more_than_per_blog_in_a_row_and_nothing_moves_page(posts, per_blog, per_page):
    entries = sorted(
        (entry(n, blog_feed(b), date=T0 - timedelta(hours=h)) for n, (b, h) in enumerate(posts)),
        key=lambda e: (e.date, e.id),
        reverse=True,
    )
    s = replace(
        settings_for(Path("/nonexistent"), items=per_page),
        render=RenderSettings(per_blog=per_blog),
    )
    tz = ZoneInfo(s.planet.timezone)
    total = len(entries)
    for number in range(pages.archive_count(total, per_page) + 1):
        chosen = entries[pages.page_slice(number, total, per_page)]
        page = pages.make_page(s, number, chosen, total, tz)
        shown = [item.entry for day in page.days for item in day.items]
        # the same posts, none moved to another page
        assert sorted(e.id for e in shown) == sorted(e.id for e in chosen)
        # days newest first; every post under its own day
        assert [d.day for d in page.days] == sorted({d.day for d in page.days}, reverse=True)
        for day in page.days:
            assert all(i.entry.date.astimezone(tz).date() == day.day for i in day.items)
            blogs = [i.entry.feed.url for i in day.items]
            original = [e for e in chosen if e.date.astimezone(tz).date() == day.day]
            # each blog's posts in their own order
            for url in set(blogs):
                assert [i.entry.id for i in day.items if i.entry.feed.url == url] == [
                    e.id for e in original if e.feed.url == url
                ]
            # a run longer than per_blog only when no other blog's post of the day is left
            for k in range(per_blog, len(blogs)):
                if len(set(blogs[k - per_blog : k + 1])) == 1:
                    assert set(blogs[k:]) == {blogs[k]}, blogs


def test_a_prolific_blog_is_spread_among_the_others(tmp_path):
    flood = [entry(n, blog_feed(0), date=T0 - timedelta(minutes=n)) for n in range(8)]
    others = [
        entry(10 + n, blog_feed(1 + n), date=T0 - timedelta(minutes=20 + n)) for n in range(3)
    ]
    render_site(settings_for(tmp_path, items=20), flood + others, [blog_feed(n) for n in range(4)])
    titles = [text_of(h) for h in parse_html(tmp_path / "public" / "index.html").iter("h3")]
    assert titles == [
        *("Post 0", "Post 1", "Post 2", "Post 10"),
        *("Post 3", "Post 4", "Post 5", "Post 11"),
        *("Post 6", "Post 7", "Post 12"),
    ]
    # per_blog 0: the date order as it is
    render_site(settings_for(tmp_path, items=20, per_blog=0), flood + others, [blog_feed(0)])
    titles = [text_of(h) for h in parse_html(tmp_path / "public" / "index.html").iter("h3")]
    assert titles == [f"Post {n}" for n in (*range(8), 10, 11, 12)]


def test_spread_keeps_days_apart(tmp_path):
    day1 = [entry(n, blog_feed(0), date=T0 - timedelta(minutes=n)) for n in range(5)]
    day2 = [entry(9, blog_feed(1), date=T0 - timedelta(days=1))]
    render_site(settings_for(tmp_path, items=20), day1 + day2, [blog_feed(0), blog_feed(1)])
    doc = parse_html(tmp_path / "public" / "index.html")
    sections = [[text_of(h) for h in s.iter("h3")] for s in doc.findall(".//section")]
    assert sections == [[f"Post {n}" for n in range(5)], ["Post 9"]]  # nobody else that day


# --- the accent colour -----------------------------------------------------------------------


def test_contrast_matches_known_values():
    assert colour.contrast("#000000", "#ffffff") == pytest.approx(21)
    assert colour.contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # WebAIM
    assert colour.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert colour.contrast("#0b57a4", "#fbfaf8") == colour.contrast("#fbfaf8", "#0b57a4")


@pytest.mark.parametrize(
    ("accent", "fails_in"),
    [
        ("#0b57a4", set()),  # the default theme's blue
        ("#1D70B8", set()),  # GOV.UK blue, upper case
        ("#00703c", set()),  # GOV.UK green
        ("#d4351c", {"dark"}),  # GOV.UK red: reads as a link, too light behind the dark header
        ("#123", set()),  # short form
        ("#ffcc00", {"light", "dark"}),  # yellow: no text reads on it or in it
        ("#767676", {"light", "dark"}),  # 4.54:1 on white, not on the off-white page
        ("#727272", {"dark"}),  # passes the light theme, not the dark header's text
    ],
)
def test_accent_contrast_in_both_themes(tmp_path, accent, fails_in):
    normal = colour.parse_hex(accent)
    assert {f.theme for f in colour.accent_failures(normal)} == fails_in
    config = tmp_path / "c.toml"
    config.write_text(f'[render]\naccent = "{accent}"\n')
    if not fails_in:
        assert load_settings(config).render.accent == accent
        return
    with pytest.raises(ConfigError) as e:
        load_settings(config)
    message = str(e.value)
    assert str(config) in message and accent in message and "4.5:1" in message
    for f in colour.accent_failures(normal):
        assert colour.ratio_text(f.ratio) in message and f"{f.theme} theme" in message


@pytest.mark.parametrize("accent", ["blue", "#12345", "#0b57a4ff", "rgb(0,0,0)", "0b57a4"])
def test_accent_must_be_a_hex_colour(tmp_path, accent):
    config = tmp_path / "c.toml"
    config.write_text(f'[render]\naccent = "{accent}"\n')
    with pytest.raises(ConfigError, match="must be a CSS hex colour"):
        load_settings(config)


def test_a_colour_that_fails_exits_2_naming_it_and_its_ratio(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[render]\naccent = "#ffcc00"\n')
    result = CliRunner().invoke(main, ["render", "--config", str(config)])
    assert result.exit_code == 2
    assert "accent '#ffcc00'" in result.output
    assert "1.44:1 as link text on the page in the light theme (against #fbfaf8)" in result.output
    assert "1.38:1 behind the header's text in the dark theme" in result.output
    assert "Traceback" not in result.output


def test_the_accent_colours_the_header_and_links_in_both_themes(tmp_path):
    render_site(settings_for(tmp_path, accent="#00703C"), [entry(0)], [feed(0)])
    css = (tmp_path / "public" / "style.css").read_text()
    light, dark = css.split("/* render.accent */")[1].split("@media (prefers-color-scheme: dark)")
    assert "--accent: #00703c; --head: #00703c;" in light
    tint = colour.tint_for_dark("#00703c")
    assert f"--accent: {tint}; --head: #00703c;" in dark
    assert colour.contrast(tint, colour.DARK_CARD) >= 4.5
    assert colour.contrast(tint, colour.DARK_PAGE) >= 4.5
    # without an accent the theme keeps its own colours
    render_site(settings_for(tmp_path), [entry(0)], [feed(0)])
    assert "/* render.accent */" not in (tmp_path / "public" / "style.css").read_text()


# --- description, logo, about page -----------------------------------------------------------


def camp_settings(tmp_path: Path, **planet) -> Settings:
    base = settings_for(tmp_path, items=2)
    return replace(base, planet=replace(base.planet, **planet))


def write_logo(tmp_path: Path) -> Path:
    logo = tmp_path / "camp-logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"/>')
    return logo


def test_description_and_logo_in_the_header_and_the_feeds(tmp_path):
    logo = write_logo(tmp_path)
    s = camp_settings(tmp_path, description="Write-ups from LocalGovCamp 2026", logo=str(logo))
    render_site(s, [entry(n) for n in range(5)], [feed(0), feed(1), feed(2)])
    public = tmp_path / "public"
    assert (public / "logo.svg").read_bytes() == logo.read_bytes()
    for page, root in (("index.html", ""), ("page/1/index.html", "../../"), ("feeds.html", "")):
        doc = parse_html(public / page)
        header = doc.find(".//header[@class='site']")
        assert text_of(header.find(".//p[@class='tagline']")) == "Write-ups from LocalGovCamp 2026"
        img = header.find(".//img[@class='logo']")
        assert img.get("src") == f"{root}logo.svg" and img.get("alt") == ""
        assert doc.find(".//link[@rel='icon']").get("href") == f"{root}logo.svg"
        description = doc.find(".//meta[@name='description']").get("content")
        assert page != "index.html" or description == "Write-ups from LocalGovCamp 2026"
    url = "https://planet.example.org/logo.svg"
    atom = feedparser.parse((public / "atom.xml").read_bytes())
    assert atom.feed.subtitle == "Write-ups from LocalGovCamp 2026"
    assert atom.feed.icon == url and atom.feed.logo == url
    rss = etree.fromstring((public / "rss.xml").read_bytes())
    assert rss.find("channel/image") is None  # RSS 2.0 images are GIF, JPEG or PNG
    assert rss.findtext("channel/description") == "Write-ups from LocalGovCamp 2026"
    doc = json.loads((public / "feed.json").read_text())
    assert doc["icon"] == doc["favicon"] == url
    assert doc["description"] == "Write-ups from LocalGovCamp 2026"


def test_a_png_logo_is_the_rss_channel_image(tmp_path):
    logo = tmp_path / "logo.PNG"
    logo.write_bytes(png(2, 2, (0, 0, 0)))
    render_site(camp_settings(tmp_path, logo=str(logo)), [entry(0)], [feed(0)])
    rss = etree.fromstring((tmp_path / "public" / "rss.xml").read_bytes())
    assert rss.findtext("channel/image/url") == "https://planet.example.org/logo.png"
    assert rss.findtext("channel/image/title") == rss.findtext("channel/title")
    assert rss.findtext("channel/image/link") == rss.findtext("channel/link")
    assert (tmp_path / "public" / "logo.png").read_bytes() == logo.read_bytes()


def test_a_logo_url_is_used_as_it_is_and_a_dropped_logo_file_goes(tmp_path):
    s = camp_settings(tmp_path, logo=str(write_logo(tmp_path)))
    render_site(s, [entry(0)], [feed(0)])
    assert (tmp_path / "public" / "logo.svg").is_file()
    url = "https://camp.example.org/logo.png"
    report = render_site(replace(s, planet=replace(s.planet, logo=url)), [entry(0)], [feed(0)])
    assert "logo.svg" in report.removed and not (tmp_path / "public" / "logo.svg").exists()
    doc = parse_html(tmp_path / "public" / "index.html")
    assert doc.find(".//img[@class='logo']").get("src") == url
    assert feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes()).feed.icon == url


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('logo = "missing.png"', "logo: {dir}/missing.png is not a file"),
        ('logo = "notes.txt"', "must be an image file"),
        ('logo = "ftp://example.org/a.png"', "must be an http(s) URL or a file"),
        ('about = "missing.md"', "about: {dir}/missing.md not found"),
        ('about = "about.txt"', "must be a Markdown (.md, .markdown) or HTML"),
        ('about = "folder.md"', "about: {dir}/folder.md is a folder"),
        ('about = "latin1.md"', "about: {dir}/latin1.md is not UTF-8 text"),
    ],
)
def test_a_missing_or_unreadable_file_is_a_settings_error_naming_it(tmp_path, toml, message):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "about.txt").write_text("x")
    (tmp_path / "folder.md").mkdir()
    (tmp_path / "latin1.md").write_bytes("Caf\xe9".encode("latin-1"))
    config = tmp_path / "c.toml"
    config.write_text(f"[planet]\n{toml}\n")
    with pytest.raises(ConfigError) as e:
        load_settings(config)
    assert message.format(dir=tmp_path) in str(e.value)
    result = CliRunner().invoke(main, ["render", "--config", str(config)])
    assert result.exit_code == 2 and message.format(dir=tmp_path) in result.output


def test_an_about_file_gone_by_render_time_stops_the_render_naming_it(tmp_path):
    about = tmp_path / "about.md"
    about.write_text("Hello")
    s = camp_settings(tmp_path, about=str(about))
    about.unlink()
    with pytest.raises(ConfigError, match=f"about: {about} not found"):
        render_site(s, [entry(0)], [feed(0)])


HOSTILE = (
    "<script>document.title='PWNED'</script>"
    '<img src="x" onerror="alert(1)">'
    '<a href="javascript:alert(1)">click</a>'
    "<style>body{display:none}</style>"
    '<iframe src="https://evil.example/"></iframe>'
    '<form action="https://evil.example/"><input name="q"></form>'
    '<p style="color:red" onclick="alert(1)">Styled</p>'
)


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_the_about_page_is_written_and_sanitized_like_a_post(tmp_path, suffix):
    text = (
        "# Welcome\n\nLocalGovCamp is the **unconference** of UK local-government digital "
        "people.\n\n## Add your blog\n\nSee [the subscriptions](../feeds.html).\n\n"
        f"| Day | Where |\n| --- | --- |\n| Saturday | Birmingham |\n\n{HOSTILE}\n"
    )
    if suffix == ".html":
        text = (
            "<h1>Welcome</h1><p>LocalGovCamp is the <strong>unconference</strong> of UK "
            "local-government digital people.</p><h2>Add your blog</h2><p>See "
            '<a href="../feeds.html">the subscriptions</a>.</p><table><tr><td>Saturday</td>'
            f"<td>Birmingham</td></tr></table>{HOSTILE}"
        )
    about = tmp_path / f"about{suffix}"
    about.write_text(text)
    s = camp_settings(tmp_path, about=str(about))
    files = build_files(s, [entry(n) for n in range(5)], [feed(0), feed(1), feed(2)])
    page = files["about/index.html"].decode()
    doc = html5lib.parse(page, namespaceHTMLElements=False)
    assert text_of(doc.find(".//h1")) == "About Test & Planet"
    headings = [(h.tag, text_of(h)) for h in doc.iter() if h.tag in ("h2", "h3", "h4")]
    assert headings == [("h2", "Welcome"), ("h3", "Add your blog")]
    assert doc.find(".//strong").text == "unconference"
    assert "Birmingham" in text_of(doc.find(".//table"))
    link = next(a for a in doc.iter("a") if text_of(a) == "the subscriptions")
    assert link.get("href") == "https://planet.example.org/feeds.html"
    for bad in ("<script", "onerror", "javascript:", "<style", "<iframe", "<form", "onclick"):
        assert bad not in page.split("</head>")[1], bad
    assert "PWNED" not in page and "Styled" in page
    # every page links to it, archive pages too; it links back with its own root
    for rel in ("index.html", "page/1/index.html", "feeds.html", "about/index.html"):
        nav = html5lib.parse(files[rel], namespaceHTMLElements=False).find(".//nav")
        hrefs = {text_of(a): a.get("href") for a in nav.iter("a")}
        root = {"page/1/index.html": "../../", "about/index.html": "../"}.get(rel, "")
        assert hrefs["About"] == f"{root}about/"
    assert 'href="../style.css"' in page


def test_without_an_about_file_there_is_no_about_page(tmp_path):
    about = tmp_path / "about.md"
    about.write_text("Hello")
    s = camp_settings(tmp_path, about=str(about))
    render_site(s, [entry(0)], [feed(0)])
    assert (tmp_path / "public" / "about" / "index.html").is_file()
    report = render_site(settings_for(tmp_path, items=2), [entry(0)], [feed(0)])
    assert "about/index.html" in report.removed
    assert not (tmp_path / "public" / "about").exists()
    assert "about/" not in (tmp_path / "public" / "index.html").read_text()


# --- who writes here -------------------------------------------------------------------------


def test_who_writes_here_lists_the_blogs_with_posts_on_the_front_page(tmp_path):
    feeds = [
        feed(0, title="zed blog", avatar="https://img.example.org/z.png"),
        feed(1, title="Alpha"),
        feed(2, title="Quiet", shown=0),
    ]
    entries = [entry(n, feeds[n % 2]) for n in range(6)]
    render_site(settings_for(tmp_path, items=3), entries, feeds)
    doc = parse_html(tmp_path / "public" / "index.html")
    people = doc.find(".//aside[@class='people']")
    assert text_of(people.find("h2")) == "Who writes here"
    links = [(text_of(a.find("span[@class='who']")), a.get("href")) for a in people.iter("a")]
    assert links == [("Alpha", feeds[1].site), ("zed blog", feeds[0].site)]
    face = people.findall(".//li")[1].find(".//span")
    assert face.get("aria-hidden") == "true" and face.text == "ZB"  # initials behind it
    assert face.find("img").get("src") == "https://img.example.org/z.png"
    assert face.find("img").get("alt") == ""
    archive = parse_html(tmp_path / "public" / "page" / "1" / "index.html")
    assert archive.find(".//aside") is None  # archive pages show their posts only


def test_every_avatar_has_its_initials_badge_behind_it(tmp_path):
    f = feed(0, avatar="https://img.example.org/a.png")
    render_site(settings_for(tmp_path), [entry(0, f)], [f])
    for page in ("index.html", "feeds.html"):
        doc = parse_html(tmp_path / "public" / page)
        for img in (i for i in doc.iter("img") if "img.example.org" in (i.get("src") or "")):
            assert img.get("width") is None and img.get("height") is None  # see style.css
    badges = [
        s
        for s in parse_html(tmp_path / "public" / "index.html").iter("span")
        if "avatar" in (s.get("class") or "")
    ]
    assert badges and all(b.text == "B" and b.find("img") is not None for b in badges)


def test_titles_are_unique_per_page_and_headings_never_skip(tmp_path):
    about = tmp_path / "about.md"
    about.write_text("# One\n\n### Three\n\ntext")
    entries = [entry(n, content=paragraphs(*[60] * 10)) for n in range(7)]
    s = camp_settings(tmp_path, about=str(about))
    files = build_files(s, entries, [feed(0), feed(1), feed(2, health="failing")])
    for rel, data in files.items():
        if not rel.endswith(".html"):
            continue
        doc = html5lib.parse(data, namespaceHTMLElements=False)
        assert len(doc.findall(".//h1")) == 1, rel
        levels = [
            int(e.tag[1])
            for e in doc.iter()
            if isinstance(e.tag, str) and len(e.tag) == 2 and e.tag[0] == "h" and e.tag[1].isdigit()
        ]
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), (rel, levels)


def test_default_settings_fold_and_spread():
    render = Settings().render
    assert (render.content, render.cut_after, render.per_blog, render.accent) == (
        "fold",
        150,
        3,
        "",
    )
    assert PlanetSettings().about == PlanetSettings().logo == ""


def test_badge_colours_read_white_initials():
    css = (default_templates_dir() / "style.css").read_text()
    colours = re.findall(r"\.c\d \{ background: (#[0-9a-f]{6}); \}", css)
    assert len(colours) == BADGE_COLOURS
    assert all(colour.contrast(c, "#ffffff") >= 4.5 for c in colours), colours
