"""Unfolding: OmniFold (unbinned, classifier based) and iterative Bayesian unfolding (binned), with their metrics."""

from mlhep.unfold.ibu import Response, ibu, ibu_bootstrap, response_matrix
from mlhep.unfold.metrics import bootstrap_weights, normalized_histogram, triangular_discriminator
from mlhep.unfold.omnifold import OmniFoldResult, omnifold

__all__ = [
    "OmniFoldResult",
    "Response",
    "bootstrap_weights",
    "ibu",
    "ibu_bootstrap",
    "normalized_histogram",
    "omnifold",
    "response_matrix",
    "triangular_discriminator",
]
