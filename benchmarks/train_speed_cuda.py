"""The training-speed benchmark on one GPU, in one go: `python benchmarks/train_speed_cuda.py [--quick]`.

Same tables as train_speed.py (100 SCD01 votes at CIFAR scale, target <= 10 s; the growth table with
peak GPU memory), written to benchmarks/results/train_speed_cuda.json.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import main  # noqa: E402

if __name__ == "__main__":
    main(["--device", "cuda", *sys.argv[1:]])
