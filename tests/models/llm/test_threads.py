"""llama.cpp's thread count: never part of the numbers, and the automatic share of the CPUs."""

from __future__ import annotations

import hashlib
import multiprocessing

import pytest

from nacrith.codecs.llm_params import choose_threads
from nacrith.models.llm.backend import MAX_AUTO_THREADS, auto_threads, usable_cpus
from tests.llm_fixtures import corpus_text

THREAD_COUNTS = (1, 2, 3)


def _logit_hash(n_threads: int) -> str:
    """Hash of every logit and hidden state of a fixed mix of the backend's calls: batched
    prefills, lockstep steps of two streams, batched appends and a shift of the cache."""
    from nacrith.models.llm import registry
    from nacrith.models.llm.backend import LlamaBackend

    be = LlamaBackend(
        registry.resolve_model(None), n_seq=2, n_ctx=256, n_threads=n_threads, hidden=True
    )
    try:
        toks = be.tokenize(corpus_text()[:2000]).tolist()[:260]
        h = hashlib.sha256()
        h.update(be.prefill(0, [be.bos, *toks[:60]]).tobytes())
        h.update(be.hidden_states().tobytes())
        be.prefill(1, [be.bos, *toks[200:205]])
        for i in range(60, 100):
            rows = be.step([0, 1], [toks[i], toks[i + 110]], [i + 1, i - 54])
            h.update(rows.tobytes())
            h.update(be.hidden_states().tobytes())
        h.update(be.append(0, toks[100:180], all_logits=True).tobytes())
        be.shift(0, 4, 60)
        h.update(be.append(0, toks[180:200], all_logits=True).tobytes())
        for i in range(200, 220):
            h.update(be.step([0], [toks[i]], [i + 1 - 60]).tobytes())
        return h.hexdigest()
    finally:
        be.close()


@pytest.mark.llm
def test_llama_logits_have_the_same_bits_for_any_thread_count() -> None:
    pytest.importorskip("llama_cpp")
    hashes = {n: _logit_hash(n) for n in THREAD_COUNTS}
    assert len(set(hashes.values())) == 1, hashes


def test_auto_threads_share_the_usable_cpus() -> None:
    cpus = usable_cpus()
    assert auto_threads() == min(MAX_AUTO_THREADS, cpus)
    assert auto_threads(cpus) == 1
    assert auto_threads(2 * cpus) == 1
    assert auto_threads(2) == max(1, min(MAX_AUTO_THREADS, cpus // 2))


def test_choose_threads_keeps_an_asked_count_and_checks_it(monkeypatch) -> None:
    monkeypatch.delenv("NACRITH_THREADS", raising=False)
    assert choose_threads(3, None) == 3
    assert choose_threads(5, 2) == 5
    assert choose_threads(None, None) == auto_threads()
    assert choose_threads(None, 2) == auto_threads(2)
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(ValueError, match="n_threads must be a positive integer"):
            choose_threads(bad, None)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="processes must be a positive integer"):
            choose_threads(None, bad)  # type: ignore[arg-type]


def test_the_llama_engine_leaves_a_cpu_to_the_predictors(monkeypatch) -> None:
    from nacrith.models.llm import backend

    monkeypatch.delenv("NACRITH_THREADS", raising=False)
    # (usable CPUs, threads alone, threads of one of two processes)
    for cpus, alone, of_two in ((1, 1, 1), (2, 1, 1), (4, 3, 1), (8, 4, 3), (16, 4, 4)):
        monkeypatch.setattr(backend, "usable_cpus", lambda cpus=cpus: cpus)
        assert choose_threads(None, None, "llama") == alone
        assert choose_threads(None, 2, "llama") == of_two
        assert choose_threads(2, None, "llama") == 2  # an asked count is kept
        assert choose_threads(None, None, "portable") == min(MAX_AUTO_THREADS, cpus)


def _child_threads(queue: multiprocessing.Queue) -> None:
    queue.put((choose_threads(None, None), choose_threads(None, 1), usable_cpus()))


def test_a_worker_process_takes_one_cpu_share_unless_told(monkeypatch) -> None:
    monkeypatch.delenv("NACRITH_THREADS", raising=False)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_threads, args=(queue,))
    child.start()
    in_child, told_alone, cpus = queue.get(timeout=120)
    child.join(60)
    assert in_child == 1  # a local pool runs one process per CPU by default
    assert told_alone == min(MAX_AUTO_THREADS, cpus)


def test_the_environment_sets_the_count_where_no_option_does(monkeypatch) -> None:
    monkeypatch.setenv("NACRITH_THREADS", "3")
    assert choose_threads(None, None) == 3
    assert choose_threads(None, 8) == 3
    assert choose_threads(2, None) == 2  # the option wins
    monkeypatch.setenv("NACRITH_THREADS", "0")
    with pytest.raises(ValueError, match="n_threads must be a positive integer"):
        choose_threads(None, None)
    monkeypatch.setenv("NACRITH_THREADS", "two")
    with pytest.raises(ValueError, match="NACRITH_THREADS must be a positive integer"):
        choose_threads(None, None)
