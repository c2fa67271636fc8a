"""`python -m nnrecipe ...`: the command line, when the `nnrecipe` script is not on PATH."""

import sys

from .cli import main

sys.exit(main())
