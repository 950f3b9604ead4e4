"""Allen Brain Observatory sessions to ViV1T clips: building, statistics and serving."""
