"""Display helpers: times are stored in UTC and shown in Vietnam's time zone."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def format_datetime_local(value: datetime | None, pattern: str = "%H:%M %d/%m/%Y") -> str:
    if value is None:
        return "—"
    return value.astimezone(VIETNAM).strftime(pattern)


def local_day_start(day: date) -> datetime:
    """Midnight in Vietnam, the way a person means a date in a filter."""
    return datetime.combine(day, time.min, tzinfo=VIETNAM)


def format_percent(value: float | None) -> str:
    """Vietnamese style: a decimal comma, and no ",0" ("15%", "18,2%")."""
    if value is None:
        return "—"
    rounded = round(float(value), 1)
    text = f"{rounded:.0f}" if rounded.is_integer() else f"{rounded:.1f}".replace(".", ",")
    return f"{text}%"


def spreadsheet_safe(value):
    """Text a spreadsheet will not run: a cell starting with = + - @ (or a tab/CR) is a formula to
    Excel, so it gets a leading apostrophe. Numbers and empty values pass through."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
