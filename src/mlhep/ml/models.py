"""Taggers as estimators (fit / predict / save / load on data dicts): a BDT, an MLP, a PFN / EFN."""

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import xgboost
from scipy.special import expit
from torch import nn

from mlhep import seeds
from mlhep.errors import BadInputFile
from mlhep.io import atomic_path, read_model_json, write_model_json
from mlhep.ml.decorrelation import classification_loss
from mlhep.ml.networks import MLP, ParticleFlowNetwork, standardization
from mlhep.ml.training import TrainConfig, device, fit, seed_everything

__all__ = ["MODELS", "BDTClassifier", "MLP", "MLPClassifier", "PFNClassifier", "TorchClassifier", "load_model", "make_model"]


@dataclass
class TorchClassifier:
    """A torch network trained by the shared loop on weighted BCE, optionally decorrelated from
    the jet mass (``decorrelation``: see mlhep.ml.decorrelation.classification_loss), as an
    ensemble of ``ensemble`` networks, each seeded from its own "training" stream, whose
    probabilities are averaged.

    ``fit`` and ``predict`` take data dicts as made by mlhep.ml.stage.tagger_data: "y", "w",
    "mass" and the inputs of the subclass.
    """

    train: TrainConfig = field(default_factory=TrainConfig)
    decorrelation: dict | None = None
    ensemble: int = 1
    history: list = field(default_factory=list, repr=False)

    needs_constituents = False

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        self.module, self.preprocessing = None, {}

    def network(self):
        raise NotImplementedError

    def inputs(self, data):
        """Network input tensor of a data dict."""
        raise NotImplementedError

    def learn_preprocessing(self, data):
        """Set self.preprocessing (JSON-able) from the training data; nothing by default."""

    def _learn_standardization(self, values):
        mean, scale = standardization(values)
        self.preprocessing = {"mean": mean.tolist(), "scale": scale.tolist()}

    def _standardized(self, values):
        return (values - np.array(self.preprocessing["mean"])) / np.array(self.preprocessing["scale"])

    def fit(self, train, val, progress=False, checkpoints=None):
        """Train the ensemble; with a ``checkpoints`` folder, each member's training state is
        kept there and a rerun after a kill resumes from it."""
        self.learn_preprocessing(train)
        tensors = [self._tensors(data) for data in (train, val)]
        networks, self.history = [], []
        for member in range(self.ensemble):
            config = replace(self.train, seed=seeds.integer("training", self.train.seed, "member", member))
            seed_everything(config.seed)  # the initial weights and the adversary too
            network = self.network()
            loss = classification_loss(self.decorrelation, train["mass"][train["y"] == 0])
            checkpoint = None if checkpoints is None else Path(checkpoints) / f"member{member}.pt"
            self.history.append(fit(network, loss, *tensors, config, progress=progress, checkpoint=checkpoint, name=f"{type(self).__name__} (network {member + 1} of {self.ensemble})"))
            networks.append(network)
        self.module = nn.ModuleList(networks)
        return self

    def _tensors(self, data):
        return (self.inputs(data), *(torch.as_tensor(data[k], dtype=torch.float32) for k in ("y", "w", "mass")))

    @torch.no_grad()
    def _member_scores(self, data, batch_size):
        """(ensemble, n) float64 tensor: each network's probability of every event (the sigmoid
        in double precision: in float32 every logit above about 17 gives exactly 1, a tie), on
        the training's device; the networks stay on the CPU."""
        run_on = device(self.train.device)
        self.module.eval().to(run_on)
        x = self.inputs(data)
        try:
            return torch.cat([torch.stack([torch.sigmoid(net(x[i : i + batch_size].to(run_on)).double()).cpu() for net in self.module]) for i in range(0, len(x), batch_size)], dim=1)
        finally:
            self.module.cpu()

    def predict(self, data, batch_size=4096):
        """Signal probability of every jet (the ensemble's mean)."""
        return self._member_scores(data, batch_size).mean(0).numpy().astype(np.float64)

    def predict_members(self, data, batch_size=4096):
        """(ensemble, n): the signal probability of every jet by each network of the ensemble."""
        return self._member_scores(data, batch_size).numpy().astype(np.float64)

    def save(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "model.pt") as tmp:
            torch.save(self.module.state_dict(), tmp)
        hyper = {k: v for k, v in asdict(self).items() if k != "history"}
        write_model_json(folder, self.kind, hyper, preprocessing=self.preprocessing)

    @classmethod
    def load(cls, folder):
        folder = Path(folder)
        saved = read_model_json(folder, cls.kind, weights="model.pt")
        model = cls(**saved["hyper"])
        model.preprocessing = saved["preprocessing"]
        model.module = nn.ModuleList([model.network() for _ in range(model.ensemble)])
        model.module.load_state_dict(torch.load(folder / "model.pt", weights_only=True, map_location="cpu"))
        return model


