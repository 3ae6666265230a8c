"""``campplanet camps``: each camp with its write-ups, and the near misses to tune ``match``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from campplanet.cli.base import fail, main, planet_options
from campplanet.config import CampSettings, Settings
from campplanet.exceptions import EXIT_USAGE, CampplanetError
from campplanet.formats import count
from campplanet.types import EntryView


@main.command()
@click.argument("slug", required=False)
@click.option("--matched", "show", flag_value="matched", help="List the camp's write-ups.")
@click.option(
    "--unmatched",
    "show",
    flag_value="unmatched",
    help="List the posts dated in the camp's window that did not match: near misses.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@planet_options
def camps(settings: Settings, slug: str | None, show: str | None, as_json: bool) -> None:
    """Each camp with its number of write-ups and of people.

    With a camp's SLUG and --matched or --unmatched, its write-ups, or the posts dated
    inside its window that its match did not find (to tune the camp's match).
    """
    from campplanet import update, views

    if not settings.camps:
        fail(CampplanetError("no camp is configured: add a [[camp]] table to campplanet.toml"))
    chosen = [c for c in settings.camps if slug is None or c.slug == slug]
    if not chosen:
        known = ", ".join(c.slug for c in settings.camps)
        fail(CampplanetError(f"no camp {slug!r} (camps: {known})"))
    if show and slug is None:
        click.echo("campplanet: --matched and --unmatched need a camp's SLUG", err=True)
        raise SystemExit(EXIT_USAGE)
    try:
        subs = update.subscriptions(settings)
        with update.open_storage(settings) as storage:
            shown = views.select(settings, subs, storage.feed_states(), storage).shown
            rows = [_summary(camp, shown.camp(camp.slug)) for camp in chosen]
            listed = shown.camp(chosen[0].slug, write_ups=show != "unmatched") if show else []
    except CampplanetError as e:
        fail(e)
    if as_json:
        document: Any = [_post(e) for e in listed] if show else rows
        click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    elif show:
        for e in listed:
            click.echo(f"{e.date:%Y-%m-%d}  {e.feed.title}: {e.title}  <{e.link or e.id}>")
        click.echo(f"{count(len(listed), 'post')}")
    else:
        for row in rows:
            click.echo(
                f"{row['slug']}: {row['name']} ({row['start']} to {row['end']}): "
                f"{count(row['write_ups'], 'write-up')} by "
                f"{count(row['people'], 'person', 'people')}"
            )


def _summary(camp: CampSettings, write_ups: list[EntryView]) -> dict[str, Any]:
    people = {(e.author or e.feed.title).casefold() for e in write_ups}
    return {
        "slug": camp.slug,
        "name": camp.name,
        "start": camp.start.isoformat(),
        "end": camp.end.isoformat(),
        "window": [
            (camp.start - timedelta(days=camp.before)).isoformat(),
            (camp.end + timedelta(days=camp.after)).isoformat(),
        ],
        "write_ups": len(write_ups),
        "people": len(people),
    }


def _post(e: EntryView) -> dict[str, Any]:
    return {"date": e.date, "blog": e.feed.title, "title": e.title, "link": e.link, "id": e.id}
