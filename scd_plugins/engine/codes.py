"""Feature values as one-byte codes into a table, for data with at most 256 distinct values.

Images scaled from 8-bit pixels (k / 255) have at most 256 distinct values. The hidden node's move
search gathers |F| x (band) inputs every iteration from rows scattered over the whole data set; as
bytes that is an eighth of the memory traffic of float64, and the table look-up gives back the exact
float64 values (bit for bit), so the search is unchanged.
"""
from __future__ import annotations

import numpy as np

MAX_VALUES = 256


def byte_codes(XT: np.ndarray, sample: int = 1 << 20, chunk: int = 1 << 22):
    """(table (V,) float64 sorted, codes uint8 shaped like XT) with table[codes] bit-identical to XT, or
    None when XT has more than 256 distinct values (or NaNs, or zeros of both signs).

    The table starts from the values of a strided sample and grows by any value the sample missed;
    codes of rows coded before the table last grew are coded again.
    """
    XT = np.asarray(XT, dtype=np.float64)
    flat = XT.reshape(-1)
    table = np.unique(flat[:: max(1, flat.size // sample)])
    codes = np.empty(XT.shape, dtype=np.uint8)
    step = max(1, chunk // max(1, flat.size // max(1, len(XT))))  # rows per chunk of about `chunk` values
    stale = 0  # rows [0, stale) were coded with an older table
    for start in range(0, len(XT), step):
        while True:
            if len(table) > MAX_VALUES or np.isnan(table).any():
                return None
            chunk = XT[start:start + step]
            c = np.searchsorted(table, chunk).clip(max=len(table) - 1)
            missing = table[c].view(np.int64) != chunk.view(np.int64)
            if not missing.any():
                codes[start:start + step] = c
                break
            grown = np.union1d(table, chunk[missing])
            if len(grown) == len(table):  # equal to a table value, other bits: -0.0 beside 0.0
                return None
            table, stale = grown, start
    for start in range(0, stale, step):
        codes[start:start + step] = np.searchsorted(table, XT[start:start + step])
    return table, codes
