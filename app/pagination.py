"""Pagination of selects that return rows of several columns (Flask-SQLAlchemy's returns scalars)."""
from flask_sqlalchemy.pagination import SelectPagination


class RowPagination(SelectPagination):
    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())

    def _query_count(self) -> int:
        column = self._query_args.get("total_column")
        if column and self.items:  # the count came with the page (a `count(*) OVER ()` column)
            return getattr(self.items[0], column)
        return super()._query_count()


def paginate_rows(session, select, page: int, per_page: int, total_column: str | None = None) -> RowPagination:
    """A page of `select`. `total_column` names a column of the select that holds the number of rows
    matching (a window count), which saves a second pass to count them."""
    return RowPagination(select=select, session=session, page=max(page, 1), per_page=per_page,
                         error_out=False, count=True, total_column=total_column)
