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


def format_number(value: float | None, decimals: int = 1) -> str:
    """Vietnamese style: a decimal comma, thousands with a dot, no trailing ",0" ("1.234,5", "3")."""
    if value is None:
        return "—"
    rounded = round(float(value), decimals)
    if rounded.is_integer():
        text = f"{int(rounded):,}"
    else:
        text = f"{rounded:,.{decimals}f}".rstrip("0")
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def format_hours(minutes: int) -> str:
    """A course's length: "45 phút", "1 giờ", "1,5 giờ"."""
    if minutes < 60:
        return f"{minutes} phút"
    return f"{format_number(minutes / 60, 1)} giờ"
