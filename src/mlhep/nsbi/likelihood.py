"""Extended unbinned likelihood of a signal strength with per-event nuisance interpolation."""

from dataclasses import dataclass, field

import numpy as np
from iminuit import Minuit
from scipy.stats import chi2

from mlhep.checks import check_weights
from mlhep.errors import InvalidInput, MlhepError

__all__ = ["Fit", "IntervalNotFound", "NSBILikelihood", "Process", "ProfileScan", "interpolate", "interval", "profile_interval"]

# -2 Delta lnL of the conventional 68 % (one sigma) and 95 % intervals of one parameter
THRESHOLDS = {0.68: 1.0, 0.95: 3.84}


class IntervalNotFound(MlhepError):
    """A profile scan does not cross the interval's threshold on both sides of its minimum."""


def _code4_matrix():
    """Rows: value, first and second derivative of sum_{i=1..6} a_i alpha^i at alpha = +1, -1."""
    powers = np.arange(1, 7)
    return np.array([row for at in (1.0, -1.0) for row in (at**powers, powers * at ** (powers - 1), powers * (powers - 1) * at ** (powers - 2))])


_CODE4_INVERSE = np.linalg.inv(_code4_matrix())


class _Interpolation:
    """Per-event code-4 interpolation of one nuisance, coefficients computed once."""

    def __init__(self, log_up, log_down):
        self.log_up, self.log_down = np.asarray(log_up, dtype=np.float64), np.asarray(log_down, dtype=np.float64)
        up, down = np.exp(self.log_up), np.exp(self.log_down)
        # the exponential branches up^alpha (alpha >= 1) and down^-alpha (alpha <= -1) and
        # their first two derivatives at +-1, which the polynomial must match
        targets = np.stack([up - 1, up * self.log_up, up * self.log_up**2, down - 1, -down * self.log_down, down * self.log_down**2])
        self.coefficients = _CODE4_INVERSE @ targets  # (6, events): a_1 ... a_6

    def log_factor(self, alpha):
        if alpha >= 1:
            return alpha * self.log_up
        if alpha <= -1:
            return -alpha * self.log_down
        value = np.zeros_like(self.log_up)
        for a in self.coefficients[::-1]:
            value = (value + a) * alpha
        # the polynomial stays positive for any sane variation; the floor only guards the log
        return np.log(np.maximum(1 + value, 1e-300))


def interpolate(alpha, up, down):
    """HistFactory interpolation code 4 (CERN-OPEN-2012-016; ROOT FlexibleInterpVar): the factor
    f(alpha) with f(0) = 1, f(+1) = up, f(-1) = down; up^alpha above +1, down^-alpha below -1
    and, inside, the 6th-order polynomial 1 + sum a_i alpha^i matching the value and the first
    two derivatives of the exponentials at +-1.

    Args:
        alpha: the nuisance parameter (a float).
        up, down: positive factors (scalars or arrays, e.g. per-event ratios p_up / p_nom).

    Returns:
        f(alpha), shaped like ``up``.
    """
    return np.exp(_Interpolation(np.log(np.atleast_1d(up)), np.log(np.atleast_1d(down))).log_factor(alpha)).reshape(np.shape(up))


@dataclass
class Process:
    """Per-event inputs of one process, precomputed outside the minimizer.

    Attributes:
        name: the process.
        expected: nominal expected yield nu (at mu = 1 for the signal).
        log_ratio: (events,) log p(x_i) / p_ref(x_i) of the nominal process on the data events.
        shape: {nuisance: (log p_up / p_nom, log p_down / p_nom)} on the data events, from
            classifiers of the +-1 sigma variation against the nominal (ATLAS, arXiv:2412.01600).
        norm: {nuisance: (kappa_up, kappa_down)}: yield factors at +-1 sigma.
        signal: the yield is multiplied by mu.
        mc_shape: optional {nuisance: (log r_up, log r_down)} on a nominal simulated sample of
            the process; when given, the interpolated shape is renormalized by its mean over that
            sample (the per-event interpolation between +-1 is not normalized by itself).
        mc_weight: weights of that sample (ones when None).
    """

    name: str
    expected: float
    log_ratio: np.ndarray
    shape: dict = field(default_factory=dict)
    norm: dict = field(default_factory=dict)
    signal: bool = False
    mc_shape: dict | None = None
    mc_weight: np.ndarray | None = None

    @classmethod
    def from_ratios(cls, name, expected, X, nominal, shape_ratios=None, norm=None, signal=False, mc=None, mc_weight=None):
        """A Process from trained ratios (anything with ``log_ratio(X)``, e.g. DensityRatio).

        Args:
            nominal: log p / p_ref on ``X``: an array, or an object with ``log_ratio``.
            shape_ratios: {nuisance: (up ratio, down ratio)}, each against the nominal process.
            mc: features of a nominal simulated sample of the process, to renormalize the shape.
        """
        log_ratio = nominal.log_ratio(X) if hasattr(nominal, "log_ratio") else np.asarray(nominal, dtype=np.float64)
        shape_ratios = shape_ratios or {}
        shape = {k: (up.log_ratio(X), down.log_ratio(X)) for k, (up, down) in shape_ratios.items()}
        mc_shape = None if mc is None else {k: (up.log_ratio(mc), down.log_ratio(mc)) for k, (up, down) in shape_ratios.items()}
        return cls(name, expected, log_ratio, shape, dict(norm or {}), signal, mc_shape, mc_weight)


