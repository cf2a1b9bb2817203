"""Display helpers: times are stored in UTC and shown in Vietnam's time zone."""
from datetime import datetime
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def format_datetime_local(value: datetime | None, pattern: str = "%H:%M %d/%m/%Y") -> str:
    if value is None:
        return "—"
    return value.astimezone(VIETNAM).strftime(pattern)
