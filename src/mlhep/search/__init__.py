"""The tagged dijet resonance search: a stage joining a trained tagger, the processed columns and pyhf."""
