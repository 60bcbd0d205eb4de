"""Torch networks: a fully connected network, and the Particle / Energy Flow Network on jet constituents."""

from torch import nn

__all__ = ["MLP", "ParticleFlowNetwork", "standardization"]


def standardization(values):
    """Per-feature (mean, scale) of network inputs (events x features), scale the standard
    deviation kept off zero: inputs are then (values - mean) / scale."""
    return values.mean(axis=0), values.std(axis=0) + 1e-12


def _layers(n_inputs, widths):
    layers = []
    for width in widths:
        layers += [nn.Linear(n_inputs, width), nn.ReLU()]
        n_inputs = width
    return layers


class MLP(nn.Module):
    """Fully connected network, ReLU between layers; one output (a logit) is returned as a 1-d tensor."""

    def __init__(self, n_inputs, hidden=(64, 64), n_outputs=1):
        super().__init__()
        self.net = nn.Sequential(*_layers(n_inputs, hidden), nn.Linear(hidden[-1] if hidden else n_inputs, n_outputs))
        self.n_outputs = n_outputs

    def forward(self, x):
        out = self.net(x)
        return out.squeeze(-1) if self.n_outputs == 1 else out


class ParticleFlowNetwork(nn.Module):
    """Deep Sets on jet constituents (Komiske, Metodiev, Thaler, arXiv:1810.05165).

    Input: (jets, particles, 4): the momentum fraction z, then the standardized log z, delta eta
    and delta phi to the jet axis; rows with z = 0 are padding. The PFN sums
    Phi(log z, deta, dphi) over particles; the Energy Flow Network (``energy_flow=True``) sums
    z * Phi(deta, dphi), which is infrared and collinear safe. F maps the sum to one logit.
    """

    def __init__(self, phi=(64, 64, 64), f=(64, 64), energy_flow=False):
        super().__init__()
        self.energy_flow = energy_flow
        self.phi = nn.Sequential(*_layers(2 if energy_flow else 3, phi))
        self.f = MLP(phi[-1], f)

    def forward(self, particles):
        z = particles[..., 0:1]
        if self.energy_flow:
            latent = (z * self.phi(particles[..., 2:])).sum(1)
        else:
            latent = ((z > 0) * self.phi(particles[..., 1:])).sum(1)
        return self.f(latent)