@dataclass
class Fit:
    """A minimum of the NLL: mu, its HESSE error, the nuisance parameters, the NLL, MIGRAD's verdict."""

    mu: float
    mu_error: float
    alpha: dict
    nll: float
    valid: bool


@dataclass
class ProfileScan:
    """-2 Delta lnL(mu) profiled over the nuisance parameters, with the global best fit."""

    mu: np.ndarray
    q: np.ndarray
    alpha: np.ndarray  # (points, nuisances): the profiled values
    best: Fit


class NSBILikelihood:
    """Extended unbinned negative log-likelihood

        NLL(mu, alpha) = sum_p nu_p(alpha) - sum_i w_i log sum_p nu_p(alpha) p_p(x_i | alpha) / p_ref(x_i)
                         + sum_k alpha_k^2 / 2,

    with nu_p multiplied by mu for the signal processes, the per-event densities
    p_p(x | alpha) = p_p(x) prod_k f_pk(x, alpha_k) interpolated with code 4 between the
    +-1 sigma ratios and the yields likewise between the kappas (ATLAS NSBI, arXiv:2412.01600).
    The reference density p_ref cancels in likelihood ratios.

    Args:
        processes: list of Process, all on the same events.
        weight: per-event weights of the data (ones when None).
        mu_limits: limits of mu in the fits.
    """

    def __init__(self, processes, weight=None, mu_limits=(0.0, None)):
        if not processes:
            raise InvalidInput("no processes")
        n = len(np.asarray(processes[0].log_ratio))
        self.weight = check_weights(weight, n, "data weights")
        self.nuisances = sorted({k for p in processes for k in (*p.shape, *p.norm)})
        self.mu_limits = mu_limits
        self._terms = []
        for p in processes:
            log_ratio = np.asarray(p.log_ratio, dtype=np.float64)
            arrays = [log_ratio, *(a for pair in p.shape.values() for a in pair)]
            if any(np.shape(a) != (n,) for a in arrays):
                raise InvalidInput(f"process {p.name}: every per-event array needs shape ({n},)")
            if not all(np.all(np.isfinite(a)) for a in arrays):
                raise InvalidInput(f"process {p.name}: NaN or infinite per-event log-ratios")
            if p.expected <= 0 or any(min(kappa) <= 0 for kappa in p.norm.values()):
                raise InvalidInput(f"process {p.name}: yields and norm factors must be positive")
            shape = {k: _Interpolation(*p.shape[k]) for k in p.shape}
            mc = None
            if p.mc_shape is not None and p.shape:
                if set(p.mc_shape) != set(p.shape):
                    raise InvalidInput(f"process {p.name}: mc_shape needs the nuisances of shape, {sorted(p.shape)}")
                mc_arrays = [a for pair in p.mc_shape.values() for a in pair]
                mc_n = len(mc_arrays[0])
                if any(np.shape(a) != (mc_n,) for a in mc_arrays) or not all(np.all(np.isfinite(a)) for a in mc_arrays):
                    raise InvalidInput(f"process {p.name}: mc_shape needs finite arrays of one shape")
                mc = ({k: _Interpolation(*p.mc_shape[k]) for k in p.mc_shape}, check_weights(p.mc_weight, mc_n, f"{p.name} mc_weight"))
            norm = {k: _Interpolation(np.log([up]), np.log([down])) for k, (up, down) in p.norm.items()}
            self._terms.append((p.signal, p.expected, np.exp(log_ratio), shape, norm, mc))

    def nll(self, mu, alpha=()):
        """The NLL at signal strength ``mu`` and nuisance parameters ``alpha`` (in the order of
        ``self.nuisances``)."""
        alpha = dict(zip(self.nuisances, np.atleast_1d(np.asarray(alpha, dtype=np.float64))))
        total, density = 0.0, 0.0
        for signal, expected, ratio, shape, norm, mc in self._terms:
            nu = expected * (mu if signal else 1.0)
            for k, f in norm.items():
                nu *= np.exp(f.log_factor(alpha[k])[0])
            total += nu
            if shape:
                log_f = sum(f.log_factor(alpha[k]) for k, f in shape.items())
                scale = nu
                if mc is not None:
                    mc_log_f = sum(f.log_factor(alpha[k]) for k, f in mc[0].items())
                    scale /= np.average(np.exp(mc_log_f), weights=mc[1])
                density = density + scale * ratio * np.exp(log_f)
            else:
                density = density + nu * ratio
        if np.any(density <= 0):
            return 1e30  # only a negative mu gets here: rule it out for the minimizer
        return total - self.weight @ np.log(density) + 0.5 * sum(a * a for a in alpha.values())

    def _minuit(self, mu, alpha, fix_mu):
        start = np.array([mu, *alpha], dtype=np.float64)
        minuit = Minuit(lambda p: self.nll(p[0], p[1:]), start, name=("mu", *self.nuisances))
        minuit.errordef = Minuit.LIKELIHOOD
        minuit.limits["mu"] = self.mu_limits
        minuit.fixed["mu"] = fix_mu
        return minuit

    def fit(self, mu=1.0, alpha=None):
        """Global minimum with MIGRAD (errordef 0.5) and HESSE, from ``mu`` and ``alpha`` (zeros)."""
        alpha = np.zeros(len(self.nuisances)) if alpha is None else alpha
        minuit = self._minuit(mu, alpha, fix_mu=False)
        minuit.migrad()
        minuit.hesse()
        values = np.array(minuit.values)
        return Fit(float(values[0]), float(minuit.errors["mu"]), dict(zip(self.nuisances, values[1:].tolist())), float(minuit.fval), bool(minuit.valid))

    def profile(self, mu, alpha=None):
        """(min over alpha of the NLL at fixed ``mu``, the profiled alpha)."""
        alpha = np.zeros(len(self.nuisances)) if alpha is None else np.asarray(alpha, dtype=np.float64)
        if not self.nuisances:
            return self.nll(mu), alpha
        minuit = self._minuit(mu, alpha, fix_mu=True)
        minuit.migrad()
        return float(minuit.fval), np.array(minuit.values)[1:]

    def profile_scan(self, mu_values, best=None):
        """-2 Delta lnL at each of ``mu_values``, profiled over alpha, relative to the global
        minimum (``best``, fitted when None); each point starts from its neighbour's alpha.

        Returns:
            ProfileScan.
        """
        best = self.fit() if best is None else best
        mu_values = np.sort(np.asarray(mu_values, dtype=np.float64))
        values, alphas = [], []
        alpha = np.array([best.alpha[k] for k in self.nuisances])
        for mu in mu_values:
            value, alpha = self.profile(mu, alpha)
            values.append(value)
            alphas.append(alpha)
        values = np.array(values)
        # a scan point below the global fit (MIGRAD's tolerance) becomes the minimum
        lowest = min(best.nll, values.min())
        return ProfileScan(mu_values, 2 * (values - lowest), np.array(alphas).reshape(len(mu_values), -1), best)


