"""The report of a run: report.html (self-contained) and its figures; `plots` holds one function
per figure for anyone who wants a figure on its own."""

from . import plots
from .html import write_report

__all__ = ["plots", "write_report"]
