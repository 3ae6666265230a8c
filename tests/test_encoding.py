"""Character encodings of XML feeds: campplanet.encoding, and parse_feed reading the result.

Generated documents in every Unicode form and several legacy encodings, with and without a
byte-order mark, declaration or HTTP charset; declarations and headers that lie; feedparser's
own encoding test files (in ../shared/corpus/peers); and a property over arbitrary bytes.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campplanet.encoding import Decoded, charset_of, decode_document
from campplanet.parse import ParseError, parse_feed

URL = "https://blog.example/feed.xml"
CHANNEL = "Café Ωμέγα — 北京"
ITEM = "Ωμέγα café — 北京 №2"


def rss(decl: str | None, channel: str = CHANNEL, item: str = ITEM) -> str:
    """An RSS document; ``decl`` None: no XML declaration, "": one without encoding."""
    head = {None: "", "": '<?xml version="1.0"?>\n'}.get(
        decl, f"<?xml version='1.0' encoding='{decl}'?>\n"
    )
    return (
        f'{head}<rss version="2.0"><channel><title>{channel}</title>'
        "<link>https://blog.example/</link>"
        f"<item><title>{item}</title><guid>urn:example:1</guid></item></channel></rss>\n"
    )


def check(
    body: bytes,
    content_type: str | None,
    text: str,
    encoding: str,
    problem: str | None = None,
    titles: tuple[str, str] = (CHANNEL, ITEM),
) -> None:
    """decode_document gives ``text`` in ``encoding`` with ``problem``; parse_feed reads
    the titles exactly and reports the same problem."""
    decoded = decode_document(body, content_type)
    assert (decoded.text, decoded.encoding, decoded.problem) == (text, encoding, problem)
    utf8 = decoded.as_utf8()
    assert utf8.decode("utf-8").lstrip() == utf8.decode("utf-8")
    assert not utf8.startswith(codecs.BOM_UTF8)
    if text.lstrip().startswith("<?xml") and "encoding=" in text[:60]:
        assert re.match(rb"<\?xml version='1.0' encoding='utf-8'\?>", utf8), utf8[:60]
    feed = parse_feed(body, URL, content_type=content_type)
    assert (feed.title, [e.title for e in feed.entries]) == (titles[0], [titles[1]])
    assert feed.problem == problem


# --- every Unicode form ------------------------------------------------------------------------

UTF16_NAMES = ["UTF-16", "utf_16", "u16", "utf16", "UCS-2", "ucs2", "unicode", "ISO-10646-UCS-2",
               "csUnicode"]  # fmt: skip
UTF32_NAMES = ["UTF-32", "utf_32", "u32", "utf32", "UCS-4", "ucs4", "ISO-10646-UCS-4", "csUCS4"]
UNICODE_FORMS = [  # (Python codec, BOM, name reported, names a declaration may use)
    ("utf-8", codecs.BOM_UTF8, "utf-8", ["UTF-8", "utf8", "utf_8", "U8", "unicode-1-1-utf-8"]),
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16le", ["UTF-16LE", "utf_16_le", *UTF16_NAMES]),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16be", ["UTF-16BE", "utf_16be", *UTF16_NAMES]),
    ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32le", ["UTF-32LE", "utf_32_le", *UTF32_NAMES]),
    ("utf-32-be", codecs.BOM_UTF32_BE, "utf-32be", ["UTF-32BE", "utf_32be", *UTF32_NAMES]),
]
UNICODE_CASES = [
    pytest.param(codec, bom if with_bom else b"", name, decl, id=f"{name}-{with_bom=}-{decl}")
    for codec, bom, name, declared in UNICODE_FORMS
    for with_bom in (False, True)
    for decl in [None, "", *declared]
]


@pytest.mark.parametrize(("codec", "bom", "name", "decl"), UNICODE_CASES)
def test_unicode_forms(codec: str, bom: bytes, name: str, decl: str | None) -> None:
    doc = rss(decl)
    check(bom + doc.encode(codec), None, doc, name)


@pytest.mark.parametrize("codec", ["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("bom", [False, True])
def test_whitespace_before_the_declaration_is_tolerated(codec: str, bom: bool) -> None:
    doc = "\r\n \t\n" + rss("UTF-16" if "16" in codec else "UTF-32" if "32" in codec else "utf-8")
    name = codec.replace("-le", "le").replace("-be", "be")
    body = (codecs.lookup(codec).encode("\ufeff")[0] if bom else b"") + doc.encode(codec)
    check(body, None, doc, name)


# --- legacy encodings: declared, or named only by the HTTP charset ---------------------------

LEGACY = [  # (Python codec, name reported, names a document may use, channel title, item title)
    ("latin-1", "iso-8859-1", ["ISO-8859-1", "iso8859-1", "latin1", "l1", "ISO_8859-1"],
     "Café crème", "Brûlée à la française"),
    ("cp1252", "windows-1252", ["windows-1252", "cp1252", "x-cp1252"],
     "Café “quoted” — €5", "naïve ‘single’ …"),
    ("cp1251", "windows-1251", ["windows-1251", "CP1251"], "Привет, мир", "Цитата №1"),
    ("koi8-r", "koi8-r", ["KOI8-R", "koi8_r"], "Привет, мир", "Цитата дня"),
    ("shift_jis", "shift_jis", ["Shift_JIS", "shift-jis", "sjis", "x-sjis"],
     "日本語のフィード", "こんにちは、世界"),
    ("gb2312", "gb18030", ["GB2312", "gb2312", "EUC-CN"], "北京欢迎你", "中文标题"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("codec", "name", "label", "channel", "item"),
    [
        pytest.param(codec, name, label, channel, item, id=f"{name}-{label}")
        for codec, name, labels, channel, item in LEGACY
        for label in labels
    ],
)
def test_legacy_encoding_declared(
    codec: str, name: str, label: str, channel: str, item: str
) -> None:
    doc = rss(label, channel, item)
    check(doc.encode(codec), "application/rss+xml", doc, name, titles=(channel, item))


@pytest.mark.parametrize("media_type", ["application/rss+xml", "text/xml", "application/xml"])
@pytest.mark.parametrize(
    ("codec", "name", "labels", "channel", "item"), LEGACY, ids=[n for _, n, *_ in LEGACY]
)
@pytest.mark.parametrize("decl", [None, "", "utf-8", "ISO-8859-1"])
def test_legacy_encoding_named_by_http_charset(
    media_type: str,
    codec: str,
    name: str,
    labels: list[str],
    channel: str,
    item: str,
    decl: str | None,
) -> None:
    """The HTTP charset wins over the declaration (RFC 7303), even one that is wrong."""
    doc = rss(decl, channel, item)
    for content_type in (
        f"{media_type}; charset={labels[0]}",
        f'{media_type};charset="{labels[-1]}"',
    ):
        check(doc.encode(codec), content_type, doc, name, titles=(channel, item))


def test_gb2312_is_read_as_its_superset_gb18030() -> None:
    doc = rss("gb2312", "朱镕基", "GBK 字: 镕")  # 镕 is in GBK but not in GB 2312
    check(doc.encode("gbk"), None, doc, "gb18030", titles=("朱镕基", "GBK 字: 镕"))


def test_ebcdic_document_reads_its_declaration_in_ebcdic() -> None:
    doc = rss("IBM037", "Café crème", "Ünïcödé?")
    check(doc.encode("cp037"), None, doc, "cp037", titles=("Café crème", "Ünïcödé?"))


def test_windows_1252_decodes_any_byte() -> None:
    """Python's cp1252 leaves five bytes undefined; browsers read them as C1 controls."""
    body = rss("windows-1252", "x", "y").encode().replace(b"x<", b"x\x81\x8d\x8f\x90\x9d\x80<")
    decoded = decode_document(body, None)
    assert decoded.problem is None and decoded.encoding == "windows-1252"
    assert "x\x81\x8d\x8f\x90\x9d€<" in decoded.text