@dataclass
class MLPClassifier(TorchClassifier):
    """MLP on the standardized high-level features ``X``."""

    hidden: tuple = (64, 64)

    kind = "mlp"

    def __post_init__(self):
        super().__post_init__()
        self.hidden = tuple(self.hidden)

    def learn_preprocessing(self, data):
        self._learn_standardization(data["X"])

    def network(self):
        return MLP(len(self.preprocessing["mean"]), self.hidden)

    def inputs(self, data):
        return torch.as_tensor(self._standardized(data["X"]), dtype=torch.float32)


@dataclass
class PFNClassifier(TorchClassifier):
    """Particle (or Energy, ``energy_flow``) Flow Network on the ``max_particles`` hardest constituents."""

    phi: tuple = (64, 64, 64)
    f: tuple = (64, 64)
    energy_flow: bool = False
    max_particles: int = 50

    kind = "pfn"
    needs_constituents = True

    def __post_init__(self):
        super().__post_init__()
        self.phi, self.f = tuple(self.phi), tuple(self.f)

    def network(self):
        return ParticleFlowNetwork(self.phi, self.f, self.energy_flow)

    def _particles(self, data):
        """Momentum fractions z and the (log z, deta, dphi) features of the kept constituents."""
        constituents = data["constituents"][:, : self.max_particles].astype(np.float64)
        z = constituents[..., :1]
        features = np.concatenate([np.log(np.where(z > 0, z, 1.0)), constituents[..., 1:]], axis=-1)
        return z, features

    def learn_preprocessing(self, data):
        z, features = self._particles(data)
        self._learn_standardization(features[z[..., 0] > 0])

    def inputs(self, data):
        z, features = self._particles(data)
        standardized = np.where(z > 0, self._standardized(features), 0.0)
        return torch.as_tensor(np.concatenate([z, standardized], axis=-1), dtype=torch.float32)


@dataclass
class BDTClassifier:
    """xgboost gradient-boosted trees (native API), early stopping on the validation loss."""

    n_estimators: int = 300
    max_depth: int = 4
    learning_rate: float = 0.1
    early_stopping_rounds: int = 20
    seed: int = 0

    kind = "bdt"
    needs_constituents = False

    def __post_init__(self):
        self.booster = None

    def fit(self, train, val, progress=False, checkpoints=None):
        """Boost with early stopping (fast: ``checkpoints`` is accepted and not used)."""
        params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "seed": self.seed,
            "nthread": 1,
        }
        self.booster = xgboost.train(
            params,
            xgboost.DMatrix(train["X"], label=train["y"], weight=train["w"]),
            num_boost_round=self.n_estimators,
            evals=[(xgboost.DMatrix(val["X"], label=val["y"], weight=val["w"]), "val")],
            early_stopping_rounds=self.early_stopping_rounds,
            verbose_eval=progress,
        )
        return self

    def predict(self, data):
        """Signal probability of every jet (rows of data["X"]), the logistic function taken in
        double precision: xgboost's float32 probabilities round confident jets to exactly 1."""
        margin = self.booster.predict(xgboost.DMatrix(data["X"]), iteration_range=(0, self.booster.best_iteration + 1), output_margin=True)
        return expit(margin.astype(np.float64))

    def save(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "booster.json") as tmp:
            tmp.write_bytes(bytes(self.booster.save_raw(raw_format="json")))
        write_model_json(folder, self.kind, asdict(self))

    @classmethod
    def load(cls, folder):
        model = cls(**read_model_json(folder, cls.kind, weights="booster.json")["hyper"])
        model.booster = xgboost.Booster(model_file=str(Path(folder) / "booster.json"))
        return model


# tagger kind (a key of taggers.models in config) -> estimator class and fixed arguments
MODELS = {
    "bdt": (BDTClassifier, {}),
    "mlp": (MLPClassifier, {}),
    "pfn": (PFNClassifier, {}),
    "efn": (PFNClassifier, {"energy_flow": True}),
    "disco": (MLPClassifier, {}),
    "adversarial": (MLPClassifier, {}),
    "mode": (MLPClassifier, {}),
}


def make_model(kind, hyper, seed):
    """The estimator of tagger ``kind`` with hyper-parameters from config, seeded by ``seed``
    unless the hyper-parameters give their own seed."""
    cls, fixed = MODELS[kind]
    hyper = {**fixed, **hyper}
    if cls is BDTClassifier:
        hyper.setdefault("seed", seed)
    else:
        # the adversarial loss moves with the adversary: no early stopping on it unless asked
        defaults = {"seed": seed, "early_stopping": kind != "adversarial"}
        hyper["train"] = {**defaults, **hyper.get("train", {})}
    return cls(**hyper)


def load_model(folder):
    """A saved tagger, of the class its model.json names."""
    kind = read_model_json(folder)["kind"]
    classes = {cls.kind: cls for cls in (BDTClassifier, MLPClassifier, PFNClassifier)}
    if kind not in classes:
        raise BadInputFile(f"{folder}/model.json: a saved {kind!r} model, not a tagger ({', '.join(classes)})")
    return classes[kind].load(folder)
