"""Taggers: metrics, the shared training loop, the taggers on generated jets, save and load,
mass decorrelation."""

import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import awkward as ak
import dcor
import numpy as np
import pytest
import torch

from mlhep.columns import JET_FEATURES, jet_column, split
from mlhep.config import tagger_models
from mlhep.errors import BadInputFile, InvalidInput
from mlhep.ml.data import jet_table
from mlhep.ml.decorrelation import distance_correlation
from mlhep.ml.metrics import inverse_jsd, rejection, roc_auc
from mlhep.ml.models import MLP, BDTClassifier, MLPClassifier, PFNClassifier, load_model
from mlhep.ml.networks import ParticleFlowNetwork
from mlhep.ml.stage import evaluate_tagger, tagger_data
from mlhep.ml.training import TrainConfig, TrainingDiverged, fit
from mlhep.process import make_executor
from mlhep.process.stage import process_sample


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
    assert np.all(train.astype(int) + val + test == 1)  # every event in exactly one part
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
    return tagger_data(paths["wprime_xy"], paths["qcd_dijet"], seed=1, max_particles=30)


@pytest.mark.parametrize(
    ("model", "min_auc", "min_r50"),
    [
        (BDTClassifier(n_estimators=50), 0.85, 5),
        (MLPClassifier(hidden=(32,), train={"epochs": 60, "learning_rate": 0.003}), 0.85, 5),
        # the constituent model learns the mass from ~400 training jets only: AUC 0.68-0.78 and
        # R50 3-12 over three splits x three training seeds, so a lower bar here (random: AUC 0.5
        # +- 0.06 on these ~120 test jets, R50 2); on the default run's 30k jets it reaches AUC 0.91
        (PFNClassifier(phi=(32, 32), f=(32,), max_particles=30, train={"epochs": 40, "learning_rate": 0.003, "patience": 40}), 0.65, 2.5),
    ],
    ids=["bdt", "mlp", "pfn"],
)
def test_taggers_beat_random_and_reload_identically(jets, model, min_auc, min_r50, tmp_path):
    train, val, test = jets["train"], jets["val"], jets["test"]
    model.fit(train, val)
    score = model.predict(test)
    metrics = evaluate_tagger(test["y"], score, test["mass"])
    # R50 is null (with the reason) when no test background jet passes: a rejection beyond the sample
    r50 = np.inf if metrics["r50"] is None and "test background jets" in metrics["r50_reason"] else metrics["r50"]
    assert metrics["auc"] > min_auc and r50 > min_r50, metrics
    model.save(tmp_path)
    np.testing.assert_array_equal(type(model).load(tmp_path).predict(test), score)
    loaded = load_model(tmp_path)  # the kind comes from model.json
    assert type(loaded) is type(model) and asdict(loaded).keys() == asdict(model).keys()
    np.testing.assert_array_equal(loaded.predict(test), score)


def test_saved_models_follow_one_convention_and_bad_folders_are_named(jets, tmp_path):
    """model.json holds the kind and every hyper-parameter (the BDT's were dropped before); an
    older layout, a missing weights file or another kind of model is a BadInputFile naming it."""
    model = BDTClassifier(n_estimators=5, max_depth=2, seed=3).fit(jets["train"], jets["val"])
    model.save(tmp_path / "bdt")
    saved = json.loads((tmp_path / "bdt" / "model.json").read_text())
    assert saved == {"kind": "bdt", "hyper": {"n_estimators": 5, "max_depth": 2, "learning_rate": 0.1, "early_stopping_rounds": 20, "seed": 3}}
    assert asdict(load_model(tmp_path / "bdt")) == asdict(model)
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.json").write_bytes((tmp_path / "bdt" / "booster.json").read_bytes())  # the earlier layout: xgboost's JSON itself
    with pytest.raises(BadInputFile, match=re.escape(f"{old / 'model.json'}: not a saved model of this mlhep") + ".*retrain it"):
        load_model(old)
    (tmp_path / "bdt" / "booster.json").unlink()
    with pytest.raises(BadInputFile, match=re.escape(f"{tmp_path / 'bdt' / 'booster.json'}: missing")):
        load_model(tmp_path / "bdt")
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "model.json").write_text('{"kind": "flow", "hyper": {}}')
    with pytest.raises(BadInputFile, match="a saved 'flow' model, not a tagger"):
        load_model(tmp_path / "flow")
    with pytest.raises(BadInputFile, match="a saved 'flow' model, expected 'mlp'"):
        MLPClassifier.load(tmp_path / "flow")


