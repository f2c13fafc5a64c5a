"""Numba code generation for the SGD recursion of a model (THEORY.md section 0).

The whole per-chain loop -- step sizes, drift, noise, divergence test and the observables
-- is generated as Python source from the model's sympy expressions and compiled by numba
(``parallel=True``: ``prange`` over chains). Nothing is hand-written per model. Parameters
stay symbols in the generated code and are passed at run time (array ``P``), so ``--set``
and the step size never trigger a recompilation.

Random numbers: counter-based SplitMix64, documented and implemented in :mod:`numerics.sgd._rng`;
its numba source is pasted into every kernel, and ``chain_keys``, ``uniforms_np``, ``normals_np``
stay importable from here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from analysis._errors import ModelError
from analysis._lambdify import _MathPrinter

# the generator lives in _rng; re-exported because _markov, _simulate and the tests import it from here
from numerics.sgd._rng import GAMMA, MASK, RNG_SOURCE, chain_keys, mix64_np, normals_np, uniforms_np  # noqa: F401


# ---------------------------------------------------------------- code generation
@dataclass(frozen=True)
class KernelPlan:
    """What was generated: the source, its hash and how to feed it at run time."""

    source: str
    digest: str
    noise: str            # "const" | "iso" | "full" | "minibatch"
    params: tuple         # parameter symbols in the order of the run-time array P
    label_mode: str       # "table" | "nearest" | "none"
    joint: bool
    slow: tuple           # bool per variable: uses the slow step size


def _printer(names: dict):
    pr = _MathPrinter({"fully_qualified_modules": True, "standard": "python3"})
    return lambda e: pr.doprint(sp.sympify(e).xreplace(names))


def _assignments(targets, exprs, names, indent):
    """CSE'd scalar assignments ``target = expr`` for generated code."""
    pr = _printer(names)
    reps, reduced = sp.cse([sp.sympify(e).xreplace(names) for e in exprs],
                           symbols=sp.numbered_symbols("t_"))
    pad = " " * indent
    lines = [f"{pad}{s} = {pr(v)}" for s, v in reps]
    lines += [f"{pad}{t} = {pr(e)}" for t, e in zip(targets, reduced)]
    return lines


def _model_params(model):
    params = [s for s, _ in model.parameters]
    eps = model.epsilon
    allowed = set(model.variables) | set(params)
    return params, allowed, eps


