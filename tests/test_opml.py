"""Reading and linting the subscription list: real OPML files and small broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from campplanet.exceptions import OPMLError
from campplanet.opml import (
    Problem,
    changed_outlines,
    lint_opml,
    parse_document,
    read_opml,
    read_subscriptions,
)
from campplanet.urls import feed_key
from planetkit import cpu_seconds

OPML = Path(__file__).parent / "data" / "opml"


def write(tmp_path: Path, body: str, *, head: str = "<head><title>t</title></head>") -> Path:
    """An OPML 2.0 file whose <body> holds ``body``; the body's first line is line 4."""
    path = tmp_path / "feeds.opml"
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n{head}\n<body>\n'
        f"{body}\n</body>\n</opml>\n",
        encoding="utf-8",
    )
    return path


def messages(path: Path, **kwargs: bool) -> list[str]:
    return [str(p) for p in lint_opml(path, **kwargs)]


# --- real subscription lists ---------------------------------------------------------------


def test_opml20_podcast_list() -> None:
    subs = read_opml(OPML / "antennapod-podcasts-opml20.opml")
    assert len(subs) == 8
    first = subs[0]
    assert first.url == "http://aliceisntdead.libsyn.com/rss"
    assert first.title == "Alice Isn't Dead"
    assert first.html_url == "http://www.aliceisntdead.com"
    assert first.line == 8
    assert first.categories == ()


def test_nested_folders_become_categories() -> None:
    subs = read_opml(OPML / "netnewswire-nested-folders-opml11.opml")
    assert len(subs) == 5
    assert any(s.categories for s in subs)
    assert all(isinstance(c, str) and c for s in subs for c in s.categories)


def test_rss_typed_folders_are_folders_with_a_warning() -> None:
    path = OPML / "flym-export-opml11-single-quotes-nested.opml"
    subs = read_opml(path)
    assert len(subs) == 11
    smbc = next(s for s in subs if s.title == "SMBC")
    assert smbc.categories == ("black humor",)
    assert smbc.url == "http://www.smbc-comics.com/rss.php"
    problems = lint_opml(path)
    assert all(p.severity == "warning" for p in problems)
    assert f'{path}:8: warning: outline "black humor" has type="rss" but no xmlUrl' in str(
        problems[0]
    )
    assert any("unknown attribute retrieveFullText=" in str(p) for p in problems)


def test_windows_1251_names_are_decoded() -> None:
    subs = read_opml(OPML / "yarr-windows-1251-nested.opml")
    assert [(s.title, s.categories) for s in subs] == [
        ("пример2", ("папка",)),
        ("пример1", ()),
    ]


def test_opml_without_xml_declaration() -> None:
    subs = read_opml(OPML / "winer-mysubscriptions-opml20-no-xml-decl.opml")
    assert len(subs) == 13
    assert subs[0].title == "CNET News.com"


def test_custom_namespace_attributes_are_not_warned_about() -> None:
    path = OPML / "rssguard-nested-categories-custom-ns.opml"
    assert len(read_opml(path)) == 30
    text = "\n".join(messages(path))
    assert "rssguard:icon" not in text
    assert "unknown OPML version 'version'" in text


@pytest.mark.parametrize(
    ("name", "line", "column"),
    [
        ("capyreader-unescaped-ampersand-illformed.opml", 13, 27),
        ("plenary-export-opml10-illformed.opml", 42, 170),
    ],
)
def test_ill_formed_files_report_line_and_column(name: str, line: int, column: int) -> None:
    path = OPML / name
    with pytest.raises(OPMLError) as caught:
        read_opml(path)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert str(caught.value).startswith(f"{path}:{line}:{column}: not well-formed XML")
    assert "write &amp;" in str(caught.value)
    [problem] = lint_opml(path)
    assert str(problem) == str(caught.value)


def test_duplicates_in_a_real_export_name_the_first_line() -> None:
    path = OPML / "netnewswire-subs-opml11-flat.opml"
    assert messages(path) == [
        f"{path}:44: duplicate feed http://feed.katiefloyd.com/ (already on line 30)",
        f"{path}:73: duplicate feed http://natashatherobot.com/feed/ (already on line 43)",
    ]
    with pytest.raises(OPMLError, match=r":44: duplicate feed"):
        read_opml(path)


