"""Pagination of selects that return rows of several columns (Flask-SQLAlchemy's returns scalars)."""
from flask_sqlalchemy.pagination import SelectPagination


class RowPagination(SelectPagination):
    def _page_rows(self, limit: int, offset: int) -> list:
        select = self._query_args["select"]
        select = select(limit, offset) if callable(select) else select.limit(limit).offset(offset)
        return list(self._query_args["session"].execute(select).all())

    def _query_items(self) -> list:
        return self._page_rows(self.per_page, self._query_offset)

    def _query_count(self) -> int:
        column = self._query_args.get("total_column")
        if not column:
            return super()._query_count()
        # The count came with the page (a `count(*) OVER ()` column); past the last page, ask for one row.
        rows = self.items or self._page_rows(1, 0)
        return getattr(rows[0], column) if rows else 0


def paginate_rows(session, select, page: int, per_page: int, total_column: str | None = None) -> RowPagination:
    """A page of `select`: a select, or a function of (limit, offset) returning one.

    `total_column` names a column of the rows that holds the number of rows matching (a window
    count), which saves a second pass to count them.
    """
    return RowPagination(select=select, session=session, page=max(page, 1), per_page=per_page,
                         error_out=False, count=True, total_column=total_column)
