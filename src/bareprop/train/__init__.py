"""Training: ``fit`` / ``evaluate`` / ``predict``, the textbook epoch (``train_epoch``), the
doctor, where a run is (``FitState``), checkpoints and resume, the run config, one run from a
config, run manifests, and the progress bar ``fit(verbose=1)`` shows (rich, imported only
then).

Core: imports nn, optim, data, files and the fast path; never show, check, lab or cli.
"""
