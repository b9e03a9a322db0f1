"""The frame path of the torch backends (``cuda``, ``trt``): a source frame's own planes go to the device
once, are converted to the model's RGB there, and the model's output goes back to the clip's format there.

``resample`` reproduces core.resize's chroma filters, ``colour`` the conversions between the clip's
format and RGB, ``path`` the copies and CUDA streams around them. Every module imports torch: only the
torch backends import them, so ``import vs_dvd`` stays light. The same code runs on the CPU device, which
is how the tests check it against core.resize.
"""
