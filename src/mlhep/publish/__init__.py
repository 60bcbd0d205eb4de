"""Publication of a run's results in the formats the field reuses (HEPData)."""
