"""Ship scd_plugins/textattack/scd_plugins_textattack.pth at the wheel root (site-packages), where Python
reads .pth files: it registers scd-plugins' models and recipes with TextAttack when textattack is imported.
Both the regular wheel (`pip install .`) and the editable one (`pip install -e .`, PEP 660) carry it, so
the stock `textattack` command sees our names either way. Everything else is in pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = Path("scd_plugins") / "textattack" / "scd_plugins_textattack.pth"


class BuildPyWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file(str(PTH), str(Path(self.build_lib) / PTH.name), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH.name)]


class EditableWheelWithPth(editable_wheel):
    """The editable wheel holds only setuptools' own finder files plus what sits in its unpacked folder;
    put the `.pth` there (the folder that becomes site-packages), next to setuptools' `__editable__` files."""

    def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
        result = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
        shutil.copyfile(PTH, Path(unpacked_wheel) / PTH.name)
        return result


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
