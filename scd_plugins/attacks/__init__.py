"""Decision-based attacks and the paper's measurement protocols (imports ART; `import scd_plugins` does not
import this package).

RayS (Chen & Gu, KDD 2020) in ART's evasion-attack interface; `min_l2` (T2, T3, T5), `transfer_matrix`
(T6), `ensemble_size_curve` (F1) and `sweep` over the same protocol; the substitute-model attack of
Papernot et al. 2017 (`SubstituteAttack`, `substitute_curve`: F2); `check_backend` for seeded runs.
"""
from scd_plugins.attacks._protocols import (
    ATTACKS,
    MinL2Result,
    TransferRow,
    check_backend,
    draw_initial,
    ensemble_size_curve,
    make_attack,
    min_l2,
    min_l2_point,
    n_members,
    sweep,
    transfer_matrix,
    transfer_probability,
    transfer_row,
)
from scd_plugins.attacks._rays import RayS
from scd_plugins.attacks._substitute import SubstituteAttack, gaussian_like, substitute_curve

__all__ = ["RayS", "SubstituteAttack", "substitute_curve", "gaussian_like", "ATTACKS", "MinL2Result", "TransferRow", "check_backend", "draw_initial", "make_attack", "min_l2", "min_l2_point",
           "transfer_row", "transfer_matrix", "transfer_probability", "ensemble_size_curve", "sweep", "n_members"]
