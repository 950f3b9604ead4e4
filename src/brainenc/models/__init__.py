"""The ViV1T video transformer with per-mouse shifters and Gaussian readouts."""
