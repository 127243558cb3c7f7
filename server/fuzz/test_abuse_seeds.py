"""Every attack class of the abuse suite has seed inputs in its fuzz target's corpus, and the
corpus files are what abuse_seeds.py builds now (rerun gen_corpus.py after changing an attack)."""
from pathlib import Path

import abuse_seeds
from harness.abuse import attacks

ROOT = Path(__file__).resolve().parents[2]


def test_every_attack_class_has_seeds_for_its_protocol():
    assert set(abuse_seeds.H2_CLASSES) | set(abuse_seeds.H1_CLASSES) == set(attacks.CASES)
    for name in attacks.CASES:
        h2 = attacks.CASES[name].__module__.endswith("h2_attacks")
        assert name in (abuse_seeds.H2_CLASSES if h2 else abuse_seeds.H1_CLASSES), name


def test_corpus_files_match_the_attack_definitions():
    for corpus, files in abuse_seeds.seeds().items():
        on_disk = {p.name: p.read_bytes() for p in (ROOT / corpus).glob("abuse-*")}
        assert sorted(on_disk) == sorted(files), f"{corpus}: run server/fuzz/gen_corpus.py"
        for name, data in files.items():
            assert on_disk[name] == data, f"{corpus}/{name} is stale: run server/fuzz/gen_corpus.py"
