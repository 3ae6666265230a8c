"""Run a command and measure it as a whole: wall time, CPU and peak memory of its process tree.

    done = run_measured([sys.executable, "script.py"], interval=0.025)
    done.wall, done.cpu            # seconds; CPU of the process and every child it waited for
    done.tree_rss_mb               # max over time of the summed VmRSS of the process and all
                                   # its descendants, sampled from /proc every ``interval`` s
    peak_rss_mb()                  # in a measured process: its own exact peak (VmHWM)
    precompile()                   # campplanet's modules as bytecode, as installing it leaves them

The tree figure is what a machine must have free for the run: a refresh is its own process
plus its parse workers. Summed VmRSS counts pages the workers share with their parent (they
are forked) once per process, so it overstates a little; a peak shorter than ``interval`` can
be missed.

The child's ru_maxrss (from wait4, or its own getrusage) is no measure of it: Linux carries
the parent's peak RSS over into a child across fork and exec, so a spawned process reports
at least its parent's peak (a benchmark that built a database in memory before spawning
the render would see its own size). VmHWM, the peak of the address space since exec, is
the process's own: a measured process reports it with :func:`peak_rss_mb`. Linux only.
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    wall: float
    cpu: float
    tree_rss_mb: float
    tree_peak_processes: int  # processes in the tree when its summed RSS peaked


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text()
            except OSError:
                continue
            todo.extend(int(child) for child in children.split())
    return found


def peak_rss_mb() -> float:
    """This process's own peak RSS since it started (VmHWM), in MiB."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def rss_kb(pid: int) -> int:
    """The VmRSS of ``pid`` in KiB (0 if it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler:
    """Samples the summed RSS of a process tree in a thread until stopped."""

    def __init__(self, pid: int, interval: float):
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            pids = descendants(self.pid)
            total = sum(rss_kb(pid) for pid in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, len(pids)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(
    command: list[str], *, interval: float = 0.025, cwd: str | Path | None = None
) -> Measured:
    """Run ``command`` to its end, sampling its process tree every ``interval`` seconds."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
    )
    sampler = TreeSampler(process.pid, interval).start()
    # Read the pipes in threads, so a chatty child never blocks on a full pipe.
    out: dict[str, str] = {}

    def drain(name: str, stream) -> None:
        out[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=(name, stream), daemon=True)
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for reader in readers:
        reader.start()
    # wait4 rather than wait: the child's CPU time, including the children it waited for
    # (such as parse workers). The sampler keeps going until the child has exited, so the
    # tree's last moments are seen too.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    sampler.stop()
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=process.returncode,
        stdout=out.get("stdout", ""),
        stderr=out.get("stderr", ""),
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        tree_rss_mb=sampler.peak_kb / 1024,
        tree_peak_processes=sampler.peak_processes,
    )


def precompile(package: str = "campplanet") -> None:
    """Compile ``package`` to bytecode where Python looks for it, as ``pip install`` does.

    An editable install (the benchmarks run from a checkout) keeps no bytecode when
    PYTHONDONTWRITEBYTECODE is set, and every measured process would then compile every
    module it imports again: time a cron job on an installed planet never spends.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed")
    for folder in spec.submodule_search_locations:
        compileall.compile_dir(folder, quiet=1)
