"""The command line's help: an example under each command's --help (argparse epilogs), and usage
errors in one line that say where to look."""

from __future__ import annotations

import argparse

# Keyed by the command's path below `memgate`; each is shown as it would be typed.
EXAMPLES: dict[str, list[str]] = {
    "": ["memgate run                                  # the default scenario, then a summary",
         "memgate gate before.json after.json          # exit 1 on a memory regression",
         "memgate COMMAND --help                       # each command's options and examples"],
    "run": ["memgate run                                  # scenarios/default.toml: GETs over h2c, then a summary",
            "memgate run myserver.toml -o before.json     # your server, as its scenario's [target] says",
            "memgate run --set copy=buffered --set requests=10000 --repeat 3 -o buffered.json"],
    "compare": ["memgate compare before.json after.json       # aligned table, a verdict per row"],
    "gate": ["memgate gate ci/baselines/default.json after.json   # exit 0 pass, 1 regression, 2 invalid input"],
    "scenarios": ["memgate scenarios check                      # every shipped scenario file"],
    "scenarios check": ["memgate scenarios check                      # every shipped scenario file",
                        "memgate scenarios check myserver.toml"],
    "matrix": ["memgate matrix scenarios/protocols.toml -o results/protocols             # again to resume",
               "memgate matrix scenarios/protocols.toml -o results/shard-1 --shard 1/4 --repeat 3"],
    "twin": ["memgate twin scenarios/failure-modes/*.toml --set requests=5000 -o results/twin"],
    "calibrate": ["memgate calibrate scenarios/default.toml --pairs 40   # writes ci/baselines/default.calibration.json",
                  "memgate calibrate myserver.toml --pairs 10 -o myserver.calibration.json   # no ladder: pairs only"],
    "merge": ["memgate merge results/shard-* -o results/all"],
    "report": ["memgate report results/base results/head -o report/   # report.md, report.html, report.json"],
    "profile": ["memgate profile --set copy=buffered --set endpoint=/bytes/262144 -o prof/",
                "memgate profile --set endpoint=/bytes/262144 --against origin/main -o prof/   # what grew"],
    "baseline": ["memgate baseline update scenarios/default.toml -o ci/baselines/default.json"],
    "baseline update": ["memgate baseline update scenarios/default.toml -o ci/baselines/default.json"],
    "abuse": ["memgate abuse --quick                        # every attack class, small counts",
              "memgate abuse --allocator jemalloc --case slowloris --json abuse.json"],
}


class CommandLine(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: the problem, then where the options and
    examples are (argparse's default repeats the whole usage first). Subcommands inherit it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def _commands(parser: argparse.ArgumentParser, path: str = ""):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}".strip())


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Puts EXAMPLES under the --help of the parser and of each of its (sub)commands."""
    for path, command in _commands(parser):
        lines = EXAMPLES.get(path)
        if lines:
            command.epilog = "example" + ("s" if len(lines) > 1 else "") + ":\n" + "\n".join("  " + x for x in lines)
            command.formatter_class = argparse.RawDescriptionHelpFormatter


def commands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """(path, parser) of the parser and every (sub)command: what a test walks to check each --help."""
    return list(_commands(parser))
