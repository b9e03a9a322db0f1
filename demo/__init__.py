"""The one-command demo: real footage, blurred the paper's way, deblurred by ``core.dvd.Deblur``.

``run.py`` is the entry point (``make demo``); the steps are one module each: ``sample`` fetches
the clip, ``training.data.handheld`` blurs it with ground truth, ``render`` runs ``vspipe | ffmpeg``,
``report`` scores and pictures the result. ``figure.py`` makes README's picture from a run.
"""
