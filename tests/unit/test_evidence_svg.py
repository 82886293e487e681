"""The pictures: well-formed SVG (parsed as XML), values where they belong, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from dr_lib.evidence.svg import LABEL_WIDTH, PLOT_WIDTH, Bar, Point, nice_step, seconds_label, timeline_svg, trend_svg

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _x(element: ET.Element, attr: str = "x") -> float:
    return float(element.get(attr, "nan"))


@pytest.mark.parametrize(("span", "step"), [(45.0, 10.0), (1.0, 0.2), (900.0, 200.0), (0.0, 1.0), (7.0, 2.0)])
def test_ticks_are_round(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


@pytest.mark.parametrize(("seconds", "text"), [(15.2, "15.2 s"), (900, "15 min"), (3600, "1 h"), (5400, "1.5 h")])
def test_seconds_label(seconds: float, text: str) -> None:
    assert seconds_label(seconds) == text


def test_timeline_places_bars_markers_and_the_rto_budget() -> None:
    bars = [Bar("1 source", 0.0, 20.0, "passed"), Bar("seed", 2.0, 5.0, "phase", "34 objects <x>"),
            Bar("4 restore", 20.0, 10.0, "failed"), Bar("5 verify", 30.0, 10.0, "skipped")]
    root = _parse(timeline_svg(bars, total=40.0, loss=20.0, recovered=40.0, rto_target=900.0, rto=20.0))
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if "class" in r.attrib]
    scale = PLOT_WIDTH / 40.0
    assert [r.get("class") for r in rects] == ["bar-passed", "bar-phase", "bar-failed", "bar-skipped"]
    assert _x(rects[2]) == pytest.approx(LABEL_WIDTH + 20.0 * scale, abs=0.1)
    assert float(rects[2].get("width", "0")) == pytest.approx(10.0 * scale, abs=0.1)
    loss = root.find(".//s:line[@class='marker-loss']", NS)
    assert loss is not None and _x(loss, "x1") == pytest.approx(LABEL_WIDTH + 20.0 * scale, abs=0.1)
    target = root.find(".//s:rect[@id='rto-target']", NS)
    measured = root.find(".//s:rect[@id='rto-measured']", NS)
    assert target is not None and measured is not None
    ratio = float(measured.get("width", "0")) / float(target.get("width", "1"))
    assert ratio == pytest.approx(20.0 / 900.0, abs=0.001)
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any("34 objects <x>" in t for t in titles)  # escaped in the markup, intact once parsed


def test_an_rto_over_its_target_is_drawn_past_the_target_in_red() -> None:
    root = _parse(timeline_svg([], total=10.0, loss=0.0, recovered=None, rto_target=60.0, rto=90.0))
    target, measured = root.find(".//s:rect[@id='rto-target']", NS), root.find(".//s:rect[@id='rto-measured']", NS)
    assert target is not None and measured is not None
    assert float(measured.get("width", "0")) == pytest.approx(PLOT_WIDTH, abs=0.1)
    assert float(target.get("width", "0")) == pytest.approx(PLOT_WIDTH * 60 / 90, abs=0.1)
    assert measured.get("fill") == "#cf222e"


def test_unmeasured_rto_is_said_in_words() -> None:
    svg = timeline_svg([Bar("1 source", 0.0, 3.0, "failed")], total=3.0, loss=None, recovered=None,
                       rto_target=900.0, rto=None)
    assert "RTO not measured" in svg and 'id="rto-measured"' not in svg
    _parse(svg)


def _points(values: list[float], verdict: str = "pass") -> list[Point]:
    return [Point(T0 + timedelta(days=i), v, "synthetic", verdict, f"r{i}") for i, v in enumerate(values)]


def test_trend_puts_each_value_at_its_height_and_the_target_line() -> None:
    points = [*_points([10.0, 20.0, 30.0]), Point(T0 + timedelta(days=3), 40.0, "boot", "fail", "b", flagged=True)]
    root = _parse(trend_svg("trend-rto", "RTO <per> drill", points, target=50.0))
    circles = root.findall(".//s:circle", NS)
    ys = [float(c.get("cy", "0")) for c in circles]
    assert ys[0] > ys[1] > ys[2]  # larger values are higher up
    assert (ys[0] - ys[1]) == pytest.approx(ys[1] - ys[2], abs=0.2)  # linear
    xs = [float(c.get("cx", "0")) for c in circles]
    assert xs[0] < xs[1] < xs[2]
    diamond = root.find(".//s:polygon", NS)
    assert diamond is not None and "tampered" in diamond.get("class", "") and diamond.get("fill") == "#cf222e"
    target = root.find(".//s:line[@class='target']", NS)
    assert target is not None and float(target.get("y1", "0")) < min(ys)


def test_a_far_target_is_noted_not_drawn_and_broken_values_are_left_out() -> None:
    svg = trend_svg("trend-rpo", "RPO", [*_points([1.0, 2.0]), *_points([1e12])], target=3600.0)
    assert "off this scale" in svg and 'class="target"' not in svg
    assert "1 value(s) out of range not drawn" in svg
    assert len(_parse(svg).findall(".//s:circle", NS)) == 2


def test_no_points_and_one_point() -> None:
    assert "no report with this measurement yet" in trend_svg("t", "RTO", [], target=900.0)
    one = _parse(trend_svg("t", "RTO", _points([5.0]), target=None))
    assert len(one.findall(".//s:circle", NS)) == 1
