"""`import scd_plugins` stays light: no torch, ART or TextAttack until they are needed."""
import subprocess
import sys


def test_import_loads_no_heavy_frameworks():
    code = ("import sys, scd_plugins; "
            "print(','.join(m for m in ('torch', 'art', 'textattack') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
