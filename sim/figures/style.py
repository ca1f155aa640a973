"""Shared look of the figures: stage and staff labels, the CJK font, the Agg canvas.

Chinese labels need a font with CJK glyphs.  :func:`cjk_font` is the one place that
decides: it looks for such a font at run time (unless the environment variable
``SIM_CJK_FONT`` is ``0``, which forces the fallback), and figures use it after DejaVu
Sans.  Without one, labels fall back to English, and any other Chinese text left in a
figure (a community or pool named in Chinese) is stripped, so no glyph is drawn as an
empty box.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from numpy.typing import NDArray

from sim.stages import OUTCOME_LABELS, STAGE_TABLE

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

    from sim.config import Scenario, SlaRule
    from sim.results import ExperimentResult


P = ParamSpec("P")

KIND_LABELS = {
    "service_desk": ("服务台", "service desk"), "technician": ("维修人员", "technicians"),
    "community_cadre": ("社区两委干部", "community cadres"),
    "party_instructor": ("党建指导员", "party instructors"),
}
KIND_ORDER = tuple(KIND_LABELS)

CJK_FAMILIES = (
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP",
    "Noto Sans SC", "Source Han Sans SC", "Droid Sans Fallback", "Microsoft YaHei",
    "PingFang SC", "SimHei",
)
_CJK_FILE_HINTS = ("wqy", "notosanscjk", "notosanssc", "sourcehansans", "droidsansfallback",
                   "msyh", "pingfang", "simhei")
_CJK_CHARS = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")


# --------------------------------------------------------------------------- fonts, labels
CJK_ENV = "SIM_CJK_FONT"
"""Environment variable: ``0`` (or ``false``, ``no``, ``off``) draws figures as if no CJK
font were installed -- English labels -- even where one is."""


def cjk_font() -> str | None:
    """Family name of the font figures use for Chinese, or ``None`` (English labels).

    ``None`` when no installed font has Chinese glyphs, or when ``SIM_CJK_FONT=0``.
    """
    if os.environ.get(CJK_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    return _installed_cjk_font()


@functools.cache
def _installed_cjk_font() -> str | None:
    """Family name of an installed font with Chinese glyphs, or ``None``.

    Matplotlib's font cache may predate the font's installation (it is rebuilt only when
    matplotlib changes), so font files with a known name are registered directly too.
    """
    def first_known() -> str | None:
        known = {f.name for f in font_manager.fontManager.ttflist}
        return next((f for f in CJK_FAMILIES if f in known), None)

    found = first_known()
    if found:
        return found
    for path in font_manager.findSystemFonts():
        base = Path(path).name.lower().replace("-", "").replace("_", "")
        if any(h in base for h in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return first_known()


def bilingual(zh: str, en: str, fallback: str = "") -> str:
    """``"电梯故障 lift fault"``; English alone when no CJK font is installed."""
    if zh and en:
        return f"{zh} {en}" if cjk_font() else en
    return plain(zh or en, fallback) or fallback


def plain(text: str, fallback: str = "") -> str:
    """``text`` as is, or stripped of Chinese characters when they cannot be drawn."""
    if cjk_font() or not _CJK_CHARS.search(text):
        return text
    return re.sub(r"\s+", " ", _CJK_CHARS.sub("", text)).strip(" ()·") or fallback


def stage_label(stage: str) -> str:
    """``响应 respond`` (``respond`` without a CJK font); ``joint`` is ``all met``."""
    return bilingual(*OUTCOME_LABELS[stage], fallback=stage)


def kind_label(kind: str) -> str:
    """``维修人员 technicians`` (English alone without a CJK font)."""
    zh, en = KIND_LABELS.get(kind, ("", kind))
    return bilingual(zh, en, fallback=kind)


def type_labels(types: Iterable[str]) -> dict[str, str]:
    """Bilingual labels of community types, from the presets (the type name otherwise)."""
    from sim.config import community_presets

    presets = community_presets()
    return {t: bilingual(presets.get(t, {}).get("label_zh", ""),
                         presets.get(t, {}).get("label_en", ""), fallback=t) for t in types}


def category_labels(scenario: Scenario) -> dict[str, str]:
    """Bilingual labels of a scenario's request categories."""
    return {k: bilingual(c.label_zh, c.label_en, fallback=k)
            for k, c in scenario.categories.items()}


def fmt_minutes(m: float) -> str:
    """``20 min``, ``4 h``, ``1 d``, ``1.5 h``."""
    if m < 120:
        return f"{m:.0f} min"
    if m < 2880:
        return f"{m / 60:.3g} h"
    return f"{m / 1440:.3g} d"


def _styled(fn: Callable[P, Figure]) -> Callable[P, Figure]:
    """Build the figure with the CJK fallback font; text keeps its font once created.

    Without a CJK font, Chinese characters still in the figure's text (names from the
    scenario) are stripped, so nothing is drawn as empty boxes.
    """
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        font = cjk_font()
        family = ["DejaVu Sans", *([font] if font else [])]
        style: dict[RcKeyType, Any] = {
            "font.family": family, "font.size": 9.5, "axes.titlesize": 10.5,
            "axes.spines.top": False, "axes.spines.right": False,
            "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False,
        }
        with matplotlib.rc_context(style):
            fig = fn(*args, **kwargs)
        if font is None:
            _strip_chinese(fig)
        FigureCanvasAgg(fig)  # explicit Agg canvas: no pyplot, no backend switching
        return fig
    return wrapper


def _strip_chinese(fig: Figure) -> None:
    """Remove Chinese characters from every text of ``fig`` (no font can draw them)."""
    for ax in fig.axes:  # tick labels are redrawn from their formatter: set new ones
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t.get_text() for t in axis.get_ticklabels()]
            if any(_CJK_CHARS.search(t) for t in labels):
                axis.set_ticks(axis.get_ticklocs(), [plain(t, "?") for t in labels])
    for t in fig.findobj(Text):
        assert isinstance(t, Text)
        text = t.get_text()
        if _CJK_CHARS.search(text):
            t.set_text(plain(text, "?"))


def _rule(exp: ExperimentResult, name: str | None) -> SlaRule:
    rules = exp.scenario.sla
    if name is None:
        return rules[0]
    for r in rules:
        if r.name == name:
            return r
    raise KeyError(f"no SLA rule named {name!r}")


def _targets(rule: SlaRule) -> dict[str, float | None]:
    return {s.name: getattr(rule, s.sla_field) for s in STAGE_TABLE}


def _stage_title(stage: str, targets: Mapping[str, float | None], sep: str = "  ") -> str:
    t = targets.get(stage)
    return stage_label(stage) + (f"{sep}≤ {fmt_minutes(t)}" if t else "")


def _clipped_errors(d: pd.DataFrame) -> NDArray[np.float64]:
    """Asymmetric error bars of shares, the CI clipped to [0, 1]; zero where unknown."""
    mean = d["mean"].to_numpy(float)
    lo = np.clip(d["ci_low"].to_numpy(float), 0, 1)
    hi = np.clip(d["ci_high"].to_numpy(float), 0, 1)
    return np.asarray(np.nan_to_num(np.vstack([mean - lo, hi - mean]).clip(min=0)), float)


def _empty(fig: Figure, title: str, message: str) -> Figure:
    """A figure that says why there is nothing to draw (nothing measured, no target)."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#555",
            transform=ax.transAxes)
    fig.suptitle(title, fontsize=11.5)
    return fig
