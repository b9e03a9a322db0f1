"""The engine builder is ``vs_dvd.trt_build`` (a wheel installs nothing under the generic top-level name
``trt_build``, which a user's own package may hold); this folder keeps ``python -m trt_build`` working in a
checkout. Import ``vs_dvd.trt_build``."""
