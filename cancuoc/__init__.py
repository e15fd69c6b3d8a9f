"""Cancuoc: the console script and the workspace settings shared by every package."""
__version__ = "0.1.0"
