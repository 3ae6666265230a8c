"""Build hook: ship the top-level ``templates/`` (the default theme) inside the package."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithTemplates(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).parent / "templates"
        target = Path(self.build_lib) / "campplanet" / "templates"
        shutil.copytree(source, target, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithTemplates})
