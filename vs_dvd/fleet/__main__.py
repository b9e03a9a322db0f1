"""``python -m vs_dvd.fleet SCRIPT.vpy OUT ...``: the same as ``vs-dvd render SCRIPT.vpy OUT ...``."""
import sys

from ..cli import main

sys.exit(main(["render", *sys.argv[1:]]))
