"""python3 -m repy6 [--stack CONFIG] RESTRICTIONS PROGRAM [ARGS...]: runs a Repy V2 program."""

import sys

from .runner import main

sys.exit(main())
