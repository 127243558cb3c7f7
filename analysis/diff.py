"""One baseline/candidate diff: the rows that `memgate compare` (render/table.py), `memgate report`
(render/markdown.py, render/html.py) and `memgate twin` render.

A view is a list of column keys: a description of the run (DESCRIPTIONS) or a metric's
column in the registry (analysis/metrics.py). side() is one result's row in a view,
change() the candidate minus the baseline for each metric column.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from analysis.metrics import BY_COLUMN


def _config(result: dict[str, Any]) -> dict[str, Any]:
    return result.get("config") or {}


def target_label(cfg: dict[str, Any]) -> str | None:
    """What a target other than refserver is (a command's program, an attached pid); None for refserver,
    whose allocator and strategy say what ran."""
    target = cfg.get("target") or {"kind": "refserver"}
    if target["kind"] == "command":
        return f"command {os.path.basename(target['argv'][0])}"
    if target["kind"] == "attach":
        return f"attach pid {target['pid']}" if target.get("pid") is not None else f"attach pidfile {target['pidfile']}"
    return None


def _allocator(result: dict[str, Any]) -> str | None:
    """The allocator the target's /mem names; refserver's from its config when /mem did not say."""
    named = (result.get("allocator") or {}).get("name")
    return named or (_config(result).get("allocator") if target_label(_config(result)) is None else None)


def _strategy(result: dict[str, Any]) -> str:
    cfg = _config(result)
    return target_label(cfg) or f"copy={cfg.get('copy', '?')}, body={cfg.get('request_body', '?')}"


def _per_protocol(result: dict[str, Any]) -> str:
    served = (result.get("metrics") or {}).get("server_requests") or {}
    return f"{served.get('h1', 0):g}/{served.get('h2', 0):g}" if served else "n/a"


# column key -> (header, value from a result): what ran, as text.
DESCRIPTIONS: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "scenario": ("Scenario", lambda r: (r.get("scenario") or {}).get("name")),
    "protocol": ("Protocol", lambda r: _config(r).get("protocol")),
    "allocator": ("Allocator", _allocator),
    "strategy": ("Strategy", _strategy),
    "per_protocol": ("h1/h2", _per_protocol),
}


def columns(view: list[str]) -> list[tuple[str, str, str]]:
    """(key, header, kind) per column; kind says how a cell renders (analysis.units.format_cell)."""
    out = []
    for key in view:
        if key in DESCRIPTIONS:
            out.append((key, DESCRIPTIONS[key][0], "text"))
        else:
            m = BY_COLUMN[key]
            out.append((key, m.header, m.kind))
    return out


def sources(view: list[str]) -> list[tuple[str, list[str]]]:
    """Where a view's metric columns come from (the registry's source), as (source, headers) in first-seen order."""
    grouped: dict[str, list[str]] = {}
    for key in view:
        if key in BY_COLUMN:
            grouped.setdefault(BY_COLUMN[key].source, []).append(BY_COLUMN[key].header)
    return list(grouped.items())


def sources_line(groups: list[tuple[str, list[str]]]) -> str:
    """The sources as one sentence, for every renderer: "/mem: Live heap Δ, RSS Δ; loadgen: req/s"."""
    return "; ".join(f"{source}: {', '.join(headers)}" for source, headers in groups)


def has_any(result: dict[str, Any] | None, view: list[str]) -> bool:
    """Whether a result holds a number for any metric column of the view."""
    return any(v is not None for k, v in side(result, view).items() if k in BY_COLUMN)


def metric_names(view: list[str]) -> list[str]:
    """The registry names of a view's metric columns."""
    return [BY_COLUMN[key].name for key in view if key in BY_COLUMN]


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def side(result: dict[str, Any] | None, view: list[str]) -> dict[str, Any]:
    """One result's row: descriptions as text, metrics as numbers (None when missing); {} without a result."""
    if not result:
        return {}
    m = result.get("metrics") or {}
    return {key: DESCRIPTIONS[key][1](result) if key in DESCRIPTIONS else _number(m.get(BY_COLUMN[key].name))
            for key in view}


def change(base: dict[str, Any], cand: dict[str, Any], view: list[str]) -> dict[str, Any]:
    """Candidate minus baseline per metric column (None unless both are numbers)."""
    out: dict[str, Any] = {}
    for key in view:
        if key in BY_COLUMN:
            b, c = base.get(key), cand.get(key)
            out[key] = c - b if isinstance(b, (int, float)) and isinstance(c, (int, float)) else None
    return out
