"""Answers, citations, documents and the admin tables as HTML, from the Jinja templates beside this file.

Every value reaches the page through Jinja's autoescaping, so text a user or the corpus typed
(``<img onerror=…>``) is shown as that text; this module only decides *what* to show.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jinja2

from ..chunking import unit_key, unit_path
from ..index import Index
from ..parsing import Document, Unit, UnitKind

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("assistant.web", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_BETWEEN_TAGS = re.compile(r">\s+<")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+\-.!|~$])")


def md_text(text: str) -> str:
    """Markdown that displays ``text`` literally: Markdown syntax backslash-escaped, then HTML-escaped."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text))


@cache
def _template(name: str) -> jinja2.Template:
    return TEMPLATES.get_template(name)


def render(name: str, **values: Any) -> str:
    """A template as one line: the Chatbot reads its messages as Markdown, where a blank or indented line would end the HTML."""
    return _BETWEEN_TAGS.sub("><", _template(name).render(**values)).strip()


# -- units and their text ------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool = False


@dataclass(frozen=True)
class UnitView:
    """One citable unit, ready for a template: anchor, heading, path, paragraphs of (marked) segments."""

    anchor: str
    heading: str
    path: str
    paragraphs: tuple[tuple[Segment, ...], ...]
    link: str
    target: bool = False


def point_label(point: int | None, title: str) -> str:
    return f"第{point}条「{title}」" if point is not None else title


def unit_heading(unit: Unit) -> str:
    if unit.kind is UnitKind.POINT:
        return f"{unit.label}{unit.title}"
    return unit.label or unit.title


def unit_param(unit: Unit) -> str:
    """The ``point`` of a deep link: the unit's number, or its kind for the header and preamble."""
    return str(unit.number) if unit.number is not None else unit.kind.value


def deep_link(doc: Document, unit: Unit) -> str:
    return "/?" + urlencode({"doc": doc.doc_id, "point": unit_param(unit)})


def anchor_id(doc: Document, unit: Unit) -> str:
    """An HTML id per unit, stable and safe whatever characters the document id holds."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "", doc.doc_id)[:40]
    digest = hashlib.sha1(doc.doc_id.encode()).hexdigest()[:6]
    return f"u-{safe}-{digest}-{unit_param(unit)}"


def _spans(text: str, sentences: Sequence[str], quote: str) -> list[tuple[int, int]]:
    """Where the quoted sentences sit in the unit's text (a quote is whole sentences, gaps shown as ……)."""
    spans, cursor = [], 0
    for sentence in sentences:
        at = text.find(sentence, cursor)
        if at < 0:
            continue
        cursor = at + len(sentence)
        if quote and sentence in quote:
            spans.append((at, cursor))
    return spans


def _term_spans(text: str, term: str) -> list[tuple[int, int]]:
    if not term:
        return []
    return [(m.start(), m.end()) for m in re.finditer(re.escape(term), text, flags=re.IGNORECASE)]


def _paragraphs(text: str, spans: list[tuple[int, int]]) -> tuple[tuple[Segment, ...], ...]:
    segments: list[Segment] = []
    pos = 0
    for start, end in spans:
        segments.append(Segment(text[pos:start]))
        segments.append(Segment(text[start:end], marked=True))
        pos = end
    segments.append(Segment(text[pos:]))
    # Split on the unit's paragraph breaks, keeping the marks.
    out: list[list[Segment]] = [[]]
    for seg in segments:
        for i, piece in enumerate(seg.text.split("\n")):
            if i:
                out.append([])
            if piece:
                out[-1].append(Segment(piece, seg.marked))
    return tuple(tuple(p) for p in out if p)


def unit_view(doc: Document, unit: Unit, *, quote: str = "", term: str = "", target: bool = False) -> UnitView:
    spans = _spans(unit.text, unit.sentences, quote) if quote else _term_spans(unit.text, term)
    return UnitView(anchor_id(doc, unit), unit_heading(unit), unit_path(doc, unit), _paragraphs(unit.text, spans), deep_link(doc, unit), target)


def unit_html(doc: Document, unit: Unit, quote: str = "") -> str:
    """A unit's full text, quoted sentences in <mark>, headed by its path (the desktop source panel)."""
    return render("source.html", view=unit_view(doc, unit, quote=quote))


def find_unit(index: Index, doc_id: str, point: int | None, title: str) -> tuple[Document, Unit] | None:
    doc = index.docs_by_id.get(doc_id)
    if doc is None:
        return None
    for u in doc.units:
        if u.number == point and (point is not None or u.title == title):
            return doc, u
    return None


# -- chat messages ------------------------------------------------------------------------
@dataclass(frozen=True)
class CiteView:
    kind: str  # 出处 for an answer's source, 相关条目 for an abstention's nearest points
    label: str
    quote: str
    view: UnitView | None


def _meaningful(text: str) -> str:
    return re.sub(r"[\W_]", "", text)


def _cite_label(c: Mapping[str, Any], many_docs: bool) -> str:
    if c.get("point") is not None and (c.get("section") or "").endswith("、"):
        label = point_label(c["point"], c["point_title"])
    else:
        label = c.get("section") or point_label(c.get("point"), c.get("point_title", ""))
    return f"《{c['doc_title']}》{label}" if many_docs else label


