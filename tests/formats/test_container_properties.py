"""Properties of both container versions on generated members: whatever a writer is given reads
back the same, and no damage to a member makes it yield other bytes."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

import nacrith
from nacrith.errors import NacrithError
from nacrith.formats.baselines import BASELINES, thaw
from nacrith.formats.container import iter_members, verify_chunk, write_member

codec_ids = st.sampled_from(["stored", "zstd", "llm", "fib", "mine", "x-y_2"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
# parameters: a baseline's, a baseline's with a few keys changed or removed, or anything
baseline_params = st.sampled_from(BASELINES).map(lambda entry: thaw(entry[1]))
changed = st.tuples(baseline_params, st.dictionaries(st.text(max_size=6), json_values, max_size=3))
params = st.one_of(
    baseline_params,
    changed.map(lambda pair: {**pair[0], **pair[1]}),
    baseline_params.map(lambda p: dict(list(p.items())[1:])),
    st.dictionaries(st.text(max_size=6), json_values, max_size=4),
)
chunks = st.lists(st.tuples(codec_ids, st.binary(max_size=40), st.binary(max_size=40)), max_size=4)


@given(
    st.dictionaries(codec_ids, params, max_size=3),
    chunks,
    st.booleans(),
    st.sampled_from([(1, False), (2, False), (2, True)]),
)
def test_members_read_back_what_was_written(header, chunk_list, size_known, form) -> None:
    version, long_range = form
    total = sum(len(raw) for _cid, raw, _payload in chunk_list)
    out = io.BytesIO()
    write_member(
        out,
        header,
        chunk_list,
        total if size_known else None,
        long_range=long_range,
        version=version,
    )
    (member,) = list(_members(out.getvalue(), header, chunk_list))
    assert member == (version, long_range, total if size_known else None)


def _members(archive: bytes, header, chunk_list):
    for member in iter_members(io.BytesIO(archive)):
        assert member.codec_params == header
        read = []
        for record in member.chunks:
            read.append((record.codec_id, record.read_payload()))
            raw = chunk_list[len(read) - 1][1]
            verify_chunk(record, raw)
            member.reader.account(raw)
        assert read == [(cid, payload) for cid, _raw, payload in chunk_list]
        member.reader.finish()
        yield member.reader.version, member.long_range, member.reader.original_size


@given(
    st.lists(st.binary(min_size=1, max_size=30), max_size=3),
    st.data(),
    st.sampled_from([1, 2]),
)
def test_no_damage_yields_other_bytes(parts, data, version) -> None:
    out = io.BytesIO()
    content = b"".join(parts)
    write_member(out, {}, [("stored", p, p) for p in parts], len(content), version=version)
    archive = bytearray(out.getvalue())
    kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    pos = data.draw(st.integers(0, len(archive) - 1))
    if kind == "flip":
        archive[pos] ^= data.draw(st.integers(1, 255))
    elif kind == "cut":
        del archive[pos : pos + data.draw(st.integers(1, 8))]
    else:
        archive[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        got = nacrith.decompress(bytes(archive))
    except NacrithError:
        return
    assert got == content
