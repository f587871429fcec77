"""The training-speed benchmark on one GPU, in one go: `python benchmarks/train_speed_cuda.py [--iterations 30]`.

Every CUDA check of issue 9 in one short run (a few minutes): seconds per vote-iteration of groups of
1, 8, 32 and 100 votes (SCD01, SCDCE; CIFAR scale and the quickstart's), one whole 1000-iteration
vote, 100 votes of each family as one group of 100 (projected from m iterations), the 100-vote SCD01
ensemble fitted by `SCD01Classifier(device="cuda")` (one group of 100; the target at CIFAR scale: <= 10 s),
the growth table with peak GPU memory, and the scikit-learn MLP anchor (CPU); written to
benchmarks/results/train_speed_cuda.json. Without a CUDA device it stops at once, exit status 2,
saying so (the CPU benchmark is train_speed.py).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import main  # noqa: E402

if __name__ == "__main__":
    main(["--device", "cuda", "--ensemble", *sys.argv[1:]])
