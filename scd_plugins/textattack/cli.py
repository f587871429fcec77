"""`scd-textattack`: TextAttack's own command line with scd-plugins models and recipes registered.

The fallback when the wheel's `.pth` hook is not active (SCD_PLUGINS_NO_TEXTATTACK_HOOK=1, or an install
made by a tool that does not unpack the `.pth` file from the wheel root; `pip install .` and
`pip install -e .` both do):
`scd-textattack attack --model scd01-mr --recipe textfooler-offline` is `textattack attack ...` with the
same arguments. Also `python -m scd_plugins.textattack ...`.

`scd-textattack install-hook [DIR]` copies the `.pth` file into DIR (default: this environment's
site-packages), which makes the plain `textattack` command see our names where the install did not put
it there; delete that file to undo it.
"""
from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

PTH = Path(__file__).resolve().parent / "scd_plugins_textattack.pth"


def install_hook(target=None) -> Path:
    """Copy the start-up `.pth` line into `target` (default: site-packages of the running interpreter)."""
    directory = Path(target) if target is not None else Path(sysconfig.get_paths()["purelib"])
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    dest = directory / PTH.name
    shutil.copyfile(PTH, dest)
    return dest


def main(argv=None):
    """Entry point: user errors are one line on stderr and status 2 (SCD_DEBUG=1: the traceback)."""
    from scd_plugins._cli_errors import run_main

    return run_main("scd-textattack", _main, argv)


def _main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["install-hook"]:
        if len(args) > 2:
            print("usage: scd-textattack install-hook [DIR]", file=sys.stderr)
            return 2
        print(f"installed {install_hook(args[1] if len(args) == 2 else None)}")
        return 0
    from scd_plugins.textattack._hook import register

    register()
    from textattack.commands.textattack_cli import main as textattack_main

    saved = sys.argv
    sys.argv = ["scd-textattack", *args]
    try:
        return textattack_main()
    finally:
        sys.argv = saved


if __name__ == "__main__":
    sys.exit(main())
