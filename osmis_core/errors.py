"""Errors that are the user's to fix: the CLI prints their message (one sentence) and exits with code 2."""


class OsmisError(Exception):
    """A problem with the user's input, files or settings; the message names the file and the problem."""


class DataError(OsmisError):
    """Training data (image, mask, frames, video) cannot be used."""


class ConfigError(OsmisError):
    """A configuration value or file is invalid."""


class CheckpointError(OsmisError):
    """A run folder or checkpoint cannot be used."""
