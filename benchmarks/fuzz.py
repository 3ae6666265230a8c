"""Run the adversarial fuzz targets (tests/adversarial/test_fuzz.py) for longer.

    python benchmarks/fuzz.py --minutes 10

Splits the time between the four targets, runs each with random (not derandomized)
examples, and prints what it ran and every distinct failure hypothesis found.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = [
    "test_fuzz_parse_mutated_corpus",
    "test_fuzz_parse_random_bytes",
    "test_fuzz_opml_mutated_corpus",
    "test_fuzz_opml_generated",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="total time (default 5)")
    parser.add_argument("--examples-per-second", type=float, default=20.0)
    args = parser.parse_args()
    per_target = args.minutes * 60 / len(TARGETS)
    examples = max(100, int(per_target * args.examples_per_second))
    failures = 0
    for target in TARGETS:
        env = {
            **os.environ,
            "FUZZ_EXAMPLES": str(examples),
            "FUZZ_RANDOM": "1",
            "PYTHONHASHSEED": "random",
        }
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"tests/adversarial/test_fuzz.py::{target}",
                "-q",
                "-p",
                "no:cacheprovider",
                "--hypothesis-show-statistics",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=per_target * 3 + 120,
        )
        seconds = time.monotonic() - started
        found = [
            line.strip()
            for line in proc.stdout.splitlines()
            if line.strip().startswith(("| ", "E ", "Falsifying"))
            and ("Error" in line or "Falsifying" in line)
        ]
        status = "ok" if proc.returncode == 0 else "FOUND FAILURES"
        print(f"{target}: up to {examples} examples in {seconds:.0f} s: {status}")
        for line in dict.fromkeys(found):
            print(f"    {line}")
        failures += proc.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
