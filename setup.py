"""Ship scd_plugins/textattack/scd_plugins_textattack.pth at the wheel root (site-packages), where Python
reads .pth files: it registers scd-plugins' models and recipes with TextAttack when textattack is imported.
Everything else is in pyproject.toml."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = Path("scd_plugins") / "textattack" / "scd_plugins_textattack.pth"


class BuildPyWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file(str(PTH), str(Path(self.build_lib) / PTH.name), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH.name)]


setup(cmdclass={"build_py": BuildPyWithPth})
