"""Training: ``fit`` / ``evaluate`` / ``predict``, the doctor, where a run is (``FitState``),
checkpoints and resume, the run config, one run from a config, and run manifests.

Core: imports nn, optim, data, files and the fast path; never show, check, lab or cli.
"""
