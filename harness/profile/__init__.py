"""`./memgate profile`: allocation-site profiling of a scenario run (docs/PROFILING.md).

command.py is what the CLI calls; run.py runs a scenario under a profiler backend
(backend.py: heaptrack.py, jemalloc_prof.py); sites.py trims stacks to sites; against.py finds
the baseline. The numbers (rankings, diff, growth trees) are analysis/profile.py's and the
rendering analysis/render/profile.py's and profile_html.py's.
"""
