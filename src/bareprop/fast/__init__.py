"""The fast path: the same maths as the layers, arranged for speed (NumPy only).

``fit`` and ``predict`` opt into it; tests prove it equal to the readable layers. Nothing in
the core imports this package.
"""
