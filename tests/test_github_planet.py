"""scripts/github-planet, run the way .github/workflows/planet.yml runs it.

Each "workflow run" here is a fresh clone of the planet's repository (a fresh runner), with
a local bare repository standing in for ``origin`` (where the campplanet-state branch is
pushed) and a folder standing in for the Actions cache: before ``restore`` it is copied into
``.campplanet-state/cache`` (actions/cache/restore), after ``save`` copied back out
(actions/cache/save). The blogs are served by a local farm that answers conditional
requests with 304.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest
import yaml

from httpfarm import Farm, Route
from planetkit import opml_document, rss_feed

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "github-planet"
WORKFLOW = ROOT / ".github" / "workflows" / "planet.yml"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
NOW = int(time.time())


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    return done.stdout.strip()


@dataclass
class Step:
    code: int
    out: str
    outputs: dict[str, str]


@dataclass
class Run:
    work: Path
    steps: dict[str, Step]

    @property
    def outputs(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for step in self.steps.values():
            merged.update(step.outputs)
        return merged

    def site(self) -> dict[str, bytes]:
        public = self.work / "public"
        return {
            str(p.relative_to(public)): p.read_bytes()
            for p in sorted(public.rglob("*"))
            if p.is_file() and p.name != "feeds.html"  # its one changing line: when last read
        }


class Planet:
    """A planet repository on "GitHub": origin, a cache and runs of the workflow."""

    def __init__(self, tmp: Path, farm: Farm):
        self.tmp = tmp
        self.farm = farm
        self.origin = tmp / "origin.git"
        self.cache = tmp / "actions-cache"
        self.runs = 0
        source = tmp / "source"
        source.mkdir()
        git("init", "-q", "-b", "main", cwd=source)
        feeds = []
        for i, name in enumerate(["Alpha", "Beta", "Gamma"]):
            site = f"https://{name.lower()}.example.org/"
            body = rss_feed(
                name, site, [(f"p{j}", f"{name} post {j}", NOW - 3600 * (j + i)) for j in range(3)]
            )
            url = farm.add(
                f"/{name.lower()}.xml", Route(body, etag=f'"{name}-1"',
                last_modified=formatdate(NOW - 60, usegmt=True)), host=i % 2,
            )  # fmt: skip
            feeds.append((name, url))
        (source / "feeds.opml").write_text(opml_document(feeds))
        (source / "campplanet.toml").write_text(
            '[planet]\nname = "Test planet"\n\n[fetch]\nallow_private_networks = true\n'
        )
        git("add", ".", cwd=source)
        git("commit", "-q", "-m", "a planet", cwd=source)
        git("clone", "-q", "--bare", str(source), str(self.origin))
        self.source = source

    def state_branch(self) -> dict:
        stamp = git("--git-dir", str(self.origin), "show", "campplanet-state:stamp.json")
        return json.loads(stamp)

    def workflow_run(self, *, remote: str | None = None) -> Run:
        """One run of the build job's steps, in their order, with their conditions."""
        self.runs += 1
        work = self.tmp / f"run{self.runs}"
        git("clone", "-q", "--depth=1", f"file://{self.origin}", str(work))
        if self.cache.exists():  # actions/cache/restore: the newest cache, if any
            shutil.copytree(self.cache, work / ".campplanet-state" / "cache")
        env = {
            **os.environ,
            **GIT_ENV,
            "GITHUB_REPOSITORY": "localgov/planet",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": str(1000 + self.runs),
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_STEP_SUMMARY": str(self.tmp / f"summary{self.runs}.md"),
        }
        if remote is not None:
            env["CAMPPLANET_STATE_REMOTE"] = remote
        steps: dict[str, Step] = {}

        def step(name: str) -> Step:
            outputs_file = self.tmp / f"outputs{self.runs}-{name}"
            outputs_file.write_text("")
            done = subprocess.run(
                [sys.executable, str(SCRIPT), name], cwd=work, capture_output=True, text=True,
                env={**env, "GITHUB_OUTPUT": str(outputs_file)}, timeout=120,
            )  # fmt: skip
            outputs = dict(
                line.split("=", 1) for line in outputs_file.read_text().splitlines() if line
            )
            steps[name] = Step(done.returncode, done.stdout + done.stderr, outputs)
            return steps[name]

        if step("restore").code != 0:
            return Run(work, steps)
        ran = step("run")
        if ran.outputs.get("touched") == "true":
            saved = step("save")
            if saved.outputs.get("saved") == "true":  # actions/cache/save, under a new key
                shutil.rmtree(self.cache, ignore_errors=True)
                shutil.copytree(work / ".campplanet-state" / "cache", self.cache)
        return Run(work, steps)

    def conditional_hits(self, since: int) -> tuple[int, int]:
        """(requests, of which conditional with the current validators) since request
        number ``since`` of the farm."""
        seen = self.farm.seen[since:]
        conditional = [r for r in seen if r.headers.get("if-none-match", "").endswith('-1"')]
        return len(seen), len(conditional)


