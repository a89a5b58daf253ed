"""Model loading, the embedded toy base model, SFT and DPO training."""
