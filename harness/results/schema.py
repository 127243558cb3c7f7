"""What every memgate JSON file carries at its top: who wrote it and in which schema."""

TOOL = "memgate"
SCHEMA_VERSION = 1
VERSION = "0.1.0"  # memgate's own version, recorded in every result


def header_problem(data: object, what: str) -> str | None:
    """Why `data` is not a memgate file of this schema (None: it is); `what` names the kind of file."""
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        return f"not a memgate {what}"
    if data.get("schema_version") != SCHEMA_VERSION:
        return f"schema_version {data.get('schema_version')!r}, this memgate reads {SCHEMA_VERSION}"
    return None
