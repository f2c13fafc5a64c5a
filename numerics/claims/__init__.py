"""The catalogue of the paper's claims as executable checks (``memdyn verify``).

Adding a claim is one small module in this package defining a :class:`Claim` subclass
decorated with :func:`register`; :func:`catalogue` discovers the modules. Public names are
listed in ``__init__.pyi`` and load on first use.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
