"""Charts drawn on the server as SVG: no script, no outside asset, readable on a phone."""
from datetime import datetime

from markupsafe import Markup, escape


def weekly_bars_svg(weeks: list[tuple[datetime, int]], width: int = 640, height: int = 180) -> Markup:
    """A bar per week with its count; the x labels show each week's Monday as dd/mm."""
    if not weeks:
        return Markup("")
    top = max(count for _, count in weeks) or 1
    left, bottom, gap = 8, 28, 6
    bar_width = (width - left * 2) / len(weeks) - gap
    plot = height - bottom - 18
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Số người hoàn thành theo tuần" xmlns="http://www.w3.org/2000/svg">']
    for index, (monday, count) in enumerate(weeks):
        x = left + index * (bar_width + gap)
        bar = plot * count / top
        y = height - bottom - bar
        label = escape(f"Tuần từ {monday:%d/%m}: {count} người")
        parts.append(f'<g><title>{label}</title>'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{bar:.1f}" rx="2" class="bar"/>'
                     f'<text x="{x + bar_width / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="value">{count}</text>'
                     f'<text x="{x + bar_width / 2:.1f}" y="{height - 10}" text-anchor="middle" class="label">{monday:%d/%m}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
