"""memgate's result files: their schema and version, atomic writing, reading with a schema check,
the matrix index and merging. The bottom layer: imports nothing of memgate's."""
