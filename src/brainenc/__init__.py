"""brainenc: brain encoding of mouse V1 responses to natural movies with ViV1T."""

__version__ = "0.1.0"
