"""The SCD engine: threshold search, the one training loop, and batched votes (torch, NumPy)."""
