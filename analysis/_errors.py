"""memdyn's exceptions: one base, three kinds, each carrying a one-line message.

The message names the problem in one line, so the command line prints it as
``memdyn: error: <message>`` without a traceback. The CLI's exit codes (README, "Exit status"):

* :class:`ModelError` -- the model is wrong (file, expression, noise, domain): exit 2;
* :class:`InputError` -- a bad argument to a function or command (a step size <= 0, an unknown
  claim or method, a malformed option): exit 2;
* :class:`SolverError` -- a numerical or symbolic procedure could not deliver a trustworthy
  answer (no convergence, every chain diverged): exit 3.

All three derive from :class:`MemdynError`; ``ModelError`` and ``InputError`` are also
``ValueError`` and ``SolverError`` a ``RuntimeError``, so generic handlers keep working.

Example
-------
>>> try:
...     raise InputError("eta must be positive, got -1")
... except MemdynError as exc:
...     print(type(exc).__name__, exc.exit_code, exc)
InputError 2 eta must be positive, got -1
"""

__all__ = ["MemdynError", "ModelError", "InputError", "SolverError", "ModelWarning"]


class MemdynError(Exception):
    """Base of memdyn's errors; ``exit_code`` is what the command line exits with."""

    exit_code: int = 2


class ModelError(MemdynError, ValueError):
    """The model (file or Python object) is invalid or unsuitable for the request."""


class InputError(MemdynError, ValueError):
    """An argument is invalid (wrong range, unknown name, inconsistent options)."""


class SolverError(MemdynError, RuntimeError):
    """A numerical or symbolic procedure could not deliver a trustworthy answer."""

    exit_code = 3


class ModelWarning(UserWarning):
    """Something about the model that numerics should know but that does not stop it (a
    singularity inside the domain). The command line prints it as ``memdyn: warning: ...``."""
