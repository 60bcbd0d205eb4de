"""Machine learning shared by every stage: data splits, the torch training loop, models, metrics."""
