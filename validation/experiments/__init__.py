"""Experiments that train the NumPy transformer (each a function; CLI in grokphase.cli)."""
