"""``python -m trt_build`` in a checkout is ``python -m vs_dvd.trt_build``."""
import sys

from vs_dvd.trt_build.__main__ import main

sys.exit(main())