# --- declarations and headers that lie -------------------------------------------------------

LATIN = rss("utf-8", "Café crème", "Brûlée")
LIES = {
    # (body, content type, text, encoding, problem)
    "declared utf-8, bytes windows-1252": (
        LATIN.encode("cp1252"),
        None,
        LATIN,
        "windows-1252",
        "declared as utf-8 but not valid UTF-8; decoded as windows-1252",
    ),
    "undeclared, bytes windows-1252": (
        rss(None, "Café crème", "Brûlée").encode("cp1252"),
        "application/rss+xml",
        rss(None, "Café crème", "Brûlée"),
        "windows-1252",
        "not valid UTF-8; decoded as windows-1252",
    ),
    "declared utf-16, bytes utf-8": (
        rss("UTF-16").encode(),
        None,
        rss("UTF-16"),
        "utf-8",
        "declared as UTF-16 but the bytes are ASCII-compatible; decoded as utf-8",
    ),
    "declared utf-32le, bytes utf-16le": (
        rss("utf-32le").encode("utf-16-le"),
        None,
        rss("utf-32le"),
        "utf-16le",
        "declared as utf-32le but the bytes are UTF-16LE; decoded as utf-16le",
    ),
    "declared utf-8, bytes utf-16be": (
        rss("utf-8").encode("utf-16-be"),
        None,
        rss("utf-8"),
        "utf-16be",
        "declared as utf-8 but the bytes are UTF-16BE; decoded as utf-16be",
    ),
    "declared utf-16be, utf-16le byte-order mark": (
        codecs.BOM_UTF16_LE + rss("UTF-16BE").encode("utf-16-le"),
        None,
        rss("UTF-16BE"),
        "utf-16le",
        "declared as UTF-16BE but has a UTF-16LE byte-order mark; decoded as utf-16le",
    ),
    "declared iso-8859-1, utf-8 byte-order mark": (
        codecs.BOM_UTF8 + rss("ISO-8859-1").encode(),
        None,
        rss("ISO-8859-1"),
        "utf-8",
        "declared as ISO-8859-1 but has a UTF-8 byte-order mark; decoded as utf-8",
    ),
    "declared EBCDIC, bytes ASCII": (
        rss("cp500").encode(),
        None,
        rss("cp500"),
        "utf-8",
        "declared as cp500 but the bytes are ASCII-compatible; decoded as utf-8",
    ),
    "declared UTF-7, refused": (
        rss("UTF-7").encode(),
        None,
        rss("UTF-7"),
        "utf-8",
        "declared as UTF-7, an unknown encoding; decoded as utf-8",
    ),
    "declared base64, not a character encoding": (
        rss("base64").encode(),
        None,
        rss("base64"),
        "utf-8",
        "declared as base64, an unknown encoding; decoded as utf-8",
    ),
    "HTTP utf-32, bytes utf-8": (
        rss("utf-8").encode(),
        "application/xml; charset=utf-32",
        rss("utf-8"),
        "utf-8",
        "served as charset=utf-32 but the bytes are ASCII-compatible; decoded as utf-8",
    ),
    "HTTP utf-8, bytes utf-16le": (
        rss(None).encode("utf-16-le"),
        "application/xml; charset=utf-8",
        rss(None),
        "utf-16le",
        "served as charset=utf-8 but the bytes are UTF-16LE; decoded as utf-16le",
    ),
    "HTTP utf-8, bytes and declaration iso-8859-1": (
        rss("iso-8859-1", "Café crème", "Brûlée").encode("latin-1"),
        "text/xml; charset=UTF-8",
        rss("iso-8859-1", "Café crème", "Brûlée"),
        "iso-8859-1",
        "served as charset=UTF-8 but not valid UTF-8; decoded as iso-8859-1",
    ),
    "HTTP unknown, declaration right": (
        rss("windows-1251", "Привет", "мир").encode("cp1251"),
        "application/rss+xml; charset=x-nonesuch",
        rss("windows-1251", "Привет", "мир"),
        "windows-1251",
        "served as charset=x-nonesuch, an unknown encoding; decoded as windows-1251",
    ),
    "HTTP us-ascii, bytes and declaration utf-8": (
        rss("utf-8").encode(),
        "application/xml; charset=us-ascii",
        rss("utf-8"),
        "utf-8",
        "served as charset=us-ascii but not valid US-ASCII; decoded as utf-8",
    ),
    "HTTP and declaration us-ascii, bytes windows-1252": (
        rss("us-ascii", "Café crème", "Brûlée").encode("cp1252"),
        "text/xml; charset=us-ascii",
        rss("us-ascii", "Café crème", "Brûlée"),
        "windows-1252",
        "served as charset=us-ascii but not valid US-ASCII; decoded as windows-1252",
    ),
}


