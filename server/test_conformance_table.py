"""docs/CONFORMANCE.md is what the conformance tests say it is."""
from server import conformance_table


def test_conformance_doc_matches_the_tests():
    assert conformance_table.DOC.read_text() == conformance_table.render(), (
        "docs/CONFORMANCE.md is stale: run /usr/bin/python3 -m server.conformance_table --write")


def test_every_suite_has_cases():
    for suite in conformance_table.SUITES:
        assert conformance_table.suite_rows(suite), suite.folder
