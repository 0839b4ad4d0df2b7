"""Experiments: grids from TOML files, presets (the five notebooks with their own semantics,
the best recipes), runs over seeds, results.csv, results.md and their figures.

At the edge: imports the core and ``show``; the CLI's ``experiment`` command drives it.
"""
