"""The memgate driver: runs scenarios against refserver, samples memory, writes result JSON."""

SCHEMA_VERSION = 1
VERSION = "0.1.0"
