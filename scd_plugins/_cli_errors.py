"""One-line user errors for the three command lines (`scd`, `scd-repro`, `scd-textattack`).

It sits in the bottom layer so that every CLI, whatever its layer, shares one wrapper.
"""
from __future__ import annotations

import os
import sys

#: Exceptions that mean "the user asked for something that cannot be done", reported in one line.
USER_ERRORS = (ValueError, TypeError, OSError)

def one_line(err: BaseException) -> str:
    """The message of `err` on one line (OSError as 'path: reason', newlines folded)."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def run_main(prog: str, func, argv=None, *, debug: bool = False) -> int:
    """Run `func(argv)` and turn a user error into `prog: error: <one line>` on stderr and status 2.

    SCD_DEBUG=1 (or debug=True) lets the exception through with its traceback. The three command lines
    (`scd`, `scd-repro`, `scd-textattack`) share this wrapper.
    """
    import warnings

    debug = debug or os.environ.get("SCD_DEBUG", "").lower() in ("1", "true", "yes")
    showwarning = warnings.showwarning
    if not debug:      # warnings (a rebuilt cache, a convergence note) as one line too
        def show(message, *_, **__):
            print(f"{prog}: warning: {one_line(Warning(message))}", file=sys.stderr)

        warnings.showwarning = show
    try:
        return func(argv)
    except BrokenPipeError:                 # `scd predict ... | head`: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = showwarning
