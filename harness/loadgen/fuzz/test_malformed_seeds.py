"""The loadgen fuzz corpus's malformed_* files are what malformed_seeds.py builds, and it has a
seed for every malformed case loadgen's end-to-end test holds it to (rerun
server/fuzz/gen_corpus.py after changing either)."""
import re
from pathlib import Path

import malformed_seeds

ROOT = Path(__file__).resolve().parents[3]
END_TO_END = ROOT / "harness" / "loadgen" / "runner_malformed_test.cpp"


def end_to_end_cases(test_name: str) -> set[str]:
    """The case names in the `cases[]` table of TEST(Malformed, test_name)."""
    source = END_TO_END.read_text()
    body = source.split(f"TEST(Malformed, {test_name})", 1)[1].split("\nTEST(", 1)[0]
    table = body.split("cases[] = {", 1)[1].split("\n  };", 1)[0]
    return set(re.findall(r'^\s*\{"([^"]+)",', table, re.MULTILINE))


def test_corpus_files_match_the_seed_definitions():
    on_disk = {p.name: p.read_bytes() for p in (ROOT / malformed_seeds.CORPUS).glob("malformed_*")}
    files = malformed_seeds.files()
    assert sorted(on_disk) == sorted(files), "run server/fuzz/gen_corpus.py"
    for name, data in files.items():
        assert on_disk[name] == data, f"{name} is stale: run server/fuzz/gen_corpus.py"


def test_every_end_to_end_malformed_case_has_its_seed():
    h1 = end_to_end_cases("H1ResponsesTheParserRefuses")
    h2 = end_to_end_cases("H2ResponsesNghttp2Refuses")
    assert len(h1) >= 7 and len(h2) >= 5  # the tables were found
    assert {seed.case for seed in malformed_seeds.H1.values()} == h1
    assert {seed.case for seed in malformed_seeds.H2.values()} == h2


def test_http2_seeds_say_so_in_their_control_byte():
    assert all(not seed.control & malformed_seeds.HTTP2 for seed in malformed_seeds.H1.values())
    assert all(seed.control & malformed_seeds.HTTP2 for seed in malformed_seeds.H2.values())