def generate(model, *, label_mode: str, joint: bool) -> KernelPlan:
    """Generate the chunk kernel of ``model`` (see :func:`run_chunk signature` in the source)."""
    from analysis._noise import GaussianNoise

    d = model.dim
    params, allowed, _ = _model_params(model)
    xs = [sp.Symbol(f"x{i}") for i in range(d)]
    ps = [sp.Symbol(f"p{j}") for j in range(len(params))]
    names = dict(zip(model.variables, xs)) | dict(zip(params, ps))

    def check(exprs, where):
        free = set().union(*(sp.sympify(e).free_symbols for e in exprs)) - allowed
        if free:
            raise ModelError(f"{where} depends on {', '.join(sorted(map(str, free)))} without a value "
                             "(give it one in [parameters] or with --set NAME=VALUE)")

    slow = tuple(v in set(model.timescales.slow) for v in model.variables) if model.timescales else (False,) * d
    body = []  # inner step body, indentation 12 (inside chain loop and step loop)
    I = 12
    pad = " " * I
    body.append(f"{pad}af = eta_f if alf == 0.0 else eta_f / (1.0 + k / n0f) ** alf")
    if any(slow):
        body.append(f"{pad}as_ = eta_s if als == 0.0 else eta_s / (1.0 + k / n0s) ** als")
    step = ["as_" if s else "af" for s in slow]

    if isinstance(model.noise, GaussianNoise):
        if model.drift_expr is not None:
            drift = list(model.drift_expr)
        else:
            drift = [-sp.diff(model.loss_expr, v) for v in model.variables]
        cov = sp.Matrix(model.noise.covariance)
        check(drift, "[drift]")
        check(list(cov), "[noise] covariance")
        const = not (cov.free_symbols & set(model.variables))
        iso = d == 1 or model.noise.is_isotropic
        kind = "const" if const else ("iso" if iso else "full")
        targets = [f"b{i}" for i in range(d)]
        exprs = list(drift)
        if kind == "iso":
            targets.append("sv")
            exprs.append(cov[0, 0])
        elif kind == "full":
            for i in range(d):
                for j in range(i + 1):
                    targets.append(f"S{i}_{j}")
                    exprs.append(cov[i, j])
        body += _assignments(targets, exprs, names, I)
        # normals z0..z{d-1}: normal index j = k*d + i, pairs cached across components/steps
        for i in range(d):
            body += [f"{pad}j = k * {d} + {i}", f"{pad}pp = j >> 1",
                     f"{pad}if pp != cp:", f"{pad}    cp = pp", f"{pad}    nc, ns = _bm_pair(key, pp)",
                     f"{pad}z{i} = nc if (j & 1) == 0 else ns"]
        if kind == "const":
            for i in range(d):
                terms = " + ".join(f"L{i}_{kk} * z{kk}" for kk in range(i + 1))
                body.append(f"{pad}y{i} = x{i} + {step[i]} * (b{i} + {terms})")
        elif kind == "iso":
            body.append(f"{pad}sd = math.sqrt(sv) if sv > 0.0 else 0.0")
            for i in range(d):
                body.append(f"{pad}y{i} = x{i} + {step[i]} * (b{i} + sd * z{i})")
        else:  # in-kernel Cholesky, unrolled; zero pivots (semi-definite Sigma) give zero columns
            for j in range(d):
                s = " - ".join([f"S{j}_{j}"] + [f"C{j}_{kk} * C{j}_{kk}" for kk in range(j)])
                body += [f"{pad}qq = {s}", f"{pad}C{j}_{j} = math.sqrt(qq) if qq > 0.0 else 0.0"]
                for i in range(j + 1, d):
                    s = " - ".join([f"S{i}_{j}"] + [f"C{i}_{kk} * C{j}_{kk}" for kk in range(j)])
                    body.append(f"{pad}C{i}_{j} = ({s}) / C{j}_{j} if C{j}_{j} > 0.0 else 0.0")
            for i in range(d):
                terms = " + ".join(f"C{i}_{kk} * z{kk}" for kk in range(i + 1))
                body.append(f"{pad}y{i} = x{i} + {step[i]} * (b{i} + {terms})")
    else:  # minibatch: theta <- theta - a * mean of B uniformly drawn sample gradients
        kind = "minibatch"
        grads = [[sp.diff(s, v) for v in model.variables] for s in model.noise.samples]
        check([g for gr in grads for g in gr], "[noise] samples")
        B = int(model.noise.batch)
        M = len(grads)
        body += [f"{pad}g{i} = 0.0" for i in range(d)]
        body += [f"{pad}for bb in range({B}):",
                 f"{pad}    ii = int(_uniform(key, k * {B} + bb) * {M})",
                 f"{pad}    if ii >= {M}:", f"{pad}        ii = {M - 1}"]
        for s_idx, gr in enumerate(grads):
            if M == 1:
                head = "if True:"
            elif s_idx == 0:
                head = "if ii == 0:"
            elif s_idx < M - 1:
                head = f"elif ii == {s_idx}:"
            else:
                head = "else:"
            body.append(f"{pad}    {head}")
            lines = _assignments([f"h{i}" for i in range(d)], gr, names, I + 8)
            body += lines + [f"{pad}        g{i} += h{i}" for i in range(d)]
        for i in range(d):
            body.append(f"{pad}y{i} = x{i} - {step[i]} * g{i} * {1.0 / B!r}")

    src = _assemble(d, len(params), body, kind, label_mode, joint)
    digest = hashlib.sha256(src.encode()).hexdigest()[:20]
    return KernelPlan(src, digest, kind, tuple(params), label_mode, joint, slow)


