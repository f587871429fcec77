"""The SCD engine: the batched training loop (`group`, `search`), votes in groups (`ensemble`), and the
single-vote loop it replaced (`vote`, `moves`, `threshold`), kept as the tests' and benchmark's reference."""
