"""ROC, AUC and R50 against scikit-learn on random, tied, weighted and constant scores, and in
any row order; the tagger metrics of a constant tagger."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from mlhep.errors import InvalidInput
from mlhep.ml.metrics import rejection, roc_auc, roc_curve
from mlhep.ml.stage import evaluate_tagger


def _inputs(kind, n=2000, seed=3):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(int)
    scores = rng.normal(size=n) + labels
    weights = None
    if kind == "tied":
        scores = np.round(scores * 2) / 2  # a dozen distinct values, each shared by both classes
    elif kind == "weighted":
        weights = rng.exponential(size=n)
    elif kind == "constant":
        scores = np.full(n, 0.7)
    elif kind == "saturated":  # a float32 sigmoid of confident logits: many exact 1.0
        scores = (1 / (1 + np.exp(-np.float32(8) * scores.astype(np.float32)))).astype(np.float64)
    return labels, scores, weights


def _reference_r50(labels, scores, weights):
    """1/eps_B at eps_S = 0.5, interpolated on scikit-learn's ROC curve."""
    fpr, tpr, _ = sklearn_roc_curve(labels, scores, sample_weight=weights, drop_intermediate=False)
    above = np.argmax(tpr >= 0.5)
    below = above - 1
    eps_b = fpr[below] + (0.5 - tpr[below]) / (tpr[above] - tpr[below]) * (fpr[above] - fpr[below])
    return 1 / eps_b


@pytest.mark.parametrize("kind", ["random", "tied", "weighted", "constant", "saturated"])
def test_roc_auc_and_r50_agree_with_scikit_learn_in_any_row_order(kind):
    labels, scores, weights = _inputs(kind)
    fpr, tpr, _ = sklearn_roc_curve(labels, scores, sample_weight=weights, drop_intermediate=False)
    reference_auc = roc_auc_score(labels, scores, sample_weight=weights)
    for order in (np.arange(len(labels)), np.argsort(-labels, kind="stable"), np.argsort(labels, kind="stable")):
        w = None if weights is None else weights[order]
        eps_b, eps_s = roc_curve(labels[order], scores[order], w)
        np.testing.assert_allclose(eps_b, fpr, atol=1e-12)
        np.testing.assert_allclose(eps_s, tpr, atol=1e-12)
        assert roc_auc(labels[order], scores[order], w) == pytest.approx(reference_auc, abs=1e-12)
        assert rejection(labels[order], scores[order], 0.5, w) == pytest.approx(_reference_r50(labels, scores, weights), rel=1e-12)


def test_a_constant_tagger_is_a_random_guess():
    """The defect: with the signal rows first, every tied score counted as signal first, so a
    tagger giving every jet the same score had AUC 1 and R50 = inf."""
    labels = np.r_[np.ones(100), np.zeros(300)]
    scores = np.full(400, 0.5)
    assert roc_auc(labels, scores) == 0.5
    assert rejection(labels, scores, 0.5) == pytest.approx(2.0)  # a cut keeping half of every class at random
    metrics = evaluate_tagger(labels, scores, np.linspace(10, 500, 400))
    assert metrics["auc"] == 0.5 and metrics["r50"] == pytest.approx(2.0)
    # no cut on a constant score splits the background: 1/JSD is undefined, null with the reason
    assert metrics["inv_jsd"] is None and "one side" in metrics["inv_jsd_reason"]


def test_a_perfect_tagger_has_r50_null_with_the_reason():
    labels = np.r_[np.ones(100), np.zeros(300)]
    scores = np.r_[np.linspace(0.6, 1.0, 100), np.linspace(0.0, 0.5, 300)]
    metrics = evaluate_tagger(labels, scores, np.linspace(10, 500, 400))
    assert metrics["auc"] == 1.0 and metrics["r50"] is None
    assert metrics["r50_reason"] == "no background jet passes the 50 % signal-efficiency cut: R50 exceeds the 300 test background jets"


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [([1, 0, 2], [0.1, 0.2, 0.3], "labels: expected 1"), ([1, 0], [0.1, np.nan], "scores: 1 NaN"), ([1, 1], [0.1, 0.2], "no background")],
)
def test_bad_scores_are_refused(labels, scores, message):
    with pytest.raises(InvalidInput, match=message):
        roc_auc(labels, scores)


