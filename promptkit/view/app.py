"""The viewer's web application: Starlette routes rendering Jinja pages over a :class:`Catalog`.

Read-only: every handler reads run files; nothing is written. Handlers are plain functions, which Starlette
runs in its thread pool, so a slow first filter over a large run does not stall the other pages. Paths come
from the browser only as catalog keys, which :meth:`Catalog.resolve` confines to the given directories
(anything else is 404).
Every value shown from a run passes through :func:`promptkit.view.rows.redacted`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from promptkit.evaluation.results import RESULTS_FILE, RUN_FILE, SUMMARY_FILE
from promptkit.view import present
from promptkit.view.catalog import Catalog, NotFound, RunInfo, read_json_file, run_status
from promptkit.view.rows import PAGE_SIZES, Query, query_rows, redacted, row_index

HERE = Path(__file__).parent
_SERVED_FILES = {".png": "image/png", ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8"}


def create_app(directories: list[Path]) -> Starlette:
    """The application serving ``directories`` (each searched for runs)."""
    catalog = Catalog(directories)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(present.FILTERS)

    def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(roots=catalog.roots, **context)
        return HTMLResponse(html, status_code=status_code)

    def find(key: str) -> tuple[Path, RunInfo]:
        path = catalog.resolve(key)
        info = catalog.describe(path)
        if info is None:
            raise NotFound(key)
        return path, info

    def runs(request: Request) -> Response:
        return page("runs.html", runs=catalog.runs())

    def runs_fragment(request: Request) -> Response:
        return page("runs_rows.html", runs=catalog.runs())

    def run(request: Request) -> Response:
        path, info = find(request.path_params["key"])
        if info.kind == "eval":
            return page("run.html", **_eval_context(catalog, path, info, request))
        if info.kind == "compile":
            return page(
                "compile.html",
                info=info,
                record=redacted(read_json_file(path / "compile.json") or {}),
                before=catalog.key_of(path / "before"),
                after=catalog.key_of(path / "after"),
                report=(path / "report.html").exists(),
            )
        if info.kind == "matrix":
            return page("matrix.html", **_matrix_context(catalog, path, info, request))
        if info.kind == "retrieval":
            return page("retrieval.html", info=info, data=redacted(read_json_file(path / "retrieval.json") or {}))
        return page("chain.html", info=info, data=redacted(read_json_file(path) or {}))

    def row(request: Request) -> Response:
        path, info = find(request.path_params["key"])
        if info.kind != "eval":
            raise NotFound(info.key)
        found = row_index(path / RESULTS_FILE).read(request.query_params.get("id", ""))
        if found is None:
            raise NotFound(info.key)
        run_file = read_json_file(path / RUN_FILE)
        return page(
            "row.html",
            info=info,
            row=redacted(found),
            versions=present.versions_of(run_file),
            not_recorded=present.NOT_RECORDED,
        )

    def compare(request: Request) -> Response:
        (path_a, info_a), (path_b, info_b) = _pair(request, find)
        result = compared(path_a, path_b, request.query_params.get("metric") or None)
        flipped = (
            [("regressed", r) for r in result.regressed]
            + [("improved", r) for r in result.improved]
            + [("error changed", r) for r in result.status_changed]
        )
        flipped_ids = {r["row_id"] for _, r in flipped}
        index_a = row_index(path_a / RESULTS_FILE)
        others = [rid for rid in index_a.order() if rid not in flipped_ids][:200]
        return page(
            "compare.html",
            a=info_a,
            b=info_b,
            result=redacted(result.to_dict()),
            flipped=redacted(flipped),
            others=redacted(index_a.read_many(others)),
            alpha=0.05,
            significant=result.significant(),
        )

    def compare_row(request: Request) -> Response:
        (path_a, info_a), (path_b, info_b) = _pair(request, find)
        rid = request.query_params.get("id", "")
        row_a, row_b = row_index(path_a / RESULTS_FILE).read(rid), row_index(path_b / RESULTS_FILE).read(rid)
        if row_a is None and row_b is None:
            raise NotFound(rid)
        row_a, row_b = redacted(row_a or {}), redacted(row_b or {})
        prompt = present.side_by_side(
            present.messages_text(row_a.get("prompt")), present.messages_text(row_b.get("prompt"))
        )
        answer = present.side_by_side(
            present.as_text(row_a.get("prediction") or row_a.get("error")),
            present.as_text(row_b.get("prediction") or row_b.get("error")),
        )
        return page("compare_row.html", a=info_a, b=info_b, row_a=row_a, row_b=row_b, prompt=prompt, answer=answer)

    def progress(request: Request) -> Response:
        path, info = find(request.path_params["key"])
        if info.kind != "eval":
            raise NotFound(info.key)
        return JSONResponse({"rows": row_index(path / RESULTS_FILE).count, "status": run_status(path)})

    def file(request: Request) -> Response:
        path = catalog.resolve(request.path_params["key"])
        media = _SERVED_FILES.get(path.suffix)
        if media is None or not path.is_file():
            raise NotFound(request.path_params["key"])
        if path.suffix == ".png":
            return FileResponse(path, media_type=media)
        # A run's own report shows prompts: it is redacted like every page (the runner wrote it as it found them).
        return Response(redacted(path.read_text(encoding="utf-8", errors="replace")), media_type=media)

    async def not_found(request: Request, exc: Exception) -> Response:
        return page("error.html", status_code=404, message="Not found: nothing the viewer may show has that name.")

    async def http_error(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        return page("error.html", status_code=code, message=str(getattr(exc, "detail", "error")))

    routes = [
        Route("/", runs),
        Route("/fragment/runs", runs_fragment),
        Route("/run/{key:path}", run),
        Route("/row/{key:path}", row),
        Route("/compare", compare),
        Route("/compare/row", compare_row),
        Route("/progress/{key:path}", progress),
        Route("/file/{key:path}", file),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={NotFound: not_found, HTTPException: http_error})


_compared: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_COMPARED_KEPT = 8
_compared_lock = threading.Lock()


def compared(path_a: Path, path_b: Path, metric: str | None) -> Any:
    """``eval compare``'s result for two run directories, kept while neither results file changes
    (pairing two 50,000-row runs parses both files: seconds, not to be paid again on every visit)."""
    from promptkit.evaluation.compare import compare

    def state(path: Path) -> tuple[Any, ...]:
        stat = (path / RESULTS_FILE).stat()
        return (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)

    key = (state(path_a), state(path_b), metric)
    with _compared_lock:
        if key in _compared:
            _compared.move_to_end(key)
            return _compared[key]
    result = compare(path_a, path_b, metric)
    with _compared_lock:
        _compared[key] = result
        while len(_compared) > _COMPARED_KEPT:
            _compared.popitem(last=False)
    return result


def _pair(request: Request, find: Any) -> tuple[tuple[Path, RunInfo], tuple[Path, RunInfo]]:
    found = [find(request.query_params.get(side, "")) for side in ("a", "b")]
    for _, info in found:
        if info.kind != "eval":
            raise NotFound(info.key)
    return found[0], found[1]


def _query(request: Request, metric: str | None) -> Query:
    params = request.query_params

    def number(name: str) -> float | None:
        try:
            return float(params[name]) if params.get(name) else None
        except ValueError:
            return None

    page = params.get("page", "1")
    size = params.get("size", "50")
    return Query(
        text=params.get("q", "").strip(),
        status=params.get("status", ""),
        metric=params.get("metric") or metric,
        low=number("min"),
        high=number("max"),
        sort=params.get("sort", "index") or "index",
        descending=params.get("order") == "desc",
        page=max(1, int(page)) if page.isdigit() else 1,
        size=int(size) if size.isdigit() and int(size) in PAGE_SIZES else 50,
    )


def _eval_context(catalog: Catalog, path: Path, info: RunInfo, request: Request) -> dict[str, Any]:
    summary = read_json_file(path / SUMMARY_FILE) or {}
    run_file = read_json_file(path / RUN_FILE) or {}
    metrics = list((summary.get("metrics") or {}).keys()) or list(run_file.get("metrics") or [])
    query = _query(request, info.metric)
    rows, matching = query_rows(row_index(path / RESULTS_FILE), query)
    pages = max(1, -(-matching // query.size))
    params = {k: v for k, v in request.query_params.items() if k != "page"}
    return {
        "info": info,
        "summary": redacted(summary),
        "run": run_file,
        "metrics": metrics,
        "rows": redacted(rows),
        "matching": matching,
        "query": query,
        "pages": pages,
        "params": params,
        "page_sizes": PAGE_SIZES,
        "plot": catalog.key_of(path / "plot.png") if (path / "plot.png").exists() else None,
        "report": catalog.key_of(path / "report.html") if (path / "report.html").exists() else None,
        "versions": present.versions_of(run_file),
    }


def _matrix_context(catalog: Catalog, path: Path, info: RunInfo, request: Request) -> dict[str, Any]:
    data = read_json_file(path / "matrix.json") or {}
    metrics = data.get("metrics") or []
    metric = request.query_params.get("metric") or (metrics[0] if metrics else None)
    cells = data.get("cells") or []
    programs = list(dict.fromkeys(str(c.get("program")) for c in cells))
    columns = list(dict.fromkeys((str(c.get("dataset")), str(c.get("model"))) for c in cells))
    grid: dict[tuple[str, str, str], dict[str, Any]] = {}
    for cell in cells:
        key = _cell_key(catalog, path, cell.get("out"))
        grid[(str(cell.get("program")), str(cell.get("dataset")), str(cell.get("model")))] = {
            "value": (cell.get("scores") or {}).get(metric),
            "key": key,
            "error": redacted(cell.get("error")),
            "rows": (cell.get("summary") or {}).get("rows_done"),
        }
    return {
        "info": info,
        "metrics": metrics,
        "metric": metric,
        "programs": programs,
        "columns": columns,
        "grid": grid,
        "several_models": len({m for _, m in columns}) > 1,
    }


def _cell_key(catalog: Catalog, matrix_dir: Path, out: Any) -> str | None:
    """The catalog key of a cell's run directory: recorded as given (maybe relative to where the matrix ran),
    so it is looked for inside the matrix directory by name."""
    if not out:
        return None
    candidate = matrix_dir / Path(str(out)).name
    if not (candidate / RESULTS_FILE).exists() and not (candidate / RUN_FILE).exists():
        return None
    try:
        return catalog.key_of(candidate)
    except NotFound:
        return None