def test_feed_without_a_name() -> None:
    path = OPML / "newsboat-category-attr-empty-title.opml"
    assert messages(path) == [f'{path}:7: feed outline has no name: add text="Blog name"']


# --- safety -------------------------------------------------------------------------------


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    ]
    path = tmp_path / "bomb.opml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE opml [\n'
        + "\n".join(entities)
        + '\n]>\n<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://a.example/"/>'
        "</body></opml>\n"
    )
    with cpu_seconds(1), pytest.raises(OPMLError) as caught:
        read_opml(path)
    assert caught.value.line == 2
    assert "DOCTYPE and entity declarations are not allowed" in str(caught.value)


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    path = tmp_path / "xxe.opml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/"/></body></opml>'
    )
    with pytest.raises(OPMLError, match="DOCTYPE and entity declarations are not allowed"):
        read_opml(path)


# --- files that cannot be used at all -----------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OPMLError) as caught:
        read_opml(tmp_path / "nope.opml")
    assert str(caught.value) == f"{tmp_path / 'nope.opml'}: subscription list not found"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text("  \n")
    assert messages(path) == [f"{path}: the subscription list is empty"]


def test_not_opml(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text('<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>\n')
    assert messages(path) == [f"{path}:2: the root element is <rss>, not <opml>"]


def test_no_body(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text('<opml version="2.0"><head><title>x</title></head></opml>')
    assert messages(path) == [f"{path}: no <body> element: this is not an OPML subscription list"]


def test_unclosed_element_is_reported_where_it_was_opened(tmp_path: Path) -> None:
    # Expat notices at </body> (line 8); the mistake is the outline on line 5.
    path = write(
        tmp_path,
        '<outline text="A" xmlUrl="https://a.example/feed/">\n'
        '<outline text="B" xmlUrl="https://b.example/feed/"/>\n'
        '<outline text="C" xmlUrl="https://c.example/feed/"/>',
    )
    assert messages(path) == [
        f"{path}:5:1: <outline> is never closed: end it with /> (or close it with "
        "</outline>); </body> on line 8 closes what encloses it"
    ]


def test_unclosed_element_at_the_end_of_a_cut_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text('<opml version="2.0">\n<body>\n<outline text="A" xmlUrl="https://a/">\n')
    assert messages(path) == [
        f"{path}:3:1: <outline> is never closed: the file ends (line 4) while it is still open"
    ]


def test_a_mistyped_closing_tag_is_reported_where_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="A" xmlUrl="https://a.example/feed/">\n</outlin>')
    assert messages(path) == [
        f"{path}:6:3: </outlin> does not close <outline> (opened on line 5): a typo?"
    ]


INVALID = "not well-formed XML: not well-formed (invalid token)"


@pytest.mark.parametrize(
    ("body", "where", "hint"),
    [
        (  # the closing quote of text= is missing: its value runs on into xmlUrl=
            '<outline text="Jo Bloggs xmlUrl="https://jo.example/feed/"/>',
            "5:34",
            'a missing closing quote? the value of text= runs on into xmlUrl=: write text="…" '
            'xmlUrl="…"',
        ),
        (  # the last value's quote is missing: the value swallows the next line; blame line 5
            '<outline text="Jo" xmlUrl="https://jo.example/feed//>\n<outline text="K" '
            'xmlUrl="https://k.example/"/>',
            "5:27",
            "a missing closing quote: the value of xmlUrl= never ends, so the file breaks on "
            "line 6",
        ),
        (
            '<outline text=Jo" xmlUrl="https://jo.example/feed/"/>',
            "5:15",
            'a missing opening quote? write text="…"',
        ),
        (
            '<outline text="Jo"xmlUrl="https://jo.example/feed/"/>',
            "5:19",
            'a missing space between two attributes? write a="…" b="…"',
        ),
        (
            '<outline text=\u201cJo\u201d xmlUrl="https://jo.example/feed/"/>',
            "5:15",
            'curly quotes are not quotes in XML: type straight ones, name="value"',
        ),
        (
            '<outline text="Jo & Co" xmlUrl="https://jo.example/feed/"/>',
            "5:20",
            "an unescaped & or < in an attribute? write &amp; or &lt;",
        ),
    ],
)
def test_quote_mistakes_get_a_hint_that_fits(
    tmp_path: Path, body: str, where: str, hint: str
) -> None:
    path = write(tmp_path, body)
    assert messages(path) == [f"{path}:{where}: {INVALID} ({hint})"]


def test_an_element_that_is_not_an_outline_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<outline text="A" xmlUrl="https://a.example/feed/"/>\n'
        '  <outlin text="B" xmlUrl="https://b.example/feed/"/>\n'
        '<x:extra xmlns:x="urn:x"/>',
    )
    assert messages(path) == [
        f"{path}:6:3: <outlin> is not an <outline>, so this line is left out (a typo? each "
        "blog is one <outline …/>)",
        f"{path}:7: warning: <x:extra> inside <body> is ignored",
    ]
    with pytest.raises(OPMLError, match=r":6:3: <outlin> is not an <outline>"):
        read_opml(path)
    subs, errors = read_subscriptions(path)
    assert [s.title for s in subs] == ["A"] and [e.line for e in errors] == [6]


ORDERED = "<!-- Keep the blogs in alphabetical order of name. -->"


def test_name_order_is_checked_when_the_file_asks_for_it(tmp_path: Path) -> None:
    body = (
        '<outline text="Alpha" xmlUrl="https://a.example/"/>\n'
        '<outline text="Zed" xmlUrl="https://z.example/"/>\n'
        '<outline text="beta" xmlUrl="https://b.example/"/>\n'
        '<outline text="Gamma" xmlUrl="https://g.example/"/>'
    )
    path = write(tmp_path, body, head=f"{ORDERED}<head><title>t</title></head>")
    assert messages(path) == [
        f'{path}:6: warning: "Zed" is out of name order: it belongs after "Gamma" (line 8) '
        "(campplanet check --fix-order sorts the list)"
    ]
    # A list that does not ask for an order (an export from a feed reader) is left alone.
    assert messages(write(tmp_path, body)) == []


def test_a_misplaced_new_feed_is_the_one_named(tmp_path: Path) -> None:
    body = "\n".join(
        f'<outline text="{n}" xmlUrl="https://{n}.example/"/>'
        for n in ["Ann", "Bob", "Cy", "Ava", "Dee", "Eve"]
    )
    path = write(tmp_path, body, head=f"{ORDERED}<head/>")
    assert messages(path) == [
        f'{path}:8: warning: "Ava" is out of name order: it belongs before "Bob" (line 6) '
        "(campplanet check --fix-order sorts the list)"
    ]


def test_changed_outlines_and_the_duplicate_on_the_added_line(tmp_path: Path) -> None:
    old = write(tmp_path, '<outline text="Mo" xmlUrl="https://mo.example/feed/"/>').read_bytes()
    path = write(
        tmp_path,
        '<outline text="Al" xmlUrl="https://al.example/"/>\n'  # added
        '<outline text="Mo (again)" xmlUrl="http://www.mo.example/feed"/>\n'  # added twin
        '<outline text="Mo"   xmlUrl="https://mo.example/feed/"/>',  # as it was, re-spaced
    )
    doc = parse_document(str(path), path.read_bytes())
    changed = changed_outlines(doc, parse_document("old", old))
    assert changed == {5, 6}
    assert changed_outlines(doc, None) == {5, 6, 7}
    duplicate = "duplicate feed http://www.mo.example/feed"
    # Without knowing what changed, the later line is the duplicate; knowing it, the new one.
    assert messages(path) == [
        f"{path}:7: duplicate feed https://mo.example/feed/ (already on line 6)"
    ]
    assert [str(p) for p in lint_opml(path, changed=changed)] == [
        f"{path}:6: {duplicate} (already on line 7)"
    ]


# --- outlines broken one by one ------------------------------------------------------------


def test_rss_outline_without_xmlurl(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="My blog" type="rss" htmlUrl="https://b.example/"/>')
    assert messages(path) == [f'{path}:5: outline "My blog" has type="rss" but no xmlUrl']
    with pytest.raises(OPMLError) as caught:
        read_opml(path)
    assert caught.value.line == 5


def test_url_instead_of_xmlurl(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="My blog" url="https://b.example/feed/"/>')
    assert messages(path) == [
        f'{path}:5: outline "My blog" has url= but no xmlUrl: feeds need xmlUrl="..."'
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://b.example/feed", "refused: ftp: URLs are not fetched (only http and https)"),
        ("file:///etc/passwd", "refused: file: URLs are not fetched (only http and https)"),
        ("b.example/feed", "not an absolute URL (it needs http:// or https://)"),
        ("https:///feed", "the URL has no host name"),
    ],
)
def test_bad_scheme_or_url(tmp_path: Path, url: str, reason: str) -> None:
    path = write(tmp_path, f'<outline text="B" type="rss" xmlUrl="{url}"/>')
    assert messages(path) == [f"{path}:5: xmlUrl {url!r}: {reason}"]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/feed", "http://localhost/feed", "http://10.1.2.3/", "http://[::1]/"],
)
def test_private_addresses_are_refused_unless_allowed(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f'<outline text="B" type="rss" xmlUrl="{url}"/>')
    [problem] = lint_opml(path)
    assert problem.line == 5 and problem.severity == "error"
    assert "refused:" in problem.message and "allow_private_networks" in problem.message
    assert lint_opml(path, allow_private_networks=True) == []
    assert read_opml(path, allow_private_networks=True)[0].title == "B"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://b.example/feed/", "http://b.example/feed/"),
        ("https://b.example/feed/", "https://B.Example/feed"),
        ("https://b.example/feed/", "https://www.b.example:443/feed/"),
        (
            "https://x.blogspot.com/feeds/posts/default",
            "http://x.blogspot.co.uk/feeds/posts/default",
        ),
    ],
)
def test_duplicates(tmp_path: Path, first: str, second: str) -> None:
    path = write(
        tmp_path,
        f'<outline text="One" type="rss" xmlUrl="{first}"/>\n'
        f'<outline text="Two" type="rss" xmlUrl="{second}"/>',
    )
    assert messages(path) == [f"{path}:6: duplicate feed {second} (already on line 5)"]
    assert feed_key(first) == feed_key(second)


