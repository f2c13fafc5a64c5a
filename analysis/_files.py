"""Model files (TOML) and the built-in model catalogue (the file format: README, "The model file")."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from ._domain_checks import check_domain
from ._errors import InputError, ModelError
from ._model import Model
from ._model_builder import model
from ._parse import exact_number, quote

MAX_FILE_BYTES = 1_000_000
"""Largest model file read (bytes); each expression in it is also limited (analysis._parse.MAX_EXPRESSION_CHARS)."""
_KNOWN_TOP = {"name", "description", "variables", "parameters", "loss", "drift", "noise", "domain", "timescales"}


def builtin_models() -> dict[str, str]:
    """Built-in model names -> one-line descriptions.

    Examples
    --------
    >>> "hwang" in builtin_models()
    True
    """
    out = {}
    for entry in sorted(resources.files("analysis").joinpath("models").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            out[entry.name[:-5]] = str(data.get("description", data.get("name", "")))
    return out


def _read_source(source: str | Path) -> tuple[str, str]:
    text_path = Path(source)
    if text_path.suffix == ".toml" or text_path.exists():
        if not text_path.is_file():
            raise InputError(f"model file not found: {source}")
        size = text_path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelError(f"model file {text_path} is {size} bytes long; the limit is {MAX_FILE_BYTES}")
        try:
            return text_path.read_text(encoding="utf-8"), str(text_path)
        except UnicodeDecodeError:
            raise ModelError(f"model file {text_path} is not UTF-8 text") from None
    name = str(source)
    res = resources.files("analysis").joinpath("models", f"{name}.toml")
    if not res.is_file():
        known = ", ".join(builtin_models())
        raise InputError(f"no model file or built-in model named {name!r} (built-in: {known})")
    return res.read_text(encoding="utf-8"), name


def model_from_dict(data: Mapping, *, origin: str = "model") -> Model:
    """Build a model from the parsed TOML structure (the public file contract).

    Parameters
    ----------
    data : mapping
        The tables of a model file (``tomllib.loads`` of it).
    origin : str
        Where the data came from, for the messages.

    Raises
    ------
    ModelError
        for any invalid part, with a one-line message naming it.

    Examples
    --------
    >>> m = model_from_dict({"variables": ["x"], "loss": {"expr": "x**2/2"}, "noise": {"covariance": "1"}})
    >>> m.drift
    Matrix([[-x]])
    """
    unknown = set(data) - _KNOWN_TOP
    if unknown:
        raise ModelError(f"unknown top-level key {sorted(unknown)[0]!r} in {origin}")
    if "variables" not in data:
        raise ModelError(f"{origin} has no 'variables' list")
    variables = data["variables"]
    if isinstance(variables, str) or not isinstance(variables, list) or not variables:
        raise ModelError("'variables' must be a non-empty list of names")
    loss = data.get("loss")
    drift = data.get("drift")
    noise = data.get("noise")
    if noise is None:
        raise ModelError(f"{origin} has no [noise] table")
    if not isinstance(noise, Mapping):
        raise ModelError("[noise] must be a table")
    kind = noise.get("kind", "gaussian")
    if kind not in ("gaussian", "minibatch"):
        raise ModelError(f"[noise] kind must be 'gaussian' or 'minibatch', got {kind!r}")
    for key, section in (("loss", loss), ("drift", drift)):
        if section is not None and (not isinstance(section, Mapping) or "expr" not in section):
            raise ModelError(f"[{key}] must be a table with an 'expr' key")
    if kind == "minibatch":
        if "samples" not in noise:
            raise ModelError("minibatch noise needs samples = [...] in [noise] (the per-sample losses)")
        if drift is not None:
            raise ModelError("minibatch noise is defined by per-sample losses; it cannot be used with [drift]")
        if "covariance" in noise:
            raise ModelError("minibatch noise takes no covariance: it follows from the samples")
    else:
        if loss is not None and drift is not None:
            raise ModelError("give exactly one of [loss] and [drift], not both")
        if loss is None and drift is None:
            raise ModelError("give exactly one of [loss] and [drift]: neither is present")
        if "samples" in noise:
            raise ModelError("[noise] samples requires kind = 'minibatch'")
        if "covariance" not in noise:
            raise ModelError("gaussian noise needs covariance = ... in [noise]")
    domain = data.get("domain", {})
    ts = data.get("timescales")
    if ts is not None and not isinstance(ts, Mapping):
        raise ModelError("[timescales] must be a table")
    params = data.get("parameters", {})
    if not isinstance(params, Mapping):
        raise ModelError("[parameters] must be a table of NAME = value")
    for key, value in params.items():  # NaN, inf, a non-number: named here, before the model is built
        exact_number(value, name=str(key))
    _check_bounds(domain)
    return model(
        name=str(data.get("name", origin)),
        description=str(data.get("description", "")),
        variables=variables,
        parameters=params,
        loss=None if loss is None else loss["expr"],
        drift=None if drift is None else drift["expr"],
        covariance=noise.get("covariance") if kind == "gaussian" else None,
        samples=noise.get("samples") if kind == "minibatch" else None,
        batch=noise.get("batch", 1),
        bounds=domain.get("bounds") if isinstance(domain, Mapping) else None,
        slow=None if ts is None else ts.get("slow"),
        epsilon=None if ts is None else ts.get("epsilon"),
        mechanism=None if ts is None else ts.get("mechanism"),
    )


def _check_bounds(domain) -> None:
    """[domain] bounds: finite numbers (an infinite box has no grid to check or search)."""
    import math

    if not isinstance(domain, Mapping) or not isinstance(domain.get("bounds"), list):
        return
    for pair in domain["bounds"]:
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, (int, float)) for t in pair):
            if not all(math.isfinite(t) for t in pair):
                raise ModelError(f"[domain] bounds must be finite numbers, got {pair}")


def load_model(source: str | Path, overrides: Mapping[str, object] | None = None) -> Model:
    """Load a model from a TOML file path or a built-in name, applying ``--set`` overrides.

    Parameters
    ----------
    source : str or Path
        A ``.toml`` file, or the name of a built-in model (:func:`builtin_models`).
    overrides : mapping, optional
        Parameter values to change (NAME -> value; exact: "0.1" means 1/10).

    Raises
    ------
    InputError
        when there is no such file or built-in model, or an override names an unknown parameter.
    ModelError
        when the file is not a valid model, or an override is not a finite real number.

    Warns
    -----
    ModelWarning
        when the loss or covariance is singular at a point of the domain (``analysis._domain_checks``).

    Examples
    --------
    >>> from analysis import load_model
    >>> load_model("maier-stein", {"beta": 4}).parameter_values
    {beta: 4}
    """
    text, origin = _read_source(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"malformed TOML in {origin}: {str(exc)[:120]}") from None
    m = model_from_dict(data, origin=origin)
    for key, value in (overrides or {}).items():
        exact_number(value, name=str(key))  # --set a=nan: named before it reaches the model
    if overrides:  # model() checked the file's values; new parameter values need the check again
        m = m.with_parameters(**overrides)
        check_domain(m)
    return m


def parse_assignments(items) -> dict[str, str]:
    """``["beta=4", "eps=0.01"]`` -> ``{"beta": "4", "eps": "0.01"}`` (for ``--set``).

    Examples
    --------
    >>> parse_assignments(["beta=4", "eps = 0.01"])
    {'beta': '4', 'eps': '0.01'}
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--set expects NAME=VALUE, got {quote(item)}")
        key, val = item.split("=", 1)
        out[key.strip()] = val.strip()
    return out
