"""campplanet.update: a refresh reads the stored entries while it fetches, and renders
exactly the site a render from the database gives."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from campplanet import update
from httpfarm import Farm, Route
from planetkit import blog_items, opml_document, planet_settings, rss_feed


def files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def farm():
    with Farm(hosts=2) as f:
        yield f


def test_refresh_renders_what_a_render_from_the_database_renders(farm, tmp_path):
    urls = []
    for blog in range(6):
        site = f"https://blog{blog}.example/"
        body = rss_feed(f"Blog {blog}", site, blog_items(blog, 4))
        # Slow answers: the background read of stored entries is done long before the
        # run writes, so what it read is stale for the feeds that change.
        urls.append(farm.add(f"/b{blog}.xml", Route(body, latency=0.3), host=blog % 2))
    (tmp_path / "feeds.opml").write_text(
        opml_document([(f"Blog {b}", u) for b, u in enumerate(urls)])
    )
    first, _ = update.refresh(planet_settings(tmp_path))
    assert first.new == 24

    # Blog 0 gains two posts; blog 1 edits every title; the others do not change.
    farm.route(urls[0]).body = rss_feed("Blog 0", "https://blog0.example/", blog_items(0, 6))
    farm.route(urls[1]).body = rss_feed(
        "Blog 1", "https://blog1.example/", blog_items(1, 4, edited=True)
    )
    summary, report = update.refresh(planet_settings(tmp_path))
    assert (summary.new, summary.updated) == (2, 4)
    assert report.written

    refreshed = files(tmp_path / "public")
    update.render(planet_settings(tmp_path, output="again"))
    assert files(tmp_path / "again") == refreshed
    pages = "".join(
        p.read_text() for p in (tmp_path / "public").rglob("index.html")
    )  # every archive page
    assert "Blog 0 post 5" in pages and "Blog 1 post 3 (edited)" in pages
    assert "Blog 1 post 3<" not in pages
