"""The fast path: the same numbers as :mod:`bareprop.nn` and :mod:`bareprop.optim`, sooner.

:mod:`~bareprop.fast.plan` runs a model's steps (fused Linear+ReLU, kept buffers),
:mod:`~bareprop.fast.flat` the optimiser over flat buffers, :mod:`~bareprop.fast.conv` and
:mod:`~bareprop.fast.pool` the image layers channels-last (im2col GEMMs, strided windows),
:mod:`~bareprop.fast.kernels` the optional numba loops, :mod:`~bareprop.fast.halves` a CNN's
batch as two halves on two cores. ``fit`` and ``predict`` opt in; ``tests/test_speed.py``,
``tests/test_cnn_layers.py``, ``tests/test_fast_images.py`` and ``tests/test_halves.py`` prove
each equal.
"""
