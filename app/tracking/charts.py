"""Charts drawn on the server as SVG: no script, no outside asset, readable on a phone."""
from datetime import datetime

from markupsafe import Markup, escape

#: the drawing's width in SVG units: about a phone's width in CSS pixels, so that text drawn at
#: FONT units stays at least 12 px on a 360-px screen (the chart is at most 32rem wide elsewhere)
WIDTH = 360
FONT = 14


def weekly_bars_svg(weeks: list[tuple[datetime, int]], row: int = 26) -> Markup:
    """A horizontal bar per week, oldest first: the week's Monday (dd/mm) on the left, the bar, and
    its count after the bar. Horizontal, so that labels never crowd however many weeks there are."""
    if not weeks:
        return Markup("")
    top = max(count for _, count in weeks) or 1
    label_width, value_room, gap = 52, 8 + FONT * 0.6 * len(str(top)), 6
    plot = WIDTH - label_width - value_room
    height = row * len(weeks)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="Số người hoàn thành theo tuần" xmlns="http://www.w3.org/2000/svg">']
    for index, (monday, count) in enumerate(weeks):
        y = index * row
        bar = plot * count / top
        middle = y + row / 2
        label = escape(f"Tuần từ {monday:%d/%m}: {count} người")
        parts.append(f'<g><title>{label}</title>'
                     f'<text x="0" y="{middle:.1f}" dominant-baseline="central" font-size="{FONT}" class="label">{monday:%d/%m}</text>'
                     f'<rect x="{label_width}" y="{y + gap / 2:.1f}" width="{bar:.1f}" height="{row - gap}" rx="2" class="bar"/>'
                     f'<text x="{label_width + bar + 4:.1f}" y="{middle:.1f}" dominant-baseline="central" font-size="{FONT}" '
                     f'class="value">{count}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