def _assemble(d, npar, body, kind, label_mode, joint):
    X = [f"x{i}" for i in range(d)]
    L = ["def run_chunk(theta, alive, keys, k0, k1, burn, P, S, Lc, ctr, rad,",
         "              tlo, tsc, tshape, tlab, minima, hlo, hsc, hist, jsc, joint,",
         "              occ, batches, bstate, cur, ent, trans, exs, exs2, exn, dwh, dws,",
         "              dstep, dstate, traj, rec_every):",
         "    C = theta.shape[0]",
         "    eta_f = S[0]", "    n0f = S[1]", "    alf = S[2]", "    eta_s = S[3]", "    n0s = S[4]", "    als = S[5]",
         "    nbins = hist.shape[2]", "    fnb = float(nbins)", "    NB2 = batches.shape[1]", "    NB = NB2 // 2",
         "    ns_keep = dws.shape[2]", "    nm = minima.shape[0]"]
    L += [f"    p{j} = P[{j}]" for j in range(npar)]
    for i in range(d):
        L += [f"    ct{i} = ctr[{i}]", f"    rd{i} = rad[{i}]", f"    hl{i} = hlo[{i}]", f"    hs{i} = hsc[{i}]"]
    if kind == "const":
        L += [f"    L{i}_{k} = Lc[{i}, {k}]" for i in range(d) for k in range(i + 1)]
    if label_mode == "table":
        for i in range(d):
            L += [f"    tl{i} = tlo[{i}]", f"    ts{i} = tsc[{i}]", f"    tn{i} = tshape[{i}]", f"    ft{i} = float(tshape[{i}])"]
    if joint:
        L += ["    jn = joint.shape[1]", "    fjn = float(jn)", "    js0 = jsc[0]", "    js1 = jsc[1]"]
    L += ["    for c in prange(C):",
          "        if not alive[c]:", "            continue",
          "        key = keys[c]"]
    L += [f"        x{i} = theta[c, {i}]" for i in range(d)]
    L += ["        cp = -1", "        nc = 0.0", "        ns = 0.0",
          "        lc = cur[c]", "        e = ent[c]",
          "        bl = bstate[0]", "        bi = bstate[1]", "        bn = bstate[2]",
          "        r = k0 - burn if k0 > burn else 0",
          "        nxt = ((k0 // rec_every) + 1) * rec_every if rec_every > 0 else -1",
          "        for k in range(k0, k1):"]
    L += body
    ok = " and ".join(f"abs(y{i} - ct{i}) <= rd{i}" for i in range(d))
    L += [f"            if not ({ok}):",
          "                alive[c] = False", "                dstep[c] = k + 1"]
    L += [f"                dstate[c, {i}] = x{i}" for i in range(d)]
    L += ["                break"]
    L += [f"            x{i} = y{i}" for i in range(d)]
    L += ["            if k + 1 == nxt:", "                ri = nxt // rec_every - 1 - k0 // rec_every"]
    L += [f"                traj[ri, c, {i}] = x{i}" for i in range(d)]
    L += ["                nxt += rec_every",
          "            if k < burn:", "                continue"]
    # ---- observables of the state theta_{k+1}
    for i in range(d):
        L += [f"            u = (x{i} - hl{i}) * hs{i}", "            if u >= 0.0 and u < fnb:",
              f"                hist[c, {i}, int(u)] += 1"]
    if joint:
        L += ["            u = (x0 - hl0) * js0", "            w = (x1 - hl1) * js1",
              "            if u >= 0.0 and u < fjn and w >= 0.0 and w < fjn:",
              "                joint[c, int(u), int(w)] += 1"]
    if label_mode == "table":
        L.append("            lab = -1")
        ind = "            "
        flat = []
        for i in range(d):
            L += [f"{ind}v{i} = (x{i} - tl{i}) * ts{i}", f"{ind}if v{i} >= 0.0 and v{i} < ft{i}:"]
            ind += "    "
            flat.append(f"int(v{i})")
        idx = flat[0]
        for i in range(1, d):
            idx = f"({idx}) * tn{i} + {flat[i]}"
        L.append(f"{ind}lab = tlab[{idx}]")
    elif label_mode == "nearest":
        L += ["            lab = -1", "            best = 1e300", "            for mm in range(nm):",
              "                dd = " + " + ".join(f"(x{i} - minima[mm, {i}]) ** 2" for i in range(d)),
              "                if dd < best:", "                    best = dd", "                    lab = mm"]
    else:
        L.append("            lab = -1")
    L += ["            occ[c, lab + 1] += 1",
          "            batches[c, bi, lab + 1] += 1",
          "            r += 1",
          "            if r == bn:",
          "                bi += 1",
          "                bn += bl",
          "                if bi == NB2:",
          "                    for q in range(NB):",
          "                        for h in range(batches.shape[2]):",
          "                            batches[c, q, h] = batches[c, 2 * q, h] + batches[c, 2 * q + 1, h]",
          "                    for q in range(NB, NB2):",
          "                        for h in range(batches.shape[2]):",
          "                            batches[c, q, h] = 0",
          "                    bl *= 2",
          "                    bi = NB",
          "                    bn = r + bl",
          "            if lab >= 0 and lab != lc:",
          "                if lc >= 0:",
          "                    trans[c, lc, lab] += 1",
          "                    if e >= 0:",
          "                        dw = k + 1 - e",
          "                        exs[c, lc] += dw",
          "                        exs2[c, lc] += float(dw) * float(dw)",
          "                        if exn[c, lc] < ns_keep:",
          "                            dws[c, lc, exn[c, lc]] = dw",
          "                        exn[c, lc] += 1",
          "                        t = dw",
          "                        lb = 0",
          "                        while t > 1:",
          "                            t >>= 1",
          "                            lb += 1",
          "                        dwh[c, lc, lb] += 1",
          "                    e = k + 1",
          "                lc = lab"]
    L += [f"        theta[c, {i}] = x{i}" for i in range(d)]
    L += ["        cur[c] = lc", "        ent[c] = e"]
    header = ("# generated by numerics.sgd._kernels: SGD chunk kernel (do not edit)\n" + RNG_SOURCE +
              "\n\n@njit(parallel=True, cache=True)\n")
    return header + "\n".join(L) + "\n"


