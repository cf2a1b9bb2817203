"""Pagination of selects that return rows of several columns (Flask-SQLAlchemy's returns scalars)."""
import sqlalchemy as sa
from flask_sqlalchemy.pagination import SelectPagination


class RowPagination(SelectPagination):
    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())

    def _query_count(self) -> int:
        select = self._query_args.get("count_select")
        if select is None:
            return super()._query_count()
        return self._query_args["session"].scalar(
            sa.select(sa.func.count()).select_from(select.order_by(None).subquery()))


def paginate_rows(session, select, page: int, per_page: int, count_select=None) -> RowPagination:
    """A page of `select`; `count_select`, when given, counts the same rows planned for counting."""
    return RowPagination(select=select, session=session, page=max(page, 1), per_page=per_page,
                         error_out=False, count=True, count_select=count_select)
