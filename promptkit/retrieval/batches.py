"""Run encode calls over blocks of texts, several at a time, yielding each block as it finishes.

The caller caches each block as it is yielded: that is what makes an interrupted index keep its work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np


def run_blocks(
    encode: Callable[[list[str]], np.ndarray], blocks: list[list[str]], workers: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(block number, vectors)`` as each block finishes, ``workers`` at a time.

    On a failure no new block starts, the blocks already running still finish (and are yielded, so the
    caller caches them), and then the first failure is raised.
    """
    if workers <= 1:
        for number, block in enumerate(blocks):
            yield number, encode(block)
        return
    pending = iter(enumerate(blocks))
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="promptkit-embed") as pool:
        running: dict[Future[np.ndarray], int] = {}
        try:
            while True:
                while failure is None and len(running) < workers and (item := next(pending, None)) is not None:
                    running[pool.submit(encode, item[1])] = item[0]
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    number = running.pop(future)
                    try:
                        vectors = future.result()
                    except BaseException as exc:
                        failure = failure or exc
                        continue
                    yield number, vectors
        finally:
            for future in running:
                future.cancel()
    if failure is not None:
        raise failure