def _threshold(level):
    return THRESHOLDS.get(level, float(chi2.ppf(level, 1)))


def interval(scan, level=0.68, lower_bound=None):
    """Interval of mu where -2 Delta lnL stays below the threshold of ``level`` (1.0 for 0.68,
    3.84 for 0.95, else the chi2 quantile of one degree of freedom), the crossings interpolated
    linearly in the signed root sign(mu - mu_hat) sqrt(-2 Delta lnL), which is linear in mu for
    a Gaussian likelihood.

    Args:
        scan: ProfileScan.
        level: confidence level.
        lower_bound: the physical lower limit of mu; a scan that starts there and stays below
            the threshold gives an interval that starts there.

    Returns:
        (low, high).

    Raises:
        IntervalNotFound: the scan stays below the threshold on one side (not at the bound).
    """
    threshold = np.sqrt(_threshold(level))
    # the signed root is monotone in mu, also across the minimum between two scan points
    t = np.sign(scan.mu - scan.best.mu) * np.sqrt(np.maximum(scan.q, 0))
    lowest = int(np.argmin(scan.q))
    ends = []
    for step in (-1, 1):
        i = lowest
        while 0 <= i + step < len(t) and abs(t[i + step]) < threshold:
            i += step
        if step < 0 and i == 0 and lower_bound is not None and scan.mu[0] <= lower_bound:
            ends.append(float(scan.mu[0]))
            continue
        if not 0 <= i + step < len(t):
            side = "below" if step < 0 else "above"
            raise IntervalNotFound(f"the profile scan does not reach -2 Delta lnL = {threshold**2:.3g} {side} mu = {scan.mu[lowest]:.4g}; widen it")
        j = i + step
        ends.append(scan.mu[i] + (step * threshold - t[i]) * (scan.mu[j] - scan.mu[i]) / (t[j] - t[i]))
    return float(ends[0]), float(ends[1])


def profile_interval(likelihood, level=0.68, points=25, span=None):
    """Global fit, a profile scan over mu_hat +- ``span`` (four HESSE errors, or enough for the
    level, when None) and the interval of ``level``.

    Returns:
        ((low, high), ProfileScan).
    """
    best = likelihood.fit()
    if span is None:
        span = max(4.0, 1.5 * np.sqrt(_threshold(level))) * best.mu_error
    low = best.mu - span if likelihood.mu_limits[0] is None else max(likelihood.mu_limits[0], best.mu - span)
    scan = likelihood.profile_scan(np.linspace(low, best.mu + span, points), best)
    return interval(scan, level, likelihood.mu_limits[0]), scan
