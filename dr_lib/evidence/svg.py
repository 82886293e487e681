"""Pictures as inline SVG: a drill's phases against its RTO target, RTO and RPO over time.

Pure: values in, markup out; every text escaped. No script: a title element on each mark gives
its exact value on hover, and every value is also in the tables beside the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH = 900
LABEL_WIDTH = 210
PLOT_WIDTH = WIDTH - LABEL_WIDTH - 30
ROW = 18
COLOURS = {"passed": "#2da44e", "failed": "#cf222e", "skipped": "#8c959f", "phase": "#54aeff",
           "pass": "#1a7f37", "fail": "#cf222e", "unknown": "#6e7781"}
MAX_PLOTTED = 1e8  # seconds (three years): a larger RTO or RPO is a broken report, not a point
SHAPES = {"synthetic": "circle", "archive": "square", "boot": "diamond", "incident": "triangle"}
SVG_HEAD = '<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" ' \
           'font-family="sans-serif" font-size="11" id="{id}">'


def nice_step(span: float, ticks: int = 6) -> float:
    """A round tick step (1, 2 or 5 × 10ⁿ) giving about ``ticks`` ticks over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def seconds_label(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.3g} h"
    if value >= 120:
        return f"{value / 60:.3g} min"
    return f"{value:.3g} s"


def _text(x: float, y: float, content: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(content)}</text>'


@dataclass(frozen=True)
class Bar:
    label: str
    start: float  # seconds after the drill started
    seconds: float
    status: str  # passed | failed | skipped | phase
    detail: str = ""


def timeline_svg(bars: Sequence[Bar], *, total: float, loss: float | None, recovered: float | None,
                 rto_target: float, rto: float | None) -> str:
    """The steps and their phases on one time axis, the loss and recovery marked, and below it the
    measured RTO against its target on a scale of its own (a 15-minute target would squash a
    one-minute drill to a sliver)."""
    total = max(total, *(b.start + b.seconds for b in bars), 1.0) if bars else max(total, 1.0)
    top, height = 40, 40 + ROW * len(bars) + 110
    scale = PLOT_WIDTH / total
    parts = [SVG_HEAD.format(w=WIDTH, h=height, id="drill-timeline"),
             _text(4, 14, "Drill timeline (seconds after the start, UTC times in the tables)", font_weight="bold")]
    step = nice_step(total)
    ticks = int(total // step) + 1
    for i in range(ticks):
        x = LABEL_WIDTH + i * step * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ROW * len(bars)}" stroke="#d0d7de"/>')
        parts.append(_text(x, top + ROW * len(bars) + 12, seconds_label(i * step), text_anchor="middle"))
    for row, bar in enumerate(bars):
        y = top + row * ROW
        indent = 16 if bar.status == "phase" else 0
        parts.append(_text(4 + indent, y + 12, bar.label[:40]))
        width = max(bar.seconds * scale, 1.5)
        tip = f"{bar.label}: {bar.seconds:.1f} s from {bar.start:.1f} s" + (f" — {bar.detail}" if bar.detail else "")
        parts.append(f'<rect x="{LABEL_WIDTH + bar.start * scale:.1f}" y="{y + 3}" width="{width:.1f}" '
                     f'height="{ROW - 6}" fill="{COLOURS.get(bar.status, "#6e7781")}" class="bar-{escape(bar.status)}">'
                     f'<title>{escape(tip[:300])}</title></rect>')
    axis_bottom = top + ROW * len(bars)
    for moment, word, colour in ((loss, "loss", "#cf222e"), (recovered, "recovered", "#1a7f37")):
        if moment is not None:
            x = LABEL_WIDTH + moment * scale
            parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{axis_bottom}" stroke="{colour}" '
                         f'stroke-dasharray="4 3" stroke-width="1.5" class="marker-{word}"/>')
            anchor = "end" if word == "loss" else "start"
            parts.append(_text(x - 3 if word == "loss" else x + 3, top - 6, word, fill=colour, text_anchor=anchor))
    parts.append(_rto_budget(axis_bottom + 30, rto, rto_target))
    parts.append("</svg>")
    return "".join(parts)


def _rto_budget(y: float, rto: float | None, target: float) -> str:
    """One bar: the target's full width, the measured RTO filled in (over the target: in red)."""
    span = max(target, rto or 0.0, 1.0)
    scale = PLOT_WIDTH / span
    parts = [_text(4, y + 12, "RTO against its target", font_weight="bold"),
             f'<rect x="{LABEL_WIDTH}" y="{y}" width="{target * scale:.1f}" height="16" fill="#eaeef2" '
             f'stroke="#8c959f" id="rto-target"><title>RTO target {seconds_label(target)}</title></rect>']
    if rto is None:
        parts.append(_text(LABEL_WIDTH + 4, y + 12, "RTO not measured: the application was never proved back",
                           fill="#cf222e"))
    else:
        colour = COLOURS["pass"] if rto <= target else COLOURS["fail"]
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{max(rto * scale, 1.5):.1f}" height="16" '
                     f'fill="{colour}" id="rto-measured"><title>RTO measured {rto:.1f} s</title></rect>')
        share = 100.0 * rto / target if target else math.inf
        parts.append(_text(LABEL_WIDTH, y + 32, f"measured {rto:.1f} s of the {seconds_label(target)} target "
                                                f"({share:.1f} %)"))
    parts.append(_text(LABEL_WIDTH + target * scale, y + 48, f"target {seconds_label(target)}", text_anchor="end"))
    return "".join(parts)


