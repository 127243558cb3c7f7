"""RFC 7541 decoding errors: each is a connection error COMPRESSION_ERROR (RFC 9113 4.3)."""
import pytest

from h2_checks import assert_connection_error
from harness.abuse.wire import COMPRESSION_ERROR, END_HEADERS, END_STREAM, HEADERS, raw_frame

from server.conformance_table import case

# :method GET, :scheme http, :path /, from the static table (RFC 7541 appendix A).
VALID_START = b"\x82\x86\x84"
AUTHORITY = b"\x41\x09127.0.0.1"  # :authority, literal with incremental indexing, indexed name

BAD_BLOCKS = {
    # 6.1: index 0 is not used.
    "index_0": VALID_START + b"\x80",
    # 2.3.3: an index past the static and (empty) dynamic table.
    "index_past_table": VALID_START + b"\xc6",
    # 5.1: an integer that does not fit (a decoder must reject overflow).
    "integer_overflow": VALID_START + b"\xff" + b"\xff" * 10 + b"\x7f",
    # 6.3: a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE (4096) is a decoding error.
    "table_size_above_setting": b"\x3f\xe2\x1f" + VALID_START + AUTHORITY,
    # 4.2: a dynamic table size update must come first in the field block.
    "table_size_update_after_field": VALID_START + b"\x20" + AUTHORITY,
    # 5.2: a Huffman string containing EOS.
    "huffman_eos": VALID_START + b"\x40\x84\xff\xff\xff\xff\x01v",
    # 5.2: Huffman padding that is not the EOS prefix (all ones).
    "huffman_bad_padding": VALID_START + b"\x40\x81\x00\x01v",
    # 5.2: a string longer than the field block.
    "string_past_block": VALID_START + b"\x40\x0aabc",
}


@pytest.mark.parametrize("name", sorted(BAD_BLOCKS))
@case("RFC 7541 2.3.3", "a field block with a decoding error (bad index, integer overflow, misplaced or oversized "
      "table size update, bad Huffman or truncated string) is a connection error COMPRESSION_ERROR")
def test_field_block_decoding_error(client, name):
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, 1, BAD_BLOCKS[name]))
    assert_connection_error(client, COMPRESSION_ERROR)


@case("RFC 7541 4.2", "a dynamic table size update at the start of a field block, within the setting, is accepted")
def test_table_size_update_within_setting(client):
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, 1, b"\x3f\xe1\x1f" + VALID_START[:2] + b"\x44\x08/healthz"
                          + AUTHORITY))
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200 and o.goaway is None, o.describe()
