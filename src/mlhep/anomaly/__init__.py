"""Weakly supervised resonant anomaly detection: conditional density estimation of the background
(CATHODE, arXiv:2109.00546) and the figures of merit of a bump hunt (arXiv:1902.02634)."""

from mlhep.anomaly.flow import ConditionalFlow, nll_loss
from mlhep.anomaly.metrics import max_sic, sic_curve
from mlhep.anomaly.preprocessing import LogitScaler

__all__ = ["ConditionalFlow", "LogitScaler", "max_sic", "nll_loss", "sic_curve"]
