"""Simulated mice whose sessions are written as real Allen Brain Observatory NWB 1.x files."""
