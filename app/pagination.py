"""Pagination of selects that return rows of several columns (Flask-SQLAlchemy's returns scalars)."""
from flask_sqlalchemy.pagination import SelectPagination


class RowPagination(SelectPagination):
    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


def paginate_rows(session, select, page: int, per_page: int) -> RowPagination:
    return RowPagination(select=select, session=session, page=max(page, 1), per_page=per_page,
                         error_out=False, count=True)
