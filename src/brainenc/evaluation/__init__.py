"""Metrics, the trial-average baseline and run comparison reports."""
