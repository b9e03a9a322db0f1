"""``python -m vs_dvd ...`` is the ``vs-dvd`` command."""
import sys

from .cli import main

sys.exit(main())
