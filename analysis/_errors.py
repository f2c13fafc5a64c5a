"""The one exception type users see: a one-line message that names the problem."""


class ModelError(ValueError):
    """A model (file or Python object) or a request about it is invalid.

    The message is a single line naming what is wrong, so the command line can
    print it as ``memdyn: error: <message>`` without a traceback.
    """


class SolverError(RuntimeError):
    """A numerical or symbolic procedure could not deliver a trustworthy answer."""
