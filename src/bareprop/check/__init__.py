"""Checking bareprop against PyTorch: twins of its layers with the same weights.

An edge package: the caller imports torch and passes the module in; ``import bareprop``
never loads it.
"""
