"""The pure vocabulary read from the GGUF agrees with llama.cpp's on every token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nacrith.errors import ModelNotFoundError
from nacrith.models.llm.backend import LlamaVocab
from nacrith.models.llm.registry import pull
from nacrith.models.llm.vocab import GGUFVocab, gpt2_byte_decoder

MODELS = ("smollm2-135m", "gemma3-270m")


@pytest.fixture(scope="module", params=MODELS)
def both(request: pytest.FixtureRequest) -> Iterator[tuple[GGUFVocab, LlamaVocab]]:
    """(pure vocabulary, llama.cpp's vocabulary) of one registered model."""
    path = pull(request.param, quiet=True)
    llama = LlamaVocab(path)
    yield GGUFVocab(path), llama
    llama.close()


def test_same_size_and_bos(both: tuple[GGUFVocab, LlamaVocab]) -> None:
    pure, llama = both
    assert pure.n_vocab == llama.n_vocab
    assert pure.bos == llama.bos


def test_every_piece_is_llama_cpps(both: tuple[GGUFVocab, LlamaVocab]) -> None:
    pure, llama = both
    mine, theirs = pure.pieces(), llama.pieces()
    differ = [t for t in range(llama.n_vocab) if mine[t] != theirs[t]]
    assert differ == []
    assert pure.piece(pure.bos) == llama.piece(llama.bos)


def test_detokenize_random_sequences(both: tuple[GGUFVocab, LlamaVocab]) -> None:
    pure, llama = both
    rng = np.random.default_rng(19)
    for n in (0, 1, 7, 300):
        toks = rng.integers(0, pure.n_vocab, size=n, dtype=np.int32)
        assert pure.detokenize(toks) == llama.detokenize(toks)
        assert pure.detokenize(toks.tolist()) == llama.detokenize(toks)


def test_detokenize_round_trips_llama_cpps_tokens(both: tuple[GGUFVocab, LlamaVocab]) -> None:
    pure, llama = both
    text = "Grüße, 世界! tabs\tand  spaces\n\n x = [1, 22, 333] # ünïcödé €".encode()
    assert pure.detokenize(llama.tokenize(text)) == text


def test_gpt2_table_is_a_bijection_onto_bytes() -> None:
    table = gpt2_byte_decoder()
    assert sorted(table.values()) == list(range(256))
    assert table["Ġ"] == ord(" ") and table["!"] == ord("!")


def test_not_a_gguf_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelNotFoundError, match="cannot read the vocabulary"):
        GGUFVocab(bad)
    with pytest.raises(ModelNotFoundError, match="cannot read the vocabulary"):
        GGUFVocab(tmp_path / "missing.gguf")