def test_different_feeds_of_one_site_are_not_duplicates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<outline text="One" type="rss" xmlUrl="https://b.example/feed/"/>\n'
        '<outline text="Two" type="rss" xmlUrl="https://b.example/comments/feed/"/>',
    )
    assert lint_opml(path) == []


def test_bad_filter_regex(tmp_path: Path) -> None:
    path = write(
        tmp_path, '<outline text="B" type="rss" xmlUrl="https://b.example/" filter="camp(("/>'
    )
    [problem] = lint_opml(path)
    assert str(problem).startswith(
        f"{path}:5: filter 'camp((' is not a valid regular expression: missing ), unterminated"
    )


def test_every_problem_is_listed_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<outline text="A" type="rss" xmlUrl="https://a.example/feed/" colour="red"/>\n'
        '<outline text="B" type="rss"/>\n'
        '<outline text="C" type="rss" xmlUrl="gopher://c.example/"/>\n'
        '<outline text="D" type="rss" xmlUrl="https://A.example/feed"/>\n'
        '<outline text="E" type="rss" xmlUrl="https://e.example/" filter="["/>\n'
        '<outline text="F" type="rss" xmlUrl="https://f.example/" htmlUrl="f.example"/>',
    )
    found = [(p.line, p.severity, p.message.split(" ")[0]) for p in lint_opml(path)]
    assert found == [
        (5, "warning", "unknown"),
        (6, "error", "outline"),
        (7, "error", "xmlUrl"),
        (8, "error", "duplicate"),
        (9, "error", "filter"),
        (10, "warning", "htmlUrl"),
    ]
    with pytest.raises(OPMLError) as caught:
        read_opml(path)
    assert caught.value.line == 6


