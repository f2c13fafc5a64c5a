"""The chunk kernel around one SGD step: loops, divergence test and observables, as source.

``run_chunk(chains, run, first_step, last_step, batch_layout, trajectory)`` advances every live
chain from global step ``first_step`` to ``last_step`` (``prange`` over chains). ``chains`` is a
:data:`numerics.sgd._state.ChainArrays` (updated in place), ``run`` a
:class:`numerics.sgd._state.RunConstants`, ``batch_layout`` the (length, index, end) of the
current batch (:func:`numerics.sgd._result.batch_layout`) and ``trajectory`` the rows of
recorded states that fall in this chunk. After each step the kernel

1. stops a chain whose new state is outside the box (keeping its last finite state);
2. records the state every ``record_every`` steps;
3. after the burn-in: bins it in the histograms, labels it with its basin (grid table, nearest
   minimum or none), counts the label in the occupation and in the current batch (merging
   pairs of batches when all 2K are full), and on entering a new basin counts the transition
   and the exit time of the stay that ended.
"""

from __future__ import annotations

from numerics.sgd._state import ChainArrays

__all__ = ["chunk_source"]

# fields of RunConstants read whole (the others are unpacked per coordinate below)
_RUN_FIELDS = ("keys", "burn_in", "record_every", "minima", "table_labels")
_PER_CHAIN = 8  # indentation of the chain loop's body
_PER_STEP = 12  # indentation of the step loop's body


def _indent(lines, spaces):
    return [" " * spaces + line if line else line for line in lines]


def chunk_source(names, step: list[str], *, noise: str, label_mode: str, joint: bool) -> str:
    """The ``run_chunk`` function (without the random-number helpers it calls)."""
    d = len(names.state)
    lines = ["def run_chunk(chains, run, first_step, last_step, batch_layout, trajectory):"]
    lines += _indent(_prelude(names, noise, label_mode, joint), 4)
    lines += ["    for chain in prange(theta.shape[0]):", "        if not alive[chain]:", "            continue"]
    lines += _indent(_chain_start(names), _PER_CHAIN)
    lines.append("        for step in range(first_step, last_step):")
    lines += _indent(["# ---- the SGD step theta <- theta + a_n (b(theta) + zeta)"] + step, _PER_STEP)
    lines += _indent(_after_step(names, label_mode, joint), _PER_STEP)
    lines += _indent(
        ["# ---- the chain's state for the next chunk"]
        + [f"theta[chain, {i}] = {names.state[i]}" for i in range(d)]
        + ["current_basin[chain] = basin", "entry_step[chain] = entered"],
        _PER_CHAIN,
    )
    return "\n".join(lines) + "\n"


def _prelude(names, noise, label_mode, joint):
    d = len(names.state)
    sfx = names.suffixes
    out = [f"{field} = chains.{field}" for field in ChainArrays._fields]
    out += [f"{field} = run.{field}" for field in _RUN_FIELDS]
    if names.parameters:
        out.append("# model parameters: run-time values, so --set and eta never recompile")
        out += [f"{p} = run.parameters[{j}]" for j, p in enumerate(names.parameters)]
    out.append("# schedule: (eta, n0, alpha) of the fast variables, then of the slow ones")
    out += [
        f"{name} = run.schedule[{k}]"
        for k, name in enumerate(["eta_fast", "n0_fast", "alpha_fast", "eta_slow", "n0_slow", "alpha_slow"])
    ]
    if noise == "const":
        out.append("# Cholesky factor of the constant noise covariance")
        out += [f"chol_{sfx[i]}_{sfx[k]} = run.noise_cholesky[{i}, {k}]" for i in range(d) for k in range(i + 1)]
    out.append("# a chain diverges when a coordinate leaves centre +- radius; histogram bins per unit length")
    for i, s in enumerate(sfx):
        out += [
            f"centre_{s} = run.box_centre[{i}]",
            f"radius_{s} = run.divergence_radius[{i}]",
            f"hist_low_{s} = run.hist_low[{i}]",
            f"hist_scale_{s} = run.hist_scale[{i}]",
        ]
    out.append("hist_bins = float(histogram.shape[2])")
    if joint:
        out += [
            "joint_bins = float(joint_histogram.shape[1])",
            f"joint_scale_{sfx[0]} = run.joint_scale[0]",
            f"joint_scale_{sfx[1]} = run.joint_scale[1]",
        ]
    if label_mode == "table":
        out.append("# basin table: cell (coordinate - low) * scale, flat index in C order")
        for i, s in enumerate(sfx):
            out += [
                f"table_low_{s} = run.table_low[{i}]",
                f"table_scale_{s} = run.table_scale[{i}]",
                f"table_cells_{s} = run.table_shape[{i}]",
                f"table_cells_float_{s} = float(run.table_shape[{i}])",
            ]
    out += [
        "# batches: 2K slots; when all are full, pairs merge into K batches of twice the length",
        "batch_slots = batch_counts.shape[1]",
        "half_slots = batch_slots // 2",
        "dwell_keep = dwell_samples.shape[2]",
        "n_minima = minima.shape[0]",
    ]
    return out


def _chain_start(names):
    d = len(names.state)
    return (
        ["key = keys[chain]"]
        + [f"{names.state[i]} = theta[chain, {i}]" for i in range(d)]
        + [
            "# normals come in Box-Muller pairs: the pair last drawn is kept for its partner",
            "cached_pair = -1",
            "normal_cos = 0.0",
            "normal_sin = 0.0",
            "basin = current_basin[chain]",
            "entered = entry_step[chain]",
            "batch_length = batch_layout[0]",
            "batch = batch_layout[1]",
            "batch_end = batch_layout[2]",
            "recorded = first_step - burn_in if first_step > burn_in else 0",
            "next_record = ((first_step // record_every) + 1) * record_every if record_every > 0 else -1",
        ]
    )


