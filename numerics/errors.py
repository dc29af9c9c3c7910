"""Exceptions shared by the solvers."""


class ConvergenceError(RuntimeError):
    """A solver did not reach its tolerance; the message says which and why."""
