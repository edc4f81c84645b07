"""The package's version (the lava build it comes with)."""

__version__ = "0.9.0"
__version_name__ = "lava (Rust)"
__version_num__ = tuple(int(p) for p in __version__.split("."))
