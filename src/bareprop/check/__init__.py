"""Proof tools: gradient checking by central differences, the one-batch trace, and PyTorch
twins of every layer for side-by-side comparison.

At the edge: imports the core (nn, optim, train); torch is imported only where it is used.
"""
