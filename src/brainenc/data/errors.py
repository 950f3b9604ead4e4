"""Errors of dataset building and serving; each message names the file or setting and a fix."""

from __future__ import annotations


class ConfigError(ValueError):
    """A build setting is missing, unknown or out of range."""


class SessionFileError(ValueError):
    """An NWB session file cannot be used to build a dataset."""


class UnreadableSessionError(SessionFileError):
    """The file is missing, truncated or not HDF5."""


class WrongSessionTypeError(SessionFileError):
    """The session's type (``/general/session_type``) is not one the build accepts."""


class NoEyeTrackingError(SessionFileError):
    """The session has no pupil tracking and missing eye data were not allowed."""


class MissingTracesError(SessionFileError):
    """Corrected fluorescence cannot be computed (e.g. no demixed signal)."""


class IncompleteRepeatsError(SessionFileError):
    """A movie's stimulus table does not hold whole repeats of the movie in order."""


class MissingDataError(SessionFileError):
    """A neuron or channel has no finite value where one is needed."""


class ImplausibleDataError(SessionFileError):
    """An array of a session holds infinities or values outside its plausible range."""


class DatasetIntegrityError(RuntimeError):
    """A built dataset folder does not match its manifest."""


class DatasetExistsError(FileExistsError):
    """A dataset built with different settings is in the way."""


class DatasetWriteError(OSError):
    """Writing a dataset folder failed (e.g. the disk is full); nothing was left behind."""