@pytest.fixture
def planet(tmp_path: Path):
    with Farm(hosts=2) as farm:
        yield Planet(tmp_path, farm)


def feed_ids(run: Run) -> list[str]:
    atom = (run.work / "public" / "atom.xml").read_text()
    return sorted(part.split("</id>")[0] for part in atom.split("<entry>")[1:] for part in
                  [part.split("<id>", 1)[1]])  # fmt: skip


def test_two_runs_the_second_incremental_then_from_the_branch_then_founding(
    planet: Planet,
) -> None:
    first = planet.workflow_run()
    assert first.steps["restore"].outputs == {"source": "none", "generation": "0"}
    assert "founding run" in first.steps["restore"].out
    ran = first.steps["run"]
    assert ran.code == 0, ran.out
    assert "feeds: 3 ok, 0 not modified, 0 failed; entries: 9 new" in ran.out
    assert ran.outputs == {
        "exit-code": "0", "touched": "true", "site": "public", "site-ready": "true",
    }  # fmt: skip
    assert first.steps["save"].outputs == {"saved": "true", "branch": "pushed"}
    assert planet.state_branch()["generation"] == 1
    site = first.site()
    assert "index.html" in site and "atom.xml" in site
    # No planet.url in campplanet.toml: the feeds point at the GitHub Pages address.
    assert b"https://localgov.github.io/planet/atom.xml" in site["atom.xml"]
    ids = feed_ids(first)
    assert len(ids) == 9

    # The second run: a fresh runner, the cache and the branch both at generation 1.
    count = len(planet.farm.seen)
    second = planet.workflow_run()
    assert second.steps["restore"].outputs == {"source": "cache", "generation": "1"}
    assert "feeds: 0 ok, 3 not modified, 0 failed" in second.steps["run"].out
    assert planet.conditional_hits(count) == (3, 3)  # every request conditional: 304
    assert second.site() == site
    assert second.steps["save"].outputs["branch"] == "pushed"
    assert planet.state_branch()["generation"] == 2
    # The branch is one commit, whatever the number of runs.
    assert git("--git-dir", str(planet.origin), "rev-list", "--count", "campplanet-state") == "1"

    # The cache is gone (evicted after 7 days unused): the state comes back from the branch.
    shutil.rmtree(planet.cache)
    count = len(planet.farm.seen)
    third = planet.workflow_run()
    assert third.steps["restore"].outputs == {"source": "branch", "generation": "2"}
    assert "feeds: 0 ok, 3 not modified" in third.steps["run"].out
    assert planet.conditional_hits(count) == (3, 3)
    assert third.site() == site

    # Both gone: a founding run, which shows the same posts under the same ids, so that
    # nobody subscribed to the merged feeds sees a post twice.
    shutil.rmtree(planet.cache)
    git("--git-dir", str(planet.origin), "update-ref", "-d", "refs/heads/campplanet-state")
    count = len(planet.farm.seen)
    fourth = planet.workflow_run()
    assert fourth.steps["restore"].outputs == {"source": "none", "generation": "0"}
    assert "feeds: 3 ok, 0 not modified" in fourth.steps["run"].out
    assert planet.conditional_hits(count) == (3, 0)
    assert feed_ids(fourth) == ids
    assert fourth.site()["index.html"] == site["index.html"]


def test_restore_takes_the_newest_of_branch_and_cache(planet: Planet) -> None:
    planet.workflow_run()
    old_cache = planet.tmp / "old-cache"
    shutil.copytree(planet.cache, old_cache)  # generation 1
    planet.workflow_run()  # generation 2, in both
    shutil.rmtree(planet.cache)
    shutil.copytree(old_cache, planet.cache)  # an older cache than the branch
    third = planet.workflow_run()
    assert third.steps["restore"].outputs == {"source": "branch", "generation": "2"}
    assert planet.state_branch()["generation"] == 3


