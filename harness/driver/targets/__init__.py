"""What a run measures: refserver (the default), a command memgate starts, or a server it attaches to.

base.py is the interface the runner's phases call; kinds.py picks the implementation from a
scenario's [target] table (spec.py validates it).
"""
