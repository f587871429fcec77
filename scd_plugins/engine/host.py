"""Which code path the engine takes for a tensor: the host path or the accelerator path.

On the CPU, reading a value back is free, so the engine uses it: NumPy's sorts and selections, band
widths, batches of similar widths, early exits, index copies. On an accelerator every decision stays a
tensor (masks and `where`s, full-width blocks, fixed step counts): nothing is read back to the host
inside an iteration. `accelerator_path()` sends CPU tensors down the accelerator path, so that path is
tested where no accelerator is: the same models, and no host read (tests/engine/test_device_path.py).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_emulated = False


def host_path(t: torch.Tensor | torch.device) -> bool:
    """True where reading values back to the host is free: a CPU tensor, unless emulating."""
    device = t if isinstance(t, torch.device) else t.device
    return device.type == "cpu" and not _emulated


@contextlib.contextmanager
def accelerator_path() -> Iterator[None]:
    """Within the block, CPU tensors take the accelerator's code path (for tests; not thread-safe)."""
    global _emulated
    before, _emulated = _emulated, True
    try:
        yield
    finally:
        _emulated = before
