"""The package's error."""


class LavaError(Exception):
    """Something lava refused or could not do; the message says what and why."""
