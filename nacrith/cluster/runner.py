"""`ClusterRunner`: `BatchRunner`'s interface, with the batches coded by actors on Ray.

Each actor holds the run's codecs (see `nacrith.cluster.actor`). At most two batches per actor
are in flight, and an actor gets a new one as soon as one of its own finishes; results are
yielded in submission order, so the archive is the one a local run writes (batches and codec
params are the same; grouping never changes the bytes).

Failures: an actor whose process dies is restarted by Ray (`max_restarts`) and its unfinished
batches are retried there (`max_task_retries`); a batch whose actor is gone for good, or whose
result object was lost, is sent again to a fresh actor, at most `MAX_ATTEMPTS` times in all.
Errors raised by a codec (a corrupt payload, a model mismatch) are raised here as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nacrith.cluster.actor import ChunkCoder, nacrith_version
from nacrith.cluster.connect import ClusterError, actor_resources, connect
from nacrith.cluster.shared import SharedSource, range_batch
from nacrith.workers import CodecSet

__all__ = ["MAX_ATTEMPTS", "ClusterRunner", "portable_runtime"]

#: times one batch may be sent (to a restarted or a fresh actor) before the run fails
MAX_ATTEMPTS = 4
#: batches in flight per actor: one running, one queued behind it
IN_FLIGHT_PER_ACTOR = 2
#: batches per actor in flight or finished and waiting for an earlier one (bounds memory)
HELD_PER_ACTOR = 4
#: seconds the actors may take to start and load their codecs (a node may pull the model, an
#: autoscaler may add nodes)
START_TIMEOUT = 900.0


def portable_runtime(
    params: Mapping[str, Mapping[str, Any]], runtime: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`runtime` for another machine: a registered model's local path is left out, so each
    node finds (or pulls) the model by name in its own cache and checks its sha256."""
    from nacrith.models.llm import registry

    out = {codec_id: dict(values) for codec_id, values in runtime.items()}
    llm = out.get("llm")
    name = params.get("llm", {}).get("model")
    if llm and "model" in llm and name in registry.MODELS:
        import os

        if os.path.abspath(os.fspath(llm["model"])) == os.path.abspath(registry.model_path(name)):
            del llm["model"]
    return out


@dataclass
class _Flight:
    """One batch in flight: what was sent, to which actor, and how often."""

    batch: list[Any]
    offset: int | None  # where the batch lies in the shared file (encode only)
    slot: int
    actor: Any  # the actor handle it went to (a slot's actor may be replaced meanwhile)
    ref: Any
    attempts: int = 1


