"""The `.pth` start-up line: inert for unrelated processes, switchable off, one line of Python."""
from __future__ import annotations

import subprocess
import sys

from _textattack_helpers import PTH, subprocess_env

PROBE = ("import sys, json; import email.parser, decimal; "
         "print(json.dumps({'finders': [type(f).__name__ for f in sys.meta_path], "
         "'loaded': sorted(m for m in ('scd_plugins', 'textattack', 'numpy', 'sklearn', 'nltk') if m in sys.modules)}))")


def _probe(env):
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "scd-plugins" not in proc.stderr                 # the hook did not complain
    import json

    return json.loads(proc.stdout)


def test_pth_is_one_import_line():
    lines = [x for x in PTH.read_text().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("import ")   # site.py executes only lines starting with import
    compile(lines[0], str(PTH), "exec")


def test_unrelated_process_loads_nothing(tmp_path):
    env = subprocess_env(tmp_path)
    seen = _probe(env)
    assert seen["finders"][0] in ("_SCDPluginsTextAttackBootstrap", "TextAttackPatcher")
    assert seen["loaded"] == []                              # neither scd_plugins nor textattack nor numpy
    off = _probe(dict(env, SCD_PLUGINS_NO_TEXTATTACK_HOOK="1"))
    assert not {"_SCDPluginsTextAttackBootstrap", "TextAttackPatcher"} & set(off["finders"])


def test_install_hook_copies_the_pth_line(tmp_path, capsys):
    from scd_plugins.textattack.cli import main

    assert main(["install-hook", str(tmp_path)]) == 0
    assert (tmp_path / PTH.name).read_bytes() == PTH.read_bytes()
    assert str(tmp_path / PTH.name) in capsys.readouterr().out
    assert main(["install-hook", str(tmp_path / "missing")]) == 2      # one line, status 2
    assert capsys.readouterr().err.strip() == f"scd-textattack: error: {tmp_path / 'missing'} is not a directory"


def _built_wheel(kind, tmp_path):
    """Build the project's wheel of `kind` ('wheel' or 'editable') with setuptools' PEP 517/660 hooks."""
    import importlib.util

    import pytest

    from _textattack_helpers import REPO

    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is needed to build the wheel")
    code = (f"import sys; from setuptools import build_meta; "
            f"print(build_meta.build_{kind}(sys.argv[1]))")
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path / proc.stdout.strip().splitlines()[-1]


def test_editable_and_regular_wheels_put_the_pth_in_site_packages(tmp_path):
    """`pip install -e .` (the README's install) and `pip install .` both install the hook: the .pth sits
    at the wheel root, which pip unpacks into site-packages."""
    import zipfile

    for kind in ("editable", "wheel"):
        wheel = _built_wheel(kind, tmp_path / kind)
        with zipfile.ZipFile(wheel) as z:
            assert PTH.name in z.namelist(), (kind, z.namelist()[:20])
            assert z.read(PTH.name) == PTH.read_bytes()