def test_the_saved_copy_is_a_sound_database(planet: Planet) -> None:
    planet.workflow_run()
    data = subprocess.run(
        ["git", "--git-dir", str(planet.origin), "show", "campplanet-state:campplanet.db.gz"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    copy = planet.tmp / "copy.db"
    copy.write_bytes(gzip.decompress(data))
    with sqlite3.connect(copy) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    stamp = planet.state_branch()
    assert stamp["run"] == "1001.1" and stamp["bytes"] == len(data)
    files = git("--git-dir", str(planet.origin), "ls-tree", "--name-only", "campplanet-state")
    assert files.split() == ["README.md", "campplanet.db.gz", "stamp.json"]


def test_a_refresh_that_stops_before_the_database_is_not_saved(planet: Planet) -> None:
    planet.workflow_run()
    (planet.source / "feeds.opml").write_text("<opml><body>")  # unreadable: exit 2
    git("commit", "-q", "-am", "broken list", cwd=planet.source)
    git("push", "-q", str(planet.origin), "main", cwd=planet.source)
    broken = planet.workflow_run()
    assert broken.steps["run"].outputs["exit-code"] == "2"
    assert broken.steps["run"].outputs["touched"] == "false"
    assert "save" not in broken.steps
    assert planet.state_branch()["generation"] == 1


def test_a_partly_failed_refresh_is_saved(planet: Planet) -> None:
    planet.workflow_run()
    planet.farm.route(planet.farm.url("/beta.xml", host=1)).status = 500
    second = planet.workflow_run()
    assert second.steps["run"].outputs["exit-code"] == "0"
    assert "1 failed" in second.steps["run"].out
    assert second.steps["save"].outputs["branch"] == "pushed"
    assert planet.state_branch()["generation"] == 2


def test_an_unreachable_branch_never_starts_a_new_planet(planet: Planet) -> None:
    planet.workflow_run()
    shutil.rmtree(planet.cache)
    missing = str(planet.tmp / "no-such-remote.git")
    stopped = planet.workflow_run(remote=missing)
    assert stopped.steps["restore"].code == 1
    assert "cannot read the branch campplanet-state" in stopped.steps["restore"].out
    assert "run" not in stopped.steps
    # With the cache, the run goes on from it; the save then cannot reach the branch.
    planet.workflow_run()  # cache again (generation 2)
    cached = planet.workflow_run(remote=missing)
    assert cached.steps["restore"].outputs["source"] == "cache"
    assert cached.steps["save"].code == 1
    assert "cannot reach the branch" in cached.steps["save"].out
    assert cached.steps["save"].outputs["saved"] == "true"  # the cache still gets it


def test_a_branch_moved_by_another_run_is_not_overwritten(planet: Planet) -> None:
    planet.workflow_run()
    work = planet.tmp / "meanwhile"
    restored = planet.workflow_run()  # restores from the branch at generation 1, saves 2
    assert restored.steps["save"].code == 0
    # Replay that run's save as if a third run had pushed in between.
    git("clone", "-q", f"file://{planet.origin}", str(work))
    git("push", "-q", "--force", "origin", "main:refs/heads/campplanet-state", cwd=work)
    again = subprocess.run(
        [sys.executable, str(SCRIPT), "save"], cwd=restored.work, capture_output=True,
        text=True, env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    assert again.returncode == 1
    assert "could not push the branch campplanet-state" in again.stdout


def test_the_test_follows_the_workflow() -> None:
    """The steps above are the workflow's: same script calls, order, conditions and cache."""
    build = yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert runs[1:] == [
        f"python scripts/github-planet {name}" for name in ("restore", "run", "save")
    ]
    by_id = {s.get("id"): s for s in build["steps"]}
    assert by_id["save"]["if"] == "${{ !cancelled() && steps.run.outputs.touched == 'true' }}"
    caches = [s for s in build["steps"] if s.get("uses", "").startswith("actions/cache/")]
    assert [c["uses"].split("@")[0] for c in caches] == [
        "actions/cache/restore",
        "actions/cache/save",
    ]
    assert {c["with"]["path"] for c in caches} == {".campplanet-state/cache"}
    assert caches[1]["if"] == "${{ !cancelled() && steps.save.outputs.saved == 'true' }}"
    assert caches[0]["with"]["key"] == caches[1]["with"]["key"]
    assert caches[0]["with"]["restore-keys"] == "campplanet-state-"
