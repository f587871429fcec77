"""The two errors `scd-repro` turns into one line on stderr and exit code 2."""


class RecipeError(ValueError):
    """The recipe is wrong (unknown name, typo, value out of range): found before any data loads."""


class RunError(RuntimeError):
    """The run cannot go on as asked (output folder busy, store of another recipe or dataset, corrupt file)."""