def test_warnings_alone_do_not_stop_reading(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<outline text="A" type="rss" xmlUrl="https://a.example/feed/" colour="red" '
        'htmlUrl="javascript:alert(1)" avatar="data:x"/>',
    )
    assert [p.severity for p in lint_opml(path)] == ["warning", "warning", "warning"]
    [sub] = read_opml(path)
    assert sub.html_url is None and sub.avatar is None


def test_empty_body_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert messages(path) == [f"{path}: warning: the subscription list has no feeds"]
    assert read_opml(path) == []


# --- what a subscription carries -------------------------------------------------------------


def test_subscription_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<outline text="Councils">\n'
        '  <outline text="Digital">\n'
        '    <outline title="  Spaced\n   name " type="rss"\n'
        '      xmlUrl=" https://Bücher.example/my feed?a=1&amp;b=2#top "\n'
        '      htmlUrl="https://bücher.example/" avatar="https://img.example/me.png"\n'
        '      filter="(?i)localgovcamp"/>\n'
        "  </outline>\n"
        "</outline>\n"
        '<outline text="Top" xmlUrl="https://top.example/feed/"/>',
    )
    first, second = read_opml(path)
    assert first.url == "https://xn--bcher-kva.example/my%20feed?a=1&b=2"
    assert first.title == "Spaced name"
    assert first.html_url == "https://bücher.example/"
    assert first.avatar == "https://img.example/me.png"
    assert first.filter == "(?i)localgovcamp"
    assert first.line == 7
    assert first.categories == ("Councils", "Digital")
    assert second.categories == () and second.line == 14 and second.filter is None


