"""``bareprop playground``: a live training page on the user's own machine.

``settings`` (the page's controls), ``data`` and ``trainer`` (``fit``'s step, one at a time),
``views`` (what the page draws), ``session`` (the training thread and its frames) import
NumPy and bareprop only; ``server`` needs the ``playground`` extra (Starlette, uvicorn).
"""
