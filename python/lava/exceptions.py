"""The original's module name for :class:`LavaError` (``from lava.exceptions import LavaError``)."""

from lava.errors import LavaError

__all__ = ["LavaError"]
