"""The 8x8 handwritten digits that scikit-learn ships (no download): real images for the diffusion
experiments (docs/theory.md section 7, paper section 4.3).

``load_digits`` of scikit-learn holds 1797 images of 64 pixels with integer values 0..16 (the UCI
"optical recognition of handwritten digits" test set). memdyn scales every pixel to
``pixel / 16 * 2 - 1``, i.e. to [-1, 1] with 0 -> -1 (white background) and 16 -> +1 (full ink),
the range DDPM-style diffusion models use: a fixed affine map, so distances and the memorization
ratio test are those of the raw pixels up to the common factor 1/8.

``--data digits`` takes every class; ``--data digits:3`` or ``digits:0,1,7`` only those classes.
scikit-learn is the optional extra ``memdyn[data]``; without it the data set raises one line
(:class:`analysis.InputError`).
"""

from __future__ import annotations

import functools

import numpy as np

from analysis._errors import InputError

__all__ = ["DIGITS_NAME", "IMAGE_SHAPE", "digit_classes", "is_digits", "load_digit_images"]

DIGITS_NAME = "digits"
IMAGE_SHAPE = (8, 8)
MISSING_SKLEARN = "--data digits needs scikit-learn: pip install 'memdyn[data]'"


def is_digits(name) -> bool:
    """True for ``digits`` and ``digits:CLASSES`` (the names :func:`load_digit_images` reads)."""
    return isinstance(name, str) and (name == DIGITS_NAME or name.startswith(DIGITS_NAME + ":"))


def digit_classes(name: str) -> tuple[int, ...]:
    """The classes a data name asks for: ``digits`` -> 0..9, ``digits:0,3`` -> (0, 3).

    >>> digit_classes("digits:7,1,7")
    (1, 7)
    """
    if name == DIGITS_NAME:
        return tuple(range(10))
    spec = name.split(":", 1)[1]
    try:
        classes = sorted({int(c) for c in spec.split(",") if c.strip()})
    except ValueError:
        classes = []
    if not classes or not all(0 <= c <= 9 for c in classes):
        raise InputError(f"--data {name!r}: expected digits:D or digits:D,D,... with classes 0..9")
    return tuple(classes)


@functools.lru_cache(maxsize=1)
def _raw_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InputError(MISSING_SKLEARN) from None
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=float), np.asarray(bunch.target, dtype=int)


def load_digit_images(name: str = DIGITS_NAME, *, return_labels: bool = False):
    """The digit images of ``name`` as rows of 64 pixels scaled to [-1, 1] (``pixel / 16 * 2 - 1``).

    Parameters
    ----------
    name : ``digits`` (1797 images, all classes) or ``digits:D,D,...`` (those classes only).
    return_labels : also return the class of each row.

    Raises
    ------
    analysis.InputError : scikit-learn is not installed, or a malformed class list.

    Example
    -------
    >>> x = load_digit_images("digits:0")
    >>> x.shape, float(x.min()), float(x.max())
    ((178, 64), -1.0, 1.0)
    """
    classes = digit_classes(name)
    pixels, labels = _raw_digits()
    keep = np.isin(labels, classes)
    images = pixels[keep] / 16.0 * 2.0 - 1.0
    return (images, labels[keep].copy()) if return_labels else images
