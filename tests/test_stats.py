import numpy as np
import pytest

from embtune_core.core.stats import bootstrap_ci, paired_delta


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small = rng.binomial(1, 0.6, 50)
    big = rng.binomial(1, 0.6, 2000)
    lo, hi = bootstrap_ci(small)
    assert lo < small.mean() < hi
    blo, bhi = bootstrap_ci(big)
    assert (bhi - blo) < (hi - lo) / 3
    assert bootstrap_ci(small) == bootstrap_ci(small)  # seeded: reproducible


def test_paired_delta_detects_a_real_gain_and_not_noise():
    rng = np.random.default_rng(2)
    base = rng.binomial(1, 0.5, 200).astype(float)
    better = np.where(rng.random(200) < 0.3, 1.0, base)
    d = paired_delta(base, better, metric="recall@5")
    assert d.delta > 0.05 and d.ci_low > 0 and d.p_value < 0.01 and d.losses == 0
    same = paired_delta(base, base.copy())
    assert same.delta == 0 and same.p_value == pytest.approx(1.0) and same.ties == 200
    noise = paired_delta(base, rng.permutation(base))
    assert noise.ci_low < 0 < noise.ci_high and noise.p_value > 0.05


def test_paired_delta_rejects_unpaired():
    with pytest.raises(ValueError, match="differ in size"):
        paired_delta([1, 0], [1])
