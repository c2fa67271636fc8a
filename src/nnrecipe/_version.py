"""The package version, in a module of its own: modules that need it import it from here, not from
the package root (whose import pulls in every submodule)."""

__version__ = "0.1.0"
