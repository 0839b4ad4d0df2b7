"""What a person sees: figures (matplotlib), report.html, run folders, the graph drawn, and
turning image files into MNIST-like inputs (Pillow).

At the edge: imports the core; matplotlib and Pillow are imported where they are used.
"""
