"""Bounded numbers from URLs, and pagination (also of selects that return rows of several columns:
Flask-SQLAlchemy's returns scalars).

An integer typed into a URL may be far beyond what a database column holds (PostgreSQL's integer
stops at 2,147,483,647; SQLite's at 2^63 − 1), and handing it to a query is a server error. The
`int` route converter is bounded once for every route (register_url_converters): a larger id is no
route, 404. Query arguments go through `id_arg` and `page_arg`, and `paginated` shows the last page
for a page past the end.
"""
from collections.abc import Callable

from flask import Flask, request
from flask_sqlalchemy.pagination import Pagination, SelectPagination
from werkzeug.routing import IntegerConverter

#: the largest id any table holds (a PostgreSQL integer)
MAX_ID = 2**31 - 1
#: no list is this long; past it, the page asked for is the last one
MAX_PAGE = 100_000


class BoundedIntegerConverter(IntegerConverter):
    """`<int:…>` in every route: 0 to MAX_ID, so a larger number is 404, never a database error."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,  # noqa: A002
                 signed: bool = False) -> None:
        bounded = MAX_ID if max is None or max > MAX_ID else max
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=bounded, signed=signed)


def register_url_converters(app: Flask) -> None:
    """Before any blueprint: their `<int:…>` rules take the bounded converter."""
    app.url_map.converters["int"] = BoundedIntegerConverter


def id_arg(name: str, default: int | None = None) -> int | None:
    """An id from the query string (?citation=…): `default` when absent, not a number or out of range."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 <= value <= MAX_ID else default


def page_arg() -> int:
    """?page=, from 1 to MAX_PAGE (anything else is page 1, or MAX_PAGE when larger)."""
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), MAX_PAGE)


def paginated(make: Callable[[int], Pagination]) -> Pagination:
    """The page ?page= asks for, made by `make(number)`; past the end, the last page."""
    page = make(page_arg())
    if page.total and page.page > page.pages:
        page = make(page.pages)
    return page


class RowPagination(SelectPagination):
    def _page_rows(self, limit: int, offset: int) -> list:
        select = self._query_args["select"]
        select = select(limit, offset) if callable(select) else select.limit(limit).offset(offset)
        return list(self._query_args["session"].execute(select).all())

    def _query_items(self) -> list:
        return self._page_rows(self.per_page, self._query_offset)

    def _query_count(self) -> int:
        if self._query_args.get("total") is not None:  # counted by the caller (from summaries)
            return self._query_args["total"]
        column = self._query_args.get("total_column")
        if not column:
            return super()._query_count()
        # The count came with the page (a `count(*) OVER ()` column); past the last page, ask for one row.
        rows = self.items or self._page_rows(1, 0)
        return getattr(rows[0], column) if rows else 0


def paginate_rows(session, select, page: int, per_page: int, total_column: str | None = None,
                  total: int | None = None) -> RowPagination:
    """A page of `select`: a select, or a function of (limit, offset) returning one.

    `total_column` names a column of the rows that holds the number of rows matching (a window
    count), which saves a second pass to count them; `total` is that number when the caller knows it.
    """
    return RowPagination(select=select, session=session, page=max(page, 1), per_page=per_page,
                         error_out=False, count=True, total_column=total_column, total=total)


class ListPagination(Pagination):
    """A page of a list already read (rows of a few short columns: an agency's children, filtered in
    Python where SQL cannot compare names without their diacritics)."""

    def _query_items(self) -> list:
        return self._query_args["rows"][self._query_offset:self._query_offset + self.per_page]

    def _query_count(self) -> int:
        return len(self._query_args["rows"])


def paginate_list(rows: list, page: int, per_page: int) -> ListPagination:
    """A page of `rows`; past the end, the last page."""
    pages = max(1, -(-len(rows) // per_page))
    return ListPagination(rows=rows, page=min(max(page, 1), pages), per_page=per_page, error_out=False, count=True)