def test_text_wins_over_title(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="Text" title="Title" xmlUrl="https://a.example/"/>')
    assert read_opml(path)[0].title == "Text"


def test_lowercase_xmlurl_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, '<outline text="A" xmlurl="https://a.example/"/>')
    assert read_opml(path)[0].url == "https://a.example/"
    assert lint_opml(path) == []


def test_problem_str() -> None:
    assert str(Problem("f.opml", 3, "error", "bad")) == "f.opml:3: bad"
    assert str(Problem("f.opml", 3, "warning", "odd")) == "f.opml:3: warning: odd"
    assert str(Problem("f.opml", 3, "error", "bad", column=7)) == "f.opml:3:7: bad"
    assert str(Problem("f.opml", None, "error", "bad")) == "f.opml: bad"


def test_parse_document_offsets() -> None:
    data = (
        b'<?xml version="1.0" encoding="windows-1251"?>\n<opml version="1.0"><body>\n'
        b'  <outline text="\xef\xe0\xef\xea\xe0"><outline text="x" xmlUrl="https://x.example/"/>'
        b"</outline>\n</body></opml>"
    )
    doc = parse_document("f", data)
    assert doc.encoding == "windows-1251"
    folder, feed = doc.outlines
    assert folder.name == "папка" and folder.children == 1 and not folder.is_feed
    assert feed.parent == 0 and feed.is_feed and feed.categories == ("папка",)
    assert data[feed.start :].startswith(b'<outline text="x"')
    assert data[doc.body_end :].startswith(b"</body>")


# --- the planet's own list ------------------------------------------------------------------


def test_the_real_feeds_opml_is_clean_and_sorted() -> None:
    path = Path(__file__).parent.parent / "feeds.opml"
    assert lint_opml(path) == []
    subs = read_opml(path)
    assert len(subs) >= 50
    names = [s.title.casefold() for s in subs]
    assert names == sorted(names)
    assert all(s.html_url and s.url.startswith(("https://", "http://")) for s in subs)
    doc = parse_document(str(path), path.read_bytes())
    assert all(_has_all(o.attrs) for o in doc.outlines)


def _has_all(attrs: dict[str, str]) -> bool:
    return {"text", "title", "type", "xmlUrl", "htmlUrl"} <= set(attrs) and attrs["type"] == "rss"
