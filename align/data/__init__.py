"""Gold data loading and validation, scenario generator, perturbations, pair building."""