@pytest.mark.parametrize("case", sorted(LIES))
def test_lies_are_problems_and_the_text_is_still_right(case: str) -> None:
    body, content_type, text, encoding, problem = LIES[case]
    channel, item = re.findall(r"<title>(.*?)</title>", text)
    check(body, content_type, text, encoding, problem, titles=(channel, item))


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF16_LE])
def test_invalid_utf16_is_replaced_not_refused(bom: bytes) -> None:
    """A lone surrogate: the byte-order mark or byte pattern leaves no other reading."""
    title = ITEM.encode("utf-16-le")
    body = bom + rss(None).encode("utf-16-le").replace(title, title + b"\x00\xd8")
    problem = "not valid UTF-16LE; undecodable bytes replaced; decoded as utf-16le"
    check(body, None, rss(None, item=ITEM + "\ufffd"), "utf-16le", problem,
          titles=(CHANNEL, ITEM + "\ufffd"))  # fmt: skip


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        (None, None),
        ("text/xml", None),
        ("text/xml;", None),
        ("text/xml; charset:iso-8859-1", None),
        ("text/xml; qs=0.9", None),
        ("text/xml; charset=", None),
        ("application/xml;charset= 'us-ascii'", "us-ascii"),
        ('application/xml;charset = "UTF-8"', "UTF-8"),
        ("application/atom+xml; type=feed; charset=windows-1251", "windows-1251"),
        ("Application/XML; CHARSET=koi8-r; foo=bar", "koi8-r"),
    ],
)
def test_charset_of(content_type: str | None, charset: str | None) -> None:
    assert charset_of(content_type) == charset


