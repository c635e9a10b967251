"""The pure tokenizer gives llama.cpp's token ids on the probe text and on real text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nacrith.codecs.llm_probe import PROBE_TEXT
from nacrith.errors import ModelNotFoundError
from nacrith.models.llm.backend import LlamaVocab
from nacrith.models.llm.registry import pull
from nacrith.models.llm.tokenizer import GGUFTokenizer
from nacrith.models.llm.vocab import GGUFVocab

CORPORA = Path(__file__).resolve().parents[3] / "corpora"
MODELS = ("smollm2-135m", "gemma3-270m")
UNICODE = (
    "Grüße, 世界! Привет мир. Ελληνικά, العربية, हिन्दी, 日本語のテキスト。 ½ ² Ⅷ ٣٤٥ e\u0301 "
    "👍🏽 tabs\t\tand   spaces\n\n\n  x=[1,22,333]\r\n it's I'M we'll <b>bold</b>\n"
).encode()


@pytest.fixture(scope="module", params=MODELS)
def both(request: pytest.FixtureRequest) -> Iterator[tuple[GGUFTokenizer, LlamaVocab]]:
    """(pure tokenizer, llama.cpp's vocabulary) of one registered model."""
    path = pull(request.param, quiet=True)
    llama = LlamaVocab(path)
    yield GGUFTokenizer(GGUFVocab(path)), llama
    llama.close()


def _head(path: Path, size: int) -> bytes:
    """The first lines of `path`, about `size` bytes (cut at a line end: whole characters)."""
    data = path.read_bytes()[:size]
    return data[: data.rfind(b"\n") + 1]


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b" ",
        b"a",
        PROBE_TEXT,
        UNICODE,
        b"\n\n\n\n" + b" " * 40 + b"x" + b"\t" * 9,
        b"1234567890 3.14159 -42 0x1F 1e-9",
    ],
)
def test_same_ids_as_llama_cpp(both: tuple[GGUFTokenizer, LlamaVocab], text: bytes) -> None:
    pure, llama = both
    got = pure.tokenize(text)
    assert got.dtype == np.int32
    assert got.tolist() == llama.tokenize(text).tolist()


@pytest.mark.parametrize(
    "name", ["canterbury/alice29.txt", "canterbury/fields.c", "enwik/enwik6", "loghub/Apache"]
)
def test_same_ids_on_corpora(both: tuple[GGUFTokenizer, LlamaVocab], name: str) -> None:
    pure, llama = both
    path = CORPORA / name
    if path.is_dir():
        path = sorted(path.iterdir())[0]
    text = _head(path, 20_000)
    assert pure.tokenize(text).tolist() == llama.tokenize(text).tolist()


def test_invalid_utf8(both: tuple[GGUFTokenizer, LlamaVocab]) -> None:
    """SentencePiece: llama.cpp's ids (byte tokens cut by the lead byte's length, which need
    not round-trip); byte-level BPE: the bytes round-trip (llama.cpp writes U+FFFD instead)."""
    pure, llama = both
    # bytes that are never valid UTF-8 (0xFE, 0xFF...) may have no token at all: left out
    text = b"caf\xe9 \x80\x80 ok \xe2\x82 \xc3(\xf0\x9f"
    got = pure.tokenize(text)
    if pure.vocab.model == "llama":
        assert got.tolist() == llama.tokenize(text).tolist()
    else:
        assert pure.vocab.detokenize(got) == text
        assert llama.detokenize(llama.tokenize(text)) != text


def test_unknown_pre_tokenizer_is_a_clear_error() -> None:
    vocab = GGUFVocab(pull("smollm2-135m", quiet=True))
    vocab.pre = "no-such-pre-tokenizer"
    with pytest.raises(ModelNotFoundError, match="no pure tokenizer"):
        GGUFTokenizer(vocab)
