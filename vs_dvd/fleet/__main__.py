"""``python -m vs_dvd.fleet SCRIPT.vpy OUT ...``: the same as ``vs-dvd render SCRIPT.vpy OUT ...``."""
import sys

from . import main

sys.exit(main(sys.argv[1:]))