def test_as_utf8_rewrites_only_the_declared_encoding() -> None:
    doc = "\n <?xml version='1.0' encoding = \"UTF-16\" standalone='yes'?><r encoding='x'/>"
    assert Decoded(doc, "utf-16le").as_utf8() == (
        b"<?xml version='1.0' encoding = \"utf-8\" standalone='yes'?><r encoding='x'/>"
    )
    assert Decoded("\ufeff<r>\ud800</r>", "utf-8").as_utf8() == b"<r>?</r>"


# --- feedparser's encoding test files --------------------------------------------------------


def _peers() -> Path | None:
    """../shared/corpus/peers beside the repository (or the worktrees' folder), else
    /work/shared/corpus/peers."""
    repo = Path(__file__).resolve().parents[1]
    for folder in (repo.parent / "shared", repo.parent.parent / "shared", Path("/work/shared")):
        if (folder / "corpus" / "peers" / "feedparser").is_dir():
            return folder / "corpus" / "peers"
    return None


PEERS = _peers()
PEER_FILES = (
    sorted(
        str(p.relative_to(PEERS / "feedparser"))
        for folder in ("encoding", "illformed/chardet")
        for p in (PEERS / "feedparser" / folder).glob("*.xml")
    )
    if PEERS
    else []
)
# RFC 3023 said text/* without a charset means us-ascii, whatever the declaration says;
# RFC 7303 (2014) obsoleted that rule, so we read the declaration (or default to UTF-8).
RFC_3023_US_ASCII = {
    "encoding/http_text_atom_xml_default.xml": "utf-8",
    "encoding/http_text_atom_xml_encoding.xml": "iso-8859-1",
    "encoding/http_text_rss_xml_default.xml": "utf-8",
    "encoding/http_text_rss_xml_encoding.xml": "iso-8859-1",
    "encoding/http_text_xml_bogus_charset.xml": "utf-8",  # "text/xml;": no charset
    "encoding/http_text_xml_bogus_param.xml": "utf-8",  # "charset:iso-8859-1" is no parameter
    "encoding/http_text_xml_default.xml": "utf-8",
    "encoding/http_text_xml_epe_default.xml": "utf-8",
    "encoding/http_text_xml_epe_encoding.xml": "iso-8859-1",
    "encoding/http_text_xml_qs.xml": "utf-8",
}
# feedparser guesses undeclared legacy encodings statistically with chardet when it is
# installed. We do not guess: not UTF-8, so windows-1252 (which decodes anything), reported.
CHARDET_GUESSES = {
    f"illformed/chardet/{name}.xml"
    for name in ("big5", "eucjp", "euckr", "gb2312", "koi8r", "shiftjis", "tis620", "windows1255")
}
# Documents unusable for reasons that have nothing to do with their encoding.
NOT_FEEDS = {
    # its last line is "</rss" and it has no items: nothing to read
    "encoding/bozo_invalid-bytes-with-bom.xml": "not well-formed XML at line 11",
}
# Text that must come out right (expectations from the files, in parse_feed's terms).
PEER_TEXT = {
    "encoding/euc-kr.xml": ("년", None),
    "encoding/http_i18n.xml": ("Iñtërnâtiônàlizætiøn", None),
    "encoding/bozo_http_i18n.xml": ("Iñtërnâtiônàlizætiøn", None),  # RFC 3023 said us-ascii
    "encoding/euc-kr-item.xml": (None, "년"),
    "encoding/http_text_xml_charset_2.xml": (None, "This is a £“test.”"),
    "encoding/http_text_xml_charset_overrides_encoding_2.xml": (None, "This is a £“test.”"),
}


