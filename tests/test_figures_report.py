"""Figures (sim.figures) and the self-contained HTML report (sim.html_report, `sim report`).

The figures are checked structurally (titles, labels, one artist per group) on a small
run, Chinese labels are checked to render with a real CJK font, and the report is opened
in headless Chromium (through Playwright, driving the system Chromium) to check that it
loads offline with every image decoded and nothing logged as an error.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

import sim
from sim import figures
from sim.experiment import ExperimentResult, replicate

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / (
    "six_types.yaml" if (ROOT / "scenarios" / "six_types.yaml").exists() else "quanxueli.yaml")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def exp() -> ExperimentResult:
    sc = sim.load_scenario(SCENARIO)
    sc = sc.model_copy(update={"run": sc.run.model_copy(update={"horizon_days": 7})})
    return replicate(sc, replications=2)


@pytest.fixture(scope="module")
def n_types(exp: ExperimentResult) -> int:
    return int(exp.measured["community_type"].nunique())


def visible_axes(fig: Figure) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def assert_labelled(fig: Figure) -> None:
    """A figure title (or axes titles), and x and y labels with units or what is counted."""
    sup = fig.get_suptitle()
    axes = visible_axes(fig)
    assert axes
    assert sup or all(ax.get_title() for ax in axes)
    assert any(ax.get_xlabel() for ax in axes)
    assert any(ax.get_ylabel() for ax in axes)


def render_warnings(fig: Figure) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(BytesIO(), format="png")
    return [str(w.message) for w in caught]


# --------------------------------------------------------------------------- figures
def test_compliance_by_type_has_one_bar_and_error_bar_per_type(
    exp: ExperimentResult, n_types: int
) -> None:
    fig = figures.compliance_by_type(exp)
    assert_labelled(fig)
    assert "community type" in fig.get_suptitle()
    axes = visible_axes(fig)
    assert [ax.get_title().split("\n")[0].split()[-1] for ax in axes] == [
        "respond", "site", "finish", "plan", "met"]
    for ax in axes:
        assert "%" in ax.get_xlabel()
        (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert len(bars.patches) == n_types
        assert bars.errorbar is not None
        segments = bars.errorbar.lines[2][0].get_segments()
        assert len(segments) == n_types
    names = [t.get_text() for t in axes[0].get_yticklabels()]
    assert len(names) == n_types
    assert any("新建商品房小区 new commercial estate" in n for n in names)
    assert not render_warnings(fig)


def test_stage_cdf_has_a_curve_and_a_crossing_per_type(
    exp: ExperimentResult, n_types: int
) -> None:
    fig = figures.stage_cdf(exp)
    assert_labelled(fig)
    axes = visible_axes(fig)
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_xscale() == "log"
        assert "time from arrival" in ax.get_xlabel()
        assert "%" in ax.get_ylabel()
        lines = ax.get_lines()
        steps = [ln for ln in lines if ln.get_drawstyle() == "steps-post"]
        markers = [ln for ln in lines if ln.get_marker() == "o"]
        targets = [ln for ln in lines if ln.get_linestyle() == "--"]
        assert len(steps) == n_types
        assert len(markers) == n_types
        assert len(targets) == 1
        assert any(t.get_text().startswith("target") for t in ax.texts)
    if n_types > 1:
        assert len(fig.legends[0].get_texts()) == n_types


def test_compliance_by_hour_has_a_line_and_band_per_stage(exp: ExperimentResult) -> None:
    fig = figures.compliance_by_hour(exp)
    assert_labelled(fig)
    axes = visible_axes(fig)
    assert len(axes) == 6  # joint, four stages, requests per hour
    for ax in axes[:5]:
        assert len(ax.get_lines()) == 1
        assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 1
        assert "%" in ax.get_ylabel()
    assert len(axes[-1].patches) == 24
    assert "per day" in axes[-1].get_ylabel()
    assert "hour" in axes[-1].get_xlabel()


def test_utilisation_heatmap_rows_are_pools_or_specs(exp: ExperimentResult) -> None:
    pools = exp.pools.loc[exp.pools["replication"] == 0]
    fig = figures.utilisation_heatmap(exp)
    assert_labelled(fig)
    (ax,) = visible_axes(fig)
    (im,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert im.get_array().shape == (len(pools), 24)
    assert len(ax.get_yticklabels()) == len(pools)
    assert "%" in fig.axes[-1].get_ylabel()  # the colour bar says what the colour means
    # hundreds of pools (the zone): one row per pool spec instead
    fig = figures.utilisation_heatmap(exp, max_rows=3)
    (ax,) = visible_axes(fig)
    (im,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert im.get_array().shape == (pools["spec"].nunique(), 24)
    assert "mean over pools" in ax.get_title()


def test_backlog_has_a_line_per_staff_kind(exp: ExperimentResult) -> None:
    fig = figures.backlog_over_time(exp)
    assert_labelled(fig)
    (ax,) = visible_axes(fig)
    assert len(ax.get_lines()) == exp.backlog["kind"].nunique()
    assert "days" in ax.get_xlabel()
    assert "waiting" in ax.get_ylabel()


@pytest.mark.parametrize("module", ["sim.figures", "sim.report", "sim.html_report"])
def test_reporting_modules_do_not_import_simpy(module: str) -> None:
    code = f"import {module}, sys; assert 'simpy' not in sys.modules, 'simpy imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_cjk_labels_render_without_missing_glyphs(exp: ExperimentResult) -> None:
    assert figures.cjk_font(), "no CJK font found: apt-get install fonts-wqy-microhei"
    fig = figures.compliance_by_category(exp)
    labels = [t.get_text() for t in visible_axes(fig)[0].get_yticklabels()]
    assert "电梯故障 lift fault" in labels
    missing = [w for w in render_warnings(fig) if "missing from font" in w]
    assert not missing, missing[:3]


def test_without_a_cjk_font_labels_fall_back_to_english(
    exp: ExperimentResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figures.style, "cjk_font", lambda: None)
    fig = figures.compliance_by_category(exp)
    labels = [t.get_text() for t in visible_axes(fig)[0].get_yticklabels()]
    assert "lift fault" in labels
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert not [t for t in texts if re.search(r"[\u4e00-\u9fff]", t)]
    assert not [w for w in render_warnings(fig) if "missing from font" in w]


# --------------------------------------------------------------------------- HTML report
def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    proc = run_cli("run", SCENARIO, "-o", out, "--replications", "2", "--report")
    assert proc.returncode == 0, proc.stderr
    path = out / "report.html"
    assert path.is_file()
    assert f"Report: {path}" in " ".join(proc.stdout.split())
    return path


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "url(" not in text  # no fonts or images pulled by CSS
    srcs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", text)
    assert len(srcs) == len(re.findall(r"<img\b", text)) >= 5
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    for needed in ("电梯故障 lift fault", "全部达标 all met", "Staff pools", "censored",
                   "±", "p50", "p95"):
        assert needed in text


def test_report_loads_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run should install chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    if os.environ.get("CI"):
        import playwright.sync_api as sync_api  # a missing install fails in CI
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    remote: list[str] = []
    shot = tmp_path / "shot.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
            page.route(re.compile(r"^(https?|wss?|ftp)://"),
                       lambda route: (remote.append(route.request.url), route.abort()))
            page.goto(report.as_uri(), wait_until="load")
            state = page.evaluate("""() => ({
                charset: document.characterSet,
                images: Array.from(document.images).map(
                    i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0),
                text: document.body.innerText,
            })""")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert not remote, remote
    assert state["charset"] == "UTF-8"
    assert len(state["images"]) >= 5 and all(state["images"]), state["images"]
    assert "电梯故障" in state["text"]
    from PIL import Image

    with Image.open(shot) as im:
        width, height = im.size
        colours = im.convert("RGB").resize((width // 4, height // 4)).getcolors(1 << 20)
    assert width == 1280 and height > 3000  # the whole page: tables and six figures
    assert colours is not None and len(colours) > 100  # not a blank page
    keep = os.environ.get("SIM_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


@pytest.mark.parametrize("kind", ["empty dir", "missing", "file", "no parts"])
def test_report_on_a_non_run_directory_is_one_line_exit_2(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x"
    if kind == "empty dir":
        target.mkdir()
    elif kind == "file":
        target.write_text("not a run\n")
    elif kind == "no parts":
        target.mkdir()
        shutil.copy(SCENARIO, target / "scenario.resolved.yaml")
    proc = run_cli("report", target)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and str(target) in lines[0]
    assert not (target / "report.html").exists() if target.is_dir() else True