def _after_step(names, label_mode, joint):
    d = len(names.state)
    state, sfx = names.state, names.suffixes
    inside = " and ".join(f"abs(new_{s} - centre_{s}) <= radius_{s}" for s in sfx)
    out = [
        "# ---- divergence: stop at the first state outside the box (a NaN fails the test too)",
        f"if not ({inside}):",
        "    alive[chain] = False",
        "    diverged_step[chain] = step + 1",
    ]
    out += [f"    diverged_state[chain, {i}] = {state[i]}" for i in range(d)]
    out.append("    break")
    out += [f"{state[i]} = new_{sfx[i]}" for i in range(d)]
    out += [
        "# ---- trajectory: the state every record_every steps",
        "if step + 1 == next_record:",
        "    row = next_record // record_every - 1 - first_step // record_every",
    ]
    out += [f"    trajectory[row, chain, {i}] = {state[i]}" for i in range(d)]
    out += [
        "    next_record += record_every",
        "# ---- observables of the new state, after the burn-in",
        "if step < burn_in:",
        "    continue",
    ]
    for i, s in enumerate(sfx):
        out += [
            f"bin_{s} = ({state[i]} - hist_low_{s}) * hist_scale_{s}",
            f"if bin_{s} >= 0.0 and bin_{s} < hist_bins:",
            f"    histogram[chain, {i}, int(bin_{s})] += 1",
        ]
    if joint:
        x, y = sfx
        out += [
            f"joint_{x} = ({state[0]} - hist_low_{x}) * joint_scale_{x}",
            f"joint_{y} = ({state[1]} - hist_low_{y}) * joint_scale_{y}",
            f"if joint_{x} >= 0.0 and joint_{x} < joint_bins and joint_{y} >= 0.0 and joint_{y} < joint_bins:",
            f"    joint_histogram[chain, int(joint_{x}), int(joint_{y})] += 1",
        ]
    out += _label_lines(names, label_mode)
    out += _count_lines()
    return out


def _label_lines(names, label_mode):
    state, sfx = names.state, names.suffixes
    if label_mode == "table":
        out = ["# basin label from the grid table (-1 outside the table)", "label = -1"]
        pad = ""
        for i, s in enumerate(sfx):
            out += [
                f"{pad}cell_{s} = ({state[i]} - table_low_{s}) * table_scale_{s}",
                f"{pad}if cell_{s} >= 0.0 and cell_{s} < table_cells_float_{s}:",
            ]
            pad += "    "
        flat = f"int(cell_{sfx[0]})"
        for s in sfx[1:]:
            flat = f"({flat}) * table_cells_{s} + int(cell_{s})"
        return out + [f"{pad}label = table_labels[{flat}]"]
    if label_mode == "nearest":
        distance = " + ".join(f"({state[i]} - minima[minimum, {i}]) ** 2" for i in range(len(state)))
        return [
            "# basin label: the nearest minimum",
            "label = -1",
            "best_distance = 1e300",
            "for minimum in range(n_minima):",
            f"    distance = {distance}",
            "    if distance < best_distance:",
            "        best_distance = distance",
            "        label = minimum",
        ]
    return ["label = -1  # no basins: every state counts as outside"]


def _count_lines():
    return [
        "# occupation and batch counts (column label + 1: column 0 is outside every basin)",
        "occupation[chain, label + 1] += 1",
        "batch_counts[chain, batch, label + 1] += 1",
        "recorded += 1",
        "if recorded == batch_end:",
        "    batch += 1",
        "    batch_end += batch_length",
        "    if batch == batch_slots:",
        "        for merged in range(half_slots):",
        "            for column in range(batch_counts.shape[2]):",
        "                batch_counts[chain, merged, column] = (batch_counts[chain, 2 * merged, column]",
        "                                                       + batch_counts[chain, 2 * merged + 1, column])",
        "        for emptied in range(half_slots, batch_slots):",
        "            for column in range(batch_counts.shape[2]):",
        "                batch_counts[chain, emptied, column] = 0",
        "        batch_length *= 2",
        "        batch = half_slots",
        "        batch_end = recorded + batch_length",
        "# entering a basin other than the last one: a transition, and the stay that ended is an exit",
        "# time (the first stay of a chain started at an arbitrary point: censored, not counted)",
        "if label >= 0 and label != basin:",
        "    if basin >= 0:",
        "        transitions[chain, basin, label] += 1",
        "        if entered >= 0:",
        "            dwell = step + 1 - entered",
        "            exit_time_sum[chain, basin] += dwell",
        "            exit_time_sum_sq[chain, basin] += float(dwell) * float(dwell)",
        "            if exit_count[chain, basin] < dwell_keep:",
        "                dwell_samples[chain, basin, exit_count[chain, basin]] = dwell",
        "            exit_count[chain, basin] += 1",
        "            remaining = dwell  # log2 bin: floor(log2(dwell))",
        "            log2_bin = 0",
        "            while remaining > 1:",
        "                remaining >>= 1",
        "                log2_bin += 1",
        "            dwell_histogram[chain, basin, log2_bin] += 1",
        "        entered = step + 1",
        "    basin = label",
    ]
