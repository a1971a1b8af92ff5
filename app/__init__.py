"""liveness: which government accounts are dead."""

__version__ = "0.1.0"
