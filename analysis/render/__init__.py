"""Renderers for analysis data: table (plain text)."""