def question_html(question: str) -> str:
    return render("question.html", question=question)


def pending_html() -> str:
    return render("pending.html")


def answer_html(result: Mapping[str, Any], index: Index | None) -> str:
    """One assistant message: the quotes, each with its collapsible source (path and highlighted sentence) right under it."""
    abstained = bool(result["abstained"])
    many = index is None or len(index.documents) > 1
    cites = []
    for c in result["citations"]:
        found = find_unit(index, c["doc_id"], c["point"], c["point_title"]) if index is not None else None
        view = unit_view(*found, quote=c["quote"]) if found else None
        cites.append(CiteView("相关条目" if abstained else "出处", _cite_label(c, many), "" if abstained else c["quote"], view))
    note = [ln for ln in result["answer"].split("\n") if not ln.startswith(("· ", "以下条目"))] if abstained else []
    rewritten = result["rewritten_question"]
    return render(
        "answer.html",
        abstained=abstained,
        note=note,
        answer_lines=[] if abstained or cites else result["answer"].split("\n"),
        partial=result.get("coverage") == "partial",
        summary=result.get("summary") or "",
        used_history=bool(result.get("used_history")),
        reworded=_meaningful(rewritten) != _meaningful(result["question"]),
        rewritten=rewritten,
        cites=cites,
    )


# -- the document browser -------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """A stretch of a document the browser shows at once: its preface, one part, or the whole."""

    doc: Document
    part: str | None  # None: the whole document; "": the header and preamble
    units: tuple[Unit, ...]

    @property
    def title(self) -> str:
        if self.part is None:
            return "全文"
        return self.part or "通知与总体要求"


def sections(doc: Document) -> list[Section]:
    preface = tuple(u for u in doc.units if u.number is None)
    out = [Section(doc, None, doc.units)]
    if preface:
        out.append(Section(doc, "", preface))
    for part in doc.parts:
        out.append(Section(doc, part, tuple(u for u in doc.units if u.part == part and u.number is not None)))
    loose = tuple(u for u in doc.units if u.number is not None and u.part not in doc.parts)
    if loose and doc.parts:  # points outside any part heading still need a home
        out.append(Section(doc, "其他条目", loose))
    return out


def section_html(section: Section, target: str = "", term: str = "") -> str:
    views = [unit_view(section.doc, u, term=term, target=unit_key(section.doc, u) == target) for u in section.units]
    return render("document.html", doc=section.doc, title=section.title, views=views)


def search_html(index: Index, term: str, limit: int = 50) -> str:
    term = term.strip()
    hits = [(d, u) for d in index.documents for u in d.units if term and term.lower() in u.text.lower()] if term else []
    views = [unit_view(d, u, term=term) for d, u in hits[:limit]]
    return render("search.html", term=term, count=len(hits), views=views, limit=limit)


def header_html(index: Index | None) -> str:
    titles = [d.title for d in index.documents] if index is not None else []
    return render("header.html", titles=titles)


def banner_html(loading: bool, error: str) -> str:
    return render("banner.html", loading=loading, error=error)


def status_html(message: str, tone: str = "info") -> str:
    """One message in the page's live region: each replaces the last, so they never stack up."""
    return render("status.html", message=message, tone=tone) if message else ""


def admin_html(summary: Any) -> str:
    return render("admin.html", s=summary)


def hint_html(message: str) -> str:
    return render("hint.html", message=message)


# -- adding documents (the admin view) ----------------------------------------------------------
KIND_ZH = {
    "header": "标题与发文信息", "preamble": "导语", "point": "工作要点", "article": "条", "item": "编号条目",
    "heading": "章节标题", "paragraph": "段落", "table_row": "表格行", "signoff": "落款",
}
JOB_ZH = {"idle": "未进行", "running": "进行中", "done": "已完成", "failed": "失败"}
#: Below this share of lines held by some unit, the preview asks for a look at the parse.
LOW_COVERAGE = 0.9


def upload_form_html(max_mb: float, suffixes: Sequence[str]) -> str:
    return render("upload.html", max_mb=f"{max_mb:g}", suffixes=list(suffixes))


def upload_preview_html(p: Any) -> str:
    """A parse preview (``upload_api.PreviewOut``): facts, units by kind and level, first items, coverage, warnings."""
    return render("upload_preview.html", **_preview_values(p))


def upload_added_html(added: Any) -> str:
    """The outcome of an upload (``upload_api.AddResponse``), its preview and the rebuild it started."""
    return render("upload_added.html", a=added, job_zh=JOB_ZH, **_preview_values(added.preview))


def corpus_html(corpus: Any) -> str:
    """The corpus documents and the rebuild status (``upload_api.CorpusResponse``)."""
    return render("upload_status.html", c=corpus, job_zh=JOB_ZH)


def _preview_values(p: Any) -> dict[str, Any]:
    kinds = [(KIND_ZH.get(k, k), n) for k, n in p.units_by_kind.items()]
    return {"p": p, "kinds": kinds, "percent": round(p.coverage * 100), "low": p.coverage < LOW_COVERAGE}