def test_energy_flow_network_is_infrared_and_collinear_safe():
    torch.manual_seed(3)
    net = ParticleFlowNetwork((8, 8), (8,), energy_flow=True)
    # rows: z, then (log z, deta, dphi) as the network sees them (any standardization)
    jet = torch.tensor([[[0.6, -0.5, 0.1, 0.0], [0.4, -0.9, -0.2, 0.1], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    soft = jet.clone()
    soft[0, 2] = torch.tensor([1e-9, -20.0, 0.3, 0.3])  # an infinitely soft emission
    split_jet = jet.clone()
    split_jet[0, 0, :2], split_jet[0, 2] = torch.tensor([0.3, -1.2]), torch.tensor([0.3, -1.2, 0.1, 0.0])  # a collinear splitting
    assert torch.allclose(net(jet), net(soft), atol=1e-6)
    assert torch.allclose(net(jet), net(split_jet), atol=1e-6)


def test_distance_correlation_matches_dcor_and_counts_weights_as_frequencies():
    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    for y in (rng.normal(size=300), x**2 + 0.3 * rng.normal(size=300), 2 * x + 1):
        ours = distance_correlation(torch.tensor(x), torch.tensor(y)).item()
        assert ours == pytest.approx(dcor.distance_correlation_sqr(x, y), rel=1e-9)
    counts = rng.integers(1, 4, size=300)
    y = x**2 + 0.3 * rng.normal(size=300)
    weighted = distance_correlation(torch.tensor(x), torch.tensor(y), torch.tensor(counts, dtype=torch.float64)).item()
    assert weighted == pytest.approx(dcor.distance_correlation_sqr(np.repeat(x, counts), np.repeat(y, counts)), rel=1e-9)


def _sculpting_toy(n, seed):
    """Background mass falling, signal mass peaked at 150 GeV, and a second feature that
    separates them at any mass: a tagger that uses the mass sculpts the background."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(float)
    mass = np.where(y == 1, rng.normal(150, 20, n), 20 + rng.exponential(80, n))
    feature = rng.normal(0, 1, n) + 1.5 * y
    return {"X": np.stack([mass, feature], 1), "y": y, "w": np.ones(n), "mass": mass}


@pytest.fixture(scope="module")
def sculpting_toy():
    return {name: _sculpting_toy(n, seed) for name, n, seed in (("train", 8000, 1), ("val", 4000, 2), ("test", 4000, 3))}


@pytest.fixture(scope="module")
def plain_toy_tagger(sculpting_toy):
    """The same network and loop without decorrelation: DisCo at lambda = 0."""
    return _toy_tagger(sculpting_toy, {"method": "disco", "lam": 0})


def _toy_tagger(toy, decorrelation):
    train = {"epochs": 40, "batch_size": 512, "learning_rate": 0.002, "patience": 10, "seed": 2}
    if decorrelation and decorrelation["method"] == "adversarial":
        train["early_stopping"] = False
    model = MLPClassifier(hidden=(32, 32), train=train, decorrelation=decorrelation).fit(toy["train"], toy["val"])
    return evaluate_tagger(toy["test"]["y"], model.predict(toy["test"]), toy["test"]["mass"])


@pytest.mark.parametrize(
    ("decorrelation", "min_gain"),
    # the smallest 1/JSD gains over the plain tagger seen in four training seeds (1-4) on this
    # toy: DisCo 6.8x, adversarial 3.8x, MoDE 2.3x (MoDE lambda 1: 2.3, 2.3, 2.7, 8.5x)
    [({"method": "disco", "lam": 10}, 3), ({"method": "adversarial", "lam": 10}, 3), ({"method": "mode", "lam": 1}, 2)],
    ids=["disco", "adversarial", "mode"],
)
def test_decorrelation_at_large_lambda_stops_mass_sculpting(sculpting_toy, plain_toy_tagger, decorrelation, min_gain):
    plain = plain_toy_tagger
    decorrelated = _toy_tagger(sculpting_toy, decorrelation)
    assert plain["inv_jsd"] < 4  # the plain tagger cuts on the mass
    assert decorrelated["inv_jsd"] > min_gain * plain["inv_jsd"], (plain, decorrelated)
    assert decorrelated["auc"] > 0.8, decorrelated  # still a tagger: the second feature alone gives 0.86


def test_tagger_names_expand_the_lambda_scans():
    models = {"bdt": {}, "disco": {"lambdas": [0, 0.5, 10], "hidden": [8]}, "mode": {"lambdas": [2], "mass_bins": 5}}
    expanded = tagger_models(models)
    assert list(expanded) == ["bdt", "disco_lambda_0", "disco_lambda_0.5", "disco_lambda_10", "mode_lambda_2"]
    assert expanded["disco_lambda_0.5"] == ("disco", {"hidden": [8], "decorrelation": {"method": "disco", "lam": 0.5}})
    assert expanded["mode_lambda_2"][1]["decorrelation"] == {"method": "mode", "lam": 2, "mass_bins": 5}


ADVERSARIAL = {"hidden": (16,), "decorrelation": {"method": "adversarial", "lam": 10}, "train": {"epochs": 40, "batch_size": 512, "early_stopping": False, "seed": 4}}
KILLED_TRAINING = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_ml import ADVERSARIAL, MLPClassifier, _sculpting_toy
torch.set_num_threads(1)
MLPClassifier(**ADVERSARIAL).fit(_sculpting_toy(8000, 1), _sculpting_toy(4000, 2), checkpoints={folder!r})
"""


def test_a_training_killed_midway_resumes_from_its_checkpoint_to_the_same_model(sculpting_toy, tmp_path, one_torch_thread):
    checkpoint = tmp_path / "member0.pt"
    job = subprocess.Popen([sys.executable, "-c", KILLED_TRAINING.format(tests=str(Path(__file__).parent), folder=str(tmp_path))])
    while job.poll() is None and not checkpoint.exists():
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL, "the training ended before it could be killed"
    done = len(json.loads(torch.load(checkpoint, weights_only=True)["history"])["train_loss"])
    assert 0 < done < 40
    resumed = MLPClassifier(**ADVERSARIAL).fit(sculpting_toy["train"], sculpting_toy["val"], checkpoints=tmp_path)
    uninterrupted = MLPClassifier(**ADVERSARIAL).fit(sculpting_toy["train"], sculpting_toy["val"])
    assert resumed.history[0]["epochs"] == 40
    np.testing.assert_array_equal(resumed.predict(sculpting_toy["test"]), uninterrupted.predict(sculpting_toy["test"]))


def test_nan_features_stop_the_tagger_data_naming_file_and_column(tmp_path):
    columns = {jet_column(name, jet): np.ones(5) for name in JET_FEATURES for jet in (1, 2)}
    columns["tau21_j2"][3] = np.nan
    columns["pt_j1"][0] = np.inf
    path = tmp_path / "bad.parquet"
    ak.to_parquet(ak.zip({**columns, "event": np.arange(5, dtype=np.uint64)}), path)
    with pytest.raises(InvalidInput, match=r"bad.parquet: 2 events with NaN or infinite values \(columns: tau21, pt\)"):
        jet_table(path, 0)


@pytest.mark.parametrize(
    ("hyper", "named"),
    [({"train": {"epochs": 3, "learning_rate": 1e30}}, "MLPClassifier (network 1 of 1)"), ({"train": {"epochs": 3}, "decorrelation": {"method": "disco", "lam": float("inf")}}, "MLPClassifier")],
    ids=["learning_rate", "lambda"],
)
def test_a_diverging_training_stops_naming_the_model_the_epoch_and_the_loss(sculpting_toy, hyper, named):
    """The defect: a NaN loss ended in 'TypeError: Expected state_dict to be dict-like'."""
    with pytest.raises(TrainingDiverged, match=rf"{re.escape(named)}.*loss is (nan|inf) in epoch \d"):
        MLPClassifier(hidden=(8,), **hyper).fit(sculpting_toy["train"], sculpting_toy["val"])