def test_rejection_at_other_efficiencies_and_its_bad_values():
    """eps_B interpolated between the two ROC points around the efficiency, by hand on eight jets."""
    labels = [1, 0, 1, 0, 1, 0, 1, 0]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    # ROC points (eps_B, eps_S): (0, 0) (0, 1/4) (1/4, 1/4) (1/4, 1/2) (1/2, 1/2) (1/2, 3/4) (3/4, 3/4) (3/4, 1) (1, 1)
    assert rejection(labels, scores, 0.25) == np.inf  # the first signal jet passes with no background
    assert rejection(labels, scores, 0.375) == pytest.approx(4.0)  # between (1/4, 1/4) and (1/4, 1/2)
    assert rejection(labels, scores, 0.75) == pytest.approx(2.0)
    assert rejection(labels, scores, 1.0) == pytest.approx(4 / 3)
    weights = [1.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # the first background jet weighs half of the background
    assert rejection(labels, scores, 0.5, weights) == pytest.approx(2.0)
    for efficiency in (0.0, -0.1, 1.5):
        with pytest.raises(InvalidInput, match=f"signal_efficiency {efficiency}: must lie in"):
            rejection(labels, scores, efficiency)


def test_score_threshold_and_inverse_jsd_by_hand():
    from mlhep.checks import check_scores
    from mlhep.ml.metrics import JSD_MASS_BINS, inverse_jsd, score_threshold

    scores = np.array([0.1, 0.4, 0.2, 0.9, 0.7])
    assert score_threshold(scores, 0.4) == 0.4  # 0.7 and 0.9, two of five, lie above it (the cut is score > threshold)
    assert score_threshold(scores, 0.8) == 0.1
    # 0.7 weighs 60 %: no cut keeps 40 %; the first with at most that much above it
    assert score_threshold(scores, 0.4, weights=[1.0, 1.0, 1.0, 1.0, 6.0]) == 0.7
    assert score_threshold(scores, 0.4, weights=[1.0, 1.0, 1.0, 1.0, 1.0]) == 0.4
    assert JSD_MASS_BINS[0] == 0.0 and JSD_MASS_BINS[-1] == 600.0 and len(JSD_MASS_BINS) == 31
    # two masses in two bins: p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4)
    mass = np.array([10.0, 10.0, 30.0])
    passing = np.array([True, False, False])
    jsd = 0.5 * (np.log(1 / 0.75) + 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25))
    assert inverse_jsd(mass, passing) == pytest.approx(1 / jsd, rel=1e-12)
    # overflow goes to the last bin, underflow to the first; weights count
    assert inverse_jsd(np.array([-5.0, 1000.0, 590.0]), np.array([True, True, False])) == pytest.approx(1 / jsd, rel=1e-12)
    assert inverse_jsd(mass, passing, weights=[1.0, 3.0, 1.0]) == pytest.approx(
        1 / (0.5 * (np.log(1 / 0.875) + 0.75 * np.log(0.75 / 0.875) + 0.25 * np.log(0.25 / 0.125))), rel=1e-12
    )
    assert inverse_jsd(mass, np.array([True, False, True]), bins=np.array([0.0, 20.0, 40.0])) == pytest.approx(1 / jsd, rel=1e-12)
    # the weights of the passing jets count too: p = (1/4, 3/4), q = (1, 0), m = (5/8, 3/8)
    weighted = inverse_jsd(np.array([10.0, 30.0, 10.0]), np.array([True, True, False]), weights=[1.0, 3.0, 2.0])
    assert weighted == pytest.approx(1 / (0.5 * (0.25 * np.log(0.25 / 0.625) + 0.75 * np.log(0.75 / 0.375) + np.log(1 / 0.625))), rel=1e-12)
    # bins narrower than a unit: the overflow still lands in the last bin
    assert inverse_jsd(np.array([0.2, 0.3, 3.0]), np.array([True, False, False]), bins=np.array([0.0, 0.5, 1.0])) == pytest.approx(1 / jsd, rel=1e-12)
    assert inverse_jsd(np.array([10.0, 10.0]), np.array([True, False])) == np.inf  # identical distributions
    assert np.isnan(inverse_jsd(mass, np.zeros(3, bool))) and np.isnan(inverse_jsd(mass, np.ones(3, bool)))
    # check_scores: shapes, labels, weights
    labels, checked, weights = check_scores([1, 0], [0.3, 0.1])
    assert checked.dtype == np.float64 and weights.tolist() == [1.0, 1.0]
    # a cut as a score: booleans are 0 and 1
    assert roc_auc([1, 1, 0, 0], np.array([True, False, False, False])) == pytest.approx(0.75)
    for args, message in (
        (([1, 0], [0.3]), r"labels \(2,\) and scores \(1,\)"),
        (([[1, 0]], [[0.3, 0.1]]), "expected two"),
        (([1, 0, 1], [0.3, 0.2, np.inf]), r"^scores: 1 NaN or infinite values$"),
        (([1, 0, 3], [0.3, 0.2, 0.1]), r"^labels: expected 1 \(signal\) or 0 \(background\) only$"),
        (([1, 0], [0.3, 0.1], [1.0, -1.0]), "weights: expected 2 finite non-negative"),
        (([1, 0], [0.3, 0.1], [1.0, np.nan]), "weights: expected 2"),
        (([1, 0], [0.3, 0.1], [1.0]), "weights: expected 2"),
        (([1, 0], [0.3, 0.1], [0.0, 1.0]), "no signal events"),
        (([1, 0], [0.3, 0.1], [1.0, 0.0]), "no background events"),
    ):
        with pytest.raises(InvalidInput, match=message):
            check_scores(*args)