# ---------------------------------------------------------------- compilation cache
_MODULES: dict = {}


def _cache_dir() -> Path | None:
    base = os.environ.get("MEMDYN_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "memdyn")
    path = Path(base) / "kernels"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".probe"
        probe.write_text("")
        probe.unlink()
        return path
    except OSError:
        return None


def load(plan: KernelPlan):
    """The compiled module of a plan: in-process cache keyed by the source hash; on disk the
    source is a real file so that numba's ``cache=True`` keeps the machine code across runs."""
    mod = _MODULES.get(plan.digest)
    if mod is not None:
        return mod
    name = f"memdyn_kernel_{plan.digest}"
    where = _cache_dir()
    if where is not None:
        path = where / f"{name}.py"
        if not path.exists() or path.read_text() != plan.source:
            from numerics.report._files import write_atomic
            write_atomic(path, plan.source)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    else:  # read-only home: compile in memory (numba cannot cache exec'd code)
        import types
        mod = types.ModuleType(name)
        src = plan.source.replace("cache=True", "cache=False")
        exec(compile(src, f"<{name}>", "exec"), mod.__dict__)  # noqa: S102 - generated code
    _MODULES[plan.digest] = mod
    return mod


_RNG = None


def rng_module():
    """The generator alone (for tests of its moments and for documentation)."""
    global _RNG
    if _RNG is None:
        src = "# memdyn counter-based generator\n" + RNG_SOURCE
        digest = hashlib.sha256(src.encode()).hexdigest()[:20]
        _RNG = load(KernelPlan(src, "rng_" + digest, "", (), "none", False, ()))
    return _RNG