def _comment(raw: bytes) -> str:
    """The file's comment header, readable whatever the encoding (ASCII, UTF-16/32)."""
    return raw.replace(b"\x00", b"").decode("latin-1")


def test_peer_corpus_is_present() -> None:
    assert PEERS is not None, "../shared/corpus/peers (or /work/shared/corpus/peers) is missing"
    assert len(PEER_FILES) >= 90
    wide = {f"encoding/utf-32{o}{v}.xml" for o in ("be", "le") for v in ("", "-bom", "-autodetect")}
    wide |= {f"encoding/{n}.xml" for n in ("utf_16", "utf_32", "u16", "utf16", "utf-16le")}
    assert wide <= set(PEER_FILES)
    assert set(RFC_3023_US_ASCII) | CHARDET_GUESSES | set(NOT_FEEDS) | set(PEER_TEXT) <= set(
        PEER_FILES
    )


@pytest.mark.parametrize("name", PEER_FILES)
def test_peer_file(name: str) -> None:
    assert PEERS is not None
    raw = (PEERS / "feedparser" / name).read_bytes()
    comment = _comment(raw)
    header = re.search(r"^Header:\s*Content-type:\s*(.*?)\s*$", comment, re.I | re.M)
    content_type = header.group(1) if header else None
    decoded = decode_document(raw, content_type)
    expected = re.search(r"^Expect:.*\bencoding == '([^']*)'", comment, re.M)
    if name in RFC_3023_US_ASCII:
        assert expected and expected.group(1) == "us-ascii"
        assert (decoded.encoding, decoded.problem) == (RFC_3023_US_ASCII[name], None)
    elif name in CHARDET_GUESSES:
        assert expected and expected.group(1).lower() != "windows-1252"
        assert decoded.encoding == "windows-1252"
        assert decoded.problem == "not valid UTF-8; decoded as windows-1252"
    elif expected:
        assert decoded.encoding == expected.group(1).lower()
    if re.search(r"^Expect:\s*not bozo", comment, re.M):
        assert decoded.problem is None

    if name in NOT_FEEDS:
        with pytest.raises(ParseError, match=NOT_FEEDS[name]):
            parse_feed(raw, URL, content_type=content_type)
        return
    feed = parse_feed(raw, URL, content_type=content_type)
    assert decoded.problem is None or (feed.problem and decoded.problem in feed.problem)
    title, entry_text = PEER_TEXT.get(name, (None, None))
    if title is not None:
        assert feed.title == title
    if entry_text is not None:
        assert entry_text in feed.entries[0].summary + feed.entries[0].content


# --- properties -------------------------------------------------------------------------------

PREFIXES = [
    b"",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    b"<?xml encoding='",
    b' \n<?xml  encoding="gb2312"?>',
    "<?xml version='1.0' encoding='utf-16'?>".encode("utf-16-le"),
    b"\x00<\x00?",
    b"\x00\x00\x00<",
    b"<\x00\x00\x00",
    b"Lo\xa7\x94",  # "<?xm" in EBCDIC
]
LABELS = ["utf-8", "utf-16", "utf-32", "ucs-2", "us-ascii", "shift_jis", "cp037", "base64",
          "utf-7", "x-nonesuch", "", "gb2312", "\x00", "é", "windows-1252"]  # fmt: skip
CONTENT_TYPES = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.builds("application/xml; charset={}".format, st.sampled_from(LABELS) | st.text(max_size=12)),
)


@given(st.sampled_from(PREFIXES), st.binary(max_size=300), CONTENT_TYPES)
def test_any_bytes_decode_without_raising(prefix: bytes, rest: bytes, ctype: str | None) -> None:
    decoded = decode_document(prefix + rest, ctype)
    assert decoded.encoding and codecs.lookup(decoded.encoding)
    assert decoded.as_utf8().decode("utf-8") is not None
    assert decoded.problem is None or decoded.problem.endswith(f"decoded as {decoded.encoding}")


@given(
    st.text(max_size=200),
    st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]),
    st.booleans(),
    st.sampled_from([None, "", "UTF-16", "utf-32", "utf-8", "ucs-2"]),
)
def test_any_unicode_text_round_trips(text: str, codec: str, bom: bool, decl: str | None) -> None:
    """Every Unicode form of a document comes back as the same text, whatever it declares."""
    doc = rss(decl, "t", "i").replace("<item>", f"<item>{text}")
    body = (codecs.lookup(codec).encode("\ufeff")[0] if bom else b"") + doc.encode(codec)
    assert decode_document(body, None).text == doc