class ClusterRunner:
    """Runs batches in order on coder actors of the Ray cluster at `address`.

    `workers`: None or 0 for one actor per CPU of the cluster (per GPU when the codecs run on a
    GPU), N for N actors. `source`: the shared file the encoded input comes from, if any (see
    `nacrith.cluster.shared`). `max_restarts`: how often Ray restarts a dead actor.
    """

    def __init__(
        self,
        codecs: CodecSet,
        address: str,
        workers: int | None = None,
        source: SharedSource | None = None,
        max_restarts: int = 3,
    ) -> None:
        self.codecs = codecs
        self.source = source
        self.ray = connect(address)
        gpu = any(values.get("gpu") for values in codecs.runtime.values())
        self.workers, share = actor_resources(self.ray, workers, gpu)
        resources = {"num_gpus": share} if gpu else {"num_cpus": share}
        self._actor_class = self.ray.remote(
            max_restarts=max_restarts,
            max_task_retries=max_restarts,
            scheduling_strategy="SPREAD",
            **resources,
        )(ChunkCoder)
        runtime = portable_runtime(codecs.params, codecs.runtime)
        if not gpu:  # an actor's model threads: its share of its node's CPUs
            for values in runtime.values():
                if "n_threads" in values and values["n_threads"] is None:
                    values["n_threads"] = max(1, int(share))
        self._args = (codecs.params, runtime, nacrith_version())
        #: how many batches each shipped range was read from, and sent as bytes
        self.stats = {"ranges": 0, "bytes": 0, "resent": 0}
        self._actors: list[Any] = []
        self._load: list[int] = []
        self._blind: set[int] = set()  # actors that cannot read the shared file
        try:
            self._actors = [self._actor_class.remote(*self._args) for _ in range(self.workers)]
            self._load = [0] * self.workers
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        """Wait until every actor has built (and checked) its codecs."""
        from ray.exceptions import GetTimeoutError

        try:
            #: where each actor runs: its process id and host name
            self.places = self._get(
                [actor.prepare.remote() for actor in self._actors], START_TIMEOUT
            )
        except GetTimeoutError:
            raise ClusterError(
                f"the cluster did not start {self.workers} coder actors within "
                f"{START_TIMEOUT:.0f} s (too few free CPUs or GPUs?)"
            ) from None

    def _get(self, refs: Any, timeout: float | None = None) -> Any:
        """`ray.get`, with a codec's own error raised as itself."""
        from ray.exceptions import RayTaskError

        try:
            return self.ray.get(refs, timeout=timeout)
        except RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise

    def run(self, batches: Iterable[list[Any]], kind: str) -> Iterator[list[Any]]:
        """Yield the results of `encode` or `decode` batches in input order.

        An actor gets its next batch as soon as one of its own finishes, whichever batch the
        output waits for: results that come early are held (at most `HELD_PER_ACTOR` batches
        per actor in flight or held), so no actor idles behind a slower one.
        """
        if kind not in ("encode", "decode"):
            raise ValueError(f"kind must be 'encode' or 'decode', got {kind!r}")
        position = self.source.offset if self.source is not None and kind == "encode" else None
        source = iter(batches)
        flights: dict[int, _Flight] = {}  # by submission number
        ready: dict[int, list[Any]] = {}  # results waiting for the ones before them
        submitted = emitted = 0
        more = True
        while True:
            while (
                more
                and len(flights) + len(ready) < HELD_PER_ACTOR * self.workers
                and min(self._load) < IN_FLIGHT_PER_ACTOR
            ):
                batch = next(source, None)
                if batch is None:
                    more = False
                    break
                flights[submitted] = self._submit(batch, kind, position)
                submitted += 1
                if position is not None:
                    position += sum(len(raw) for _ids, raw in batch)
            while emitted in ready:
                yield ready.pop(emitted)
                emitted += 1
            if not flights:
                if more or ready:  # cannot happen: the loop above always submits or yields
                    raise AssertionError("cluster runner stalled")
                return
            order = {flight.ref: number for number, flight in flights.items()}
            done, _ = self.ray.wait([flight.ref for flight in flights.values()], num_returns=1)
            for ref in done:
                number = order[ref]
                outcome = self._finish(flights.pop(number), kind)
                if isinstance(outcome, _Flight):
                    flights[number] = outcome
                else:
                    ready[number] = outcome

    def _submit(self, batch: list[Any], kind: str, offset: int | None) -> _Flight:
        slot = min(range(len(self._actors)), key=lambda i: self._load[i])
        sent: Any = batch
        if offset is not None and self.source is not None and slot not in self._blind:
            sent = range_batch(self.source.path, offset, batch)
        self._load[slot] += 1
        actor = self._actors[slot]
        return _Flight(batch, offset, slot, actor, getattr(actor, kind).remote(sent))

    def _finish(self, flight: _Flight, kind: str) -> list[Any] | _Flight:
        """The result of the finished `flight`, or the flight that sends its batch again
        (after a lost actor or object, or to an actor that could not read the shared file)."""
        from ray.exceptions import (
            ActorDiedError,
            ObjectLostError,
            RayActorError,
            WorkerCrashedError,
        )

        self._load[flight.slot] -= 1
        try:
            result = self._get(flight.ref)
        except (RayActorError, ObjectLostError, WorkerCrashedError) as exc:
            if flight.attempts >= MAX_ATTEMPTS:
                raise ClusterError(
                    f"a batch failed {flight.attempts} times on the cluster: {exc}"
                ) from exc
            if isinstance(exc, ActorDiedError) and flight.actor is self._actors[flight.slot]:
                self._replace(flight.slot)  # out of restarts: a fresh one takes over
            again = self._submit(flight.batch, kind, flight.offset)
            again.attempts = flight.attempts + 1
            self.stats["resent"] += 1
            return again
        if result is None and kind == "encode":  # the actor cannot read the shared file
            self._blind.add(flight.slot)
            again = self._submit(flight.batch, kind, None)
            again.attempts = flight.attempts
            return again
        if kind == "encode":
            self.stats["ranges" if flight.offset is not None else "bytes"] += 1
        return result

    def _replace(self, slot: int) -> None:
        """Put a fresh actor in `slot`, whose actor is dead for good."""
        try:
            self.ray.kill(self._actors[slot], no_restart=True)
        except Exception:  # already gone
            pass
        self._actors[slot] = self._actor_class.remote(*self._args)
        self._blind.discard(slot)

    def close(self) -> None:
        """End the actors (and so release their codecs), finished run or not."""
        actors, self._actors = self._actors, []
        for actor in actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # an actor already gone
                pass