@dataclass(frozen=True)
class Point:
    when: datetime
    value: float
    kind: str  # synthetic | archive | boot | incident
    verdict: str  # pass | fail | unknown
    label: str  # what the point's title says (the report's path)
    flagged: bool = False  # tampered: drawn, crossed out


def _mark(x: float, y: float, point: Point) -> str:
    colour = COLOURS.get(point.verdict, COLOURS["unknown"])
    shape = SHAPES.get(point.kind, "circle")
    tip = (f"{point.when:%Y-%m-%dT%H:%M:%SZ} {point.kind} {point.verdict} {point.value:.1f} s "
           f"{'TAMPERED ' if point.flagged else ''}{point.label}")
    title = f"<title>{escape(tip[:300])}</title>"
    cls = f'class="point point-{escape(point.kind)}{" tampered" if point.flagged else ""}"'
    if shape == "square":
        body = f'<rect {cls} x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}">{title}</rect>'
    elif shape == "triangle":
        body = (f'<polygon {cls} points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y + 4:.1f} {x - 5:.1f},{y + 4:.1f}" '
                f'fill="{colour}">{title}</polygon>')
    elif shape == "diamond":
        body = (f'<polygon {cls} points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} '
                f'{x - 5:.1f},{y:.1f}" fill="{colour}">{title}</polygon>')
    else:
        body = f'<circle {cls} cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{title}</circle>'
    if point.flagged:
        body += (f'<path d="M{x - 6:.1f},{y - 6:.1f}L{x + 6:.1f},{y + 6:.1f}M{x - 6:.1f},{y + 6:.1f}'
                 f'L{x + 6:.1f},{y - 6:.1f}" stroke="#24292f" stroke-width="1.5"/>')
    return body


def trend_svg(chart_id: str, title: str, points: Sequence[Point], target: float | None) -> str:
    """Values over time, the target as a dashed line (or a note when it is far above every value)."""
    width, height, left, top, plot_h = WIDTH, 230, 70, 28, 150
    plot_w = width - left - 30
    parts = [SVG_HEAD.format(w=width, h=height, id=chart_id), _text(4, 14, title, font_weight="bold")]
    drawable = [p for p in points if 0.0 <= p.value <= MAX_PLOTTED]
    if len(drawable) < len(points):
        parts.append(_text(width - 30, 14, f"{len(points) - len(drawable)} value(s) out of range not drawn",
                           text_anchor="end", fill="#cf222e"))
    points = drawable
    if target is not None and not 0.0 < target <= MAX_PLOTTED:
        target = None
    if not points:
        parts += [_text(left, top + plot_h / 2, "no report with this measurement yet", fill="#6e7781"), "</svg>"]
        return "".join(parts)
    biggest = max(p.value for p in points)
    show_target = target is not None and target <= 4 * max(biggest, 1e-9)
    top_value = max(biggest, target if show_target and target is not None else 0.0, 1e-9) * 1.15
    step = nice_step(top_value, 4)
    top_value = math.ceil(top_value / step) * step
    first, last = min(p.when for p in points), max(p.when for p in points)
    span = max((last - first).total_seconds(), 1.0)

    def x_of(moment: datetime) -> float:
        offset = (moment - first).total_seconds()
        return left + (plot_w / 2 if first == last else offset / span * plot_w)

    def y_of(value: float) -> float:
        return top + plot_h - value / top_value * plot_h

    for i in range(round(top_value / step) + 1):
        y = y_of(i * step)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#d0d7de"/>')
        parts.append(_text(left - 4, y + 4, seconds_label(i * step), text_anchor="end"))
    parts.append(_text(left, top + plot_h + 16, f"{first:%Y-%m-%d %H:%MZ}"))
    if first != last:
        parts.append(_text(left + plot_w, top + plot_h + 16, f"{last:%Y-%m-%d %H:%MZ}", text_anchor="end"))
    if target is not None and show_target:
        y = y_of(target)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#cf222e" '
                     f'stroke-dasharray="6 4" class="target"/>')
        parts.append(_text(left + plot_w, y - 4, f"target {seconds_label(target)}", text_anchor="end", fill="#cf222e"))
    elif target is not None:
        parts.append(_text(left + plot_w, top - 4, f"target {seconds_label(target)}: far above every value, "
                                                   "off this scale", text_anchor="end", fill="#cf222e"))
    parts += [_mark(x_of(p.when), y_of(p.value), p) for p in sorted(points, key=lambda p: p.when)]
    legend = "  ".join(f"{shape}: {kind}" for kind, shape in SHAPES.items())
    parts.append(_text(left, height - 8, f"{legend}; green pass, red fail, grey unknown; × tampered",
                       fill="#57606a"))
    parts.append("</svg>")
    return "".join(parts)
