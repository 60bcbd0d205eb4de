"""Validation toy with exact densities: a Gaussian signal on an exponential background, with a jet energy scale."""

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from mlhep import seeds
from mlhep.checks import check_features
from mlhep.errors import InvalidConfig, InvalidInput
from mlhep.nsbi.likelihood import NSBILikelihood, Process

__all__ = ["GaussianOnExponential", "PROCESSES"]

PROCESSES = ("signal", "background")

# extra dimensions, unaffected by the energy scale: x2 Gaussian widths, x3 exponential rates
_WIDTH = {"signal": 1.0, "background": 1.5}
_RATE = {"signal": 1.5, "background": 1.0}


@dataclass(frozen=True)
class GaussianOnExponential:
    """Events with up to three features and an exactly known likelihood.

    x1, the "mass": signal Gaussian (``mass``, ``width``), background exponential (``slope``),
    both multiplied by the energy scale k(alpha) = 1 + ``jes`` * alpha and kept above
    ``threshold``, so that alpha changes the shapes and, through the cut, the yields. x2:
    Gaussian of width 1 (signal) or 1.5 (background); x3: exponential of rate 1.5 (signal) or 1
    (background). The features are independent given the process.

    Attributes:
        signal_yield, background_yield: expected events before the cut (signal at mu = 1).
    """

    signal_yield: float = 300.0
    background_yield: float = 3000.0
    mass: float = 2.0
    width: float = 0.25
    slope: float = 1.0
    threshold: float = 0.5
    jes: float = 0.05
    dims: int = 2

    def __post_init__(self):
        if self.dims not in (1, 2, 3):
            raise InvalidConfig(f"toy dims {self.dims}: choose 1, 2 or 3")
        if not 0 <= self.jes < 0.5:
            raise InvalidConfig(f"toy jes {self.jes}: must lie in [0, 0.5)")

    def _scale(self, alpha):
        scale = 1 + self.jes * alpha
        if scale <= 0:
            raise InvalidInput(f"alpha {alpha}: the energy scale 1 + {self.jes} * alpha must stay positive")
        return scale

    @staticmethod
    def _check_process(process):
        if process not in PROCESSES:
            raise InvalidInput(f"unknown toy process {process!r}; choose from {PROCESSES}")

    def _log_efficiency(self, process, alpha):
        k = self._scale(alpha)
        if process == "signal":
            return log_ndtr((k * self.mass - self.threshold) / (k * self.width))
        return -self.slope * self.threshold / k

    def expected(self, process, alpha=0.0, mu=1.0):
        """Expected events of ``process`` after the cut (the signal times ``mu``)."""
        self._check_process(process)
        total = mu * self.signal_yield if process == "signal" else self.background_yield
        return total * np.exp(self._log_efficiency(process, alpha))

    def log_density(self, X, process, alpha=0.0):
        """Exact log p(x | process, alpha), normalized above the cut (-inf below it)."""
        self._check_process(process)
        X = check_features(X)
        if X.shape[1] != self.dims:
            raise InvalidInput(f"toy events need {self.dims} features, got {X.shape[1]}")
        k = self._scale(alpha)
        x1 = X[:, 0]
        if process == "signal":
            z = (x1 - k * self.mass) / (k * self.width)
            out = -0.5 * z**2 - np.log(k * self.width * np.sqrt(2 * np.pi))
        else:
            out = np.log(self.slope / k) - self.slope * x1 / k
        out = np.where(x1 > self.threshold, out - self._log_efficiency(process, alpha), -np.inf)
        if self.dims >= 2:
            out = out - 0.5 * (X[:, 1] / _WIDTH[process]) ** 2 - np.log(_WIDTH[process] * np.sqrt(2 * np.pi))
        if self.dims >= 3:
            x3 = X[:, 2]
            out = out + np.where(x3 >= 0, np.log(_RATE[process]) - _RATE[process] * x3, -np.inf)
        return out

    def log_ratio(self, X, numerator, denominator):
        """Exact log p_num(x) / p_den(x); each side is (process, alpha)."""
        return self.log_density(X, *numerator) - self.log_density(X, *denominator)

    def sample(self, process, n, alpha=0.0, seed=0):
        """``n`` events of ``process`` after the cut, from the "toys" stream of (seed, process).
        The same seed draws the same underlying events at every alpha, as a varied simulation
        rescales the same events.

        Returns:
            (n, dims) array.
        """
        self._check_process(process)
        k = self._scale(alpha)
        rng = seeds.generator("toys", seed, process)
        chunks, kept = [], 0
        while kept < n:
            m = 2 * n + 100
            if process == "signal":
                x1 = rng.normal(self.mass, self.width, m)
            else:
                x1 = rng.exponential(1 / self.slope, m)
            extra = [rng.normal(0, _WIDTH[process], m), rng.exponential(1 / _RATE[process], m)]
            events = np.column_stack([k * x1, *extra[: self.dims - 1]])
            events = events[events[:, 0] > self.threshold]
            chunks.append(events)
            kept += len(events)
        return np.concatenate(chunks)[:n]

    def pseudo_data(self, mu=1.0, alpha=0.0, seed=0, asimov_events=None):
        """Pseudo-data: Poisson numbers of events of each process, or, with ``asimov_events``,
        that many events split between the processes in proportion to their yields and weighted
        to the expected total (an Asimov-like sample: only the shapes fluctuate).

        Returns:
            (X, w): events and their weights.
        """
        rng = seeds.generator("toys", seed, "pseudo_data")
        yields = [self.expected(p, alpha, mu) for p in PROCESSES]
        if asimov_events is None:
            counts = [rng.poisson(nu) for nu in yields]
        else:
            counts = np.round(asimov_events * np.array(yields) / sum(yields)).astype(int)
        X = np.concatenate([self.sample(p, c, alpha, int(rng.integers(2**63))) for p, c in zip(PROCESSES, counts)])
        w = np.full(len(X), 1.0 if asimov_events is None else sum(yields) / len(X))
        return X, w

    def reference_log_ratios(self, X):
        """Exact {process: log p_process / p_ref} with p_ref the balanced mixture of the nominal
        signal and background densities."""
        log_s, log_b = self.log_density(X, "signal"), self.log_density(X, "background")
        log_ref = np.logaddexp(log_s, log_b) - np.log(2)
        return {"signal": log_s - log_ref, "background": log_b - log_ref}

    def exact_processes(self, X, mc_events=None, seed=0):
        """Processes of NSBILikelihood on events ``X`` with the exact ratios: to the reference
        (the balanced nominal mixture), of the +-1 sigma energy scale to the nominal, and the
        exact yield factors; with ``mc_events``, that many nominal events per process
        renormalize the interpolated shapes.

        Returns:
            list of Process.
        """
        to_reference = self.reference_log_ratios(X)
        processes = []
        for p in PROCESSES:
            shape = {"jes": tuple(self.log_ratio(X, (p, a), (p, 0.0)) for a in (1.0, -1.0))}
            norm = {"jes": tuple(self.expected(p, a) / self.expected(p) for a in (1.0, -1.0))}
            mc_shape = None
            if mc_events:
                mc = self.sample(p, mc_events, seed=seed)
                mc_shape = {"jes": tuple(self.log_ratio(mc, (p, a), (p, 0.0)) for a in (1.0, -1.0))}
            processes.append(Process(p, self.expected(p), to_reference[p], shape, norm, p == "signal", mc_shape))
        return processes

    def exact_likelihood(self, X, weight=None, mc_events=None, seed=0):
        """NSBILikelihood of events ``X`` with the exact ratios plugged in (see exact_processes)."""
        return NSBILikelihood(self.exact_processes(X, mc_events, seed), weight)
