"""`import scd_plugins` loads none of the ART adapters, attacks, runner or plotting."""
import subprocess
import sys
from pathlib import Path


def test_import_scd_plugins_stays_light():
    code = ("import sys, scd_plugins\n"
            "heavy = [m for m in ('art', 'scd_plugins.art', 'scd_plugins.attacks', 'scd_plugins.repro',\n"
            "                     'torch', 'matplotlib') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
