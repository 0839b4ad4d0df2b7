"""What a person sees: the progress display, figures (matplotlib), report.html, run folders,
and turning image files into MNIST-like inputs (Pillow).

At the edge: imports the core; matplotlib and Pillow are imported where they are used.
"""
