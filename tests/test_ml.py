"""Taggers: metrics, the shared training loop, BDT and MLP on generated jets, save and load."""

import numpy as np
import pytest
import torch

from mlhep.ml.data import split
from mlhep.ml.metrics import inverse_jsd, rejection, roc_auc
from mlhep.ml.models import MLP, BDTClassifier, MLPClassifier
from mlhep.ml.taggers import evaluate_tagger, tagger_data
from mlhep.ml.training import TrainConfig, fit
from mlhep.process import make_executor, process_sample


def test_metrics_on_known_cases():
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], 5000)
    assert roc_auc(labels, labels.astype(float)) == pytest.approx(1.0)
    assert roc_auc(labels, rng.random(10000)) == pytest.approx(0.5, abs=0.02)
    # signal uniform on [0.5, 1.5], background on [0, 1]: the median signal cut at 1 keeps no background
    scores = np.concatenate([0.5 + rng.random(5000), rng.random(5000)])
    assert rejection(labels, scores + 0.5 * (labels == 1)) == float("inf")
    # signal uniform on [0.25, 1.25]: its median cut at 0.75 keeps 25 % of a uniform [0, 1] background
    assert rejection(labels, np.concatenate([0.25 + rng.random(5000), rng.random(5000)])) == pytest.approx(4.0, rel=0.1)
    mass = rng.uniform(0, 600, 20000)
    assert inverse_jsd(mass, rng.random(20000) < 0.5) > 100  # a cut unrelated to the mass sculpts nothing
    assert inverse_jsd(mass, mass > 300) == pytest.approx(1 / np.log(2))  # disjoint: JSD = ln 2


def test_split_is_deterministic_and_by_event():
    events = np.arange(20000, dtype=np.uint64)
    train, val, test = split(events, seed=3)
    assert np.all(train ^ val ^ test)
    assert [m.mean() for m in (train, val, test)] == pytest.approx([0.6, 0.2, 0.2], abs=0.02)
    again = split(events, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    assert not np.array_equal(train, split(events, seed=4)[0])


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(np.float64)
    X = rng.normal(size=(n, 3)) + y[:, None] * np.array([1.0, 0.5, 0.0])
    return X, y


def _bce(module, x, y):
    return torch.nn.functional.binary_cross_entropy_with_logits(module(x), y)


def test_training_loop_is_seeded_stops_early_and_resumes(tmp_path):
    X, y = _toy(2000, 1)
    tensors = (torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32))
    train, val = tuple(t[:1500] for t in tensors), tuple(t[1500:] for t in tensors)
    config = TrainConfig(epochs=200, batch_size=128, learning_rate=0.01, patience=3, seed=5)
    torch.manual_seed(0)
    first = MLP(3, (8,))
    torch.manual_seed(0)
    second = MLP(3, (8,))
    history = fit(first, _bce, train, val, config, progress=False)
    fit(second, _bce, train, val, config, progress=False)
    assert history["epochs"] < 200 and history["best_epoch"] == int(np.argmin(history["val_loss"]))
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    # a run cut short resumes from its checkpoint
    checkpoint = tmp_path / "state.pt"
    fit(MLP(3, (8,)), _bce, train, val, TrainConfig(epochs=2, seed=5, learning_rate=0.01), checkpoint=checkpoint, progress=False)
    resumed = fit(MLP(3, (8,)), _bce, train, val, TrainConfig(epochs=4, seed=5, learning_rate=0.01), checkpoint=checkpoint, progress=False)
    assert resumed["epochs"] == 4 and checkpoint.exists()


@pytest.fixture(scope="module")
def jets(generated, tmp_path_factory):
    folder = tmp_path_factory.mktemp("columns")
    executor = make_executor("iterative", status=False)
    paths = {}
    for sample in ("wprime_xy", "qcd_dijet"):
        outputs = {k: folder / f"{sample}.{k}" for k in ("columns", "hists", "cutflow")}
        process_sample(sample, [str(generated[sample])], "dijet", {}, 1, executor, 1000, False, outputs)
        paths[sample] = outputs["columns"]
    return tagger_data(paths["wprime_xy"], paths["qcd_dijet"], seed=1)


@pytest.mark.parametrize("model", [BDTClassifier(n_estimators=50), MLPClassifier(hidden=(32,), train={"epochs": 60, "learning_rate": 0.003})])
def test_taggers_beat_random_and_reload_identically(jets, model, tmp_path):
    train, val, test = jets["train"], jets["val"], jets["test"]
    model.fit(train["X"], train["y"], val["X"], val["y"], train["w"], val["w"])
    score = model.predict(test["X"])
    metrics = evaluate_tagger(test["y"], score, test["mass"])
    assert metrics["auc"] > 0.85 and metrics["r50"] > 5, metrics
    model.save(tmp_path)
    np.testing.assert_array_equal(type(model).load(tmp_path).predict(test["X"]), score)
