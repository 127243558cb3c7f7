"""C++ function names as profilers report them, shortened for tables and labels: the one place
that knows their shape (`void memgate::f<a<b>>(x<y>&) const`)."""

from __future__ import annotations

from analysis.units import cut

# Plain text (tables, report.md, the console) and HTML (report.html, icicle labels) spell the cut differently.
TEXT = ("<...>", "...")
HTML = ("<\u2026>", "\u2026")


def collapse_templates(name: str, marker: str = TEXT[0]) -> str:
    """C++ template arguments collapsed to one marker: `f<a<b>, c>(x<y>)` -> `f<...>(x<...>)`."""
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            if depth == 0:
                out.append(marker)
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def bare_name(func: str) -> str:
    """The qualified name without a leading return type ("void memgate::f<...>(...)" -> "memgate::f")."""
    head = func.split("(", 1)[0].split("<", 1)[0].strip()
    return head.split()[-1] if head else ""


def short_name(func: str, limit: int, style: tuple[str, str] = TEXT) -> str:
    """The whole signature, template arguments collapsed, cut to `limit` characters."""
    marker, ellipsis = style
    return cut(collapse_templates(func, marker), limit, ellipsis)


def brief_name(func: str, limit: int | None = None, style: tuple[str, str] = TEXT) -> str:
    """A caller's name: no parameters, template arguments collapsed, no return type; cut to `limit`."""
    head = func.split("(", 1)[0]
    parts = (collapse_templates(head, style[0]) if limit is None else short_name(head, limit, style)).split()
    return parts[-1] if parts else func
