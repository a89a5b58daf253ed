"""Detectors: (scenario, response) -> findings."""
