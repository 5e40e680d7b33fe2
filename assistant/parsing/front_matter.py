"""What a document says about itself: title, issuer, 发文字号, date, recipients.

Read from an optional ``---`` YAML-like block (which always wins) and from the
document's own front lines: a 关于印发《X》的通知 cover letter, a red-header
document number such as 某教发〔2021〕12号, and the 落款 date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import ParseError
from .numerals import chinese_to_int, digits_year

_CN_DATE = "〇零一二三四五六七八九十"
DATE = re.compile(
    rf"((?:19|20)\d{{2}}|[二][〇零一二三四五六七八九]{{3}})\s*年\s*([\d{_CN_DATE}]{{1,3}})\s*月\s*([\d{_CN_DATE}]{{1,3}})\s*日"
)
#: A line that is nothing but a date: the 落款 date or a header date.
DATE_LINE = re.compile(rf"^[（(]?\s*{DATE.pattern}\s*[）)]?$")
DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5A-Za-z]{1,12}[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,4}\s*号")
#: A release line under a title: （2021年3月15日青岚区教育局发布）, (2019年5月8日局务会议通过).
RELEASE_LINE = re.compile(rf"^[（(]\s*{DATE.pattern}[^（()）]{{0,40}}[）)]$")
_RELEASER = re.compile(r"日\s*([\u4e00-\u9fa5][\u4e00-\u9fa5、]{1,40}?)(?:第[\d一二三四五六七八九十]+次[\u4e00-\u9fa5]{0,10})?(?:发布|印发|公布|通过|制定)")
_COVER = re.compile(r"关于(?:印发|转发|发布|公布|下发)\s*《([^》]+)》")
_SENTENCE = re.compile(r"[。！？；!?;]")


@dataclass(frozen=True)
class FrontMatter:
    title: str
    issuer: str
    doc_number: str
    date: str  # ISO yyyy-mm-dd, or ""
    recipients: str
    cover: bool  # the header is a 关于印发/转发 cover letter


def split_front_matter(text: str) -> tuple[dict[str, str], str, int]:
    """Read a ``---`` block of ``key: value`` lines; return (meta, body, number of lines the block took).

    Parsed line by line rather than as YAML: real headers hold values such as
    ``source: repo @ sha : path`` that strict YAML rejects.
    """
    stripped = text.lstrip("\ufeff")
    if not stripped.startswith("---"):
        return {}, text, 0
    m = re.match(r"---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", stripped, re.DOTALL)
    if not m:
        raise ParseError("front matter opened with '---' but never closed; add a closing '---' line")
    meta: dict[str, str] = {}
    for n, line in enumerate(m.group(1).splitlines(), start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kv = re.match(r"^\s*([A-Za-z_][\w-]*)\s*:\s?(.*)$", line)
        if not kv:
            raise ParseError(f"front matter line {n} is not 'key: value': {line!r}")
        meta[kv.group(1)] = kv.group(2).strip().strip("'\"")
    return meta, stripped[m.end():], m.group(0).count("\n")


def iso_date(text: str) -> str:
    """The first date in ``text`` as yyyy-mm-dd (二〇二一年三月五日 too), or ""."""
    m = DATE.search(text or "")
    if m:
        try:
            year, month, day = int(digits_year(m.group(1))), chinese_to_int(m.group(2)), chinese_to_int(m.group(3))
        except ValueError:
            return ""
        if 1 <= month <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month:02d}-{day:02d}"
    m2 = re.search(r"((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})", text or "")
    return f"{int(m2.group(1)):04d}-{int(m2.group(2)):02d}-{int(m2.group(3)):02d}" if m2 else ""


def year_of(*texts: str) -> int | None:
    for t in texts:
        m = re.search(r"((?:19|20)\d{2})(?:\s*年|-\d)", t or "")
        if m:
            return int(m.group(1))
    return None


def is_sentence(line: str) -> bool:
    return bool(_SENTENCE.search(line))


#: A red header's handling lines beside the 文号: who signed it off, its urgency and classification.
_HANDLING = re.compile(r"^(?:签发人|签发|密级|紧急程度)\s*[:：]|^(?:特急|加急|急件|特提|平急|机密|秘密)(?:★.*)?$")


def _title_lines(head: list[str]) -> list[str]:
    """The leading lines that make up a title: before any sentence, date, 发文字号 or recipients line."""
    out: list[str] = []
    for line in head:
        if is_sentence(line) or DATE_LINE.match(line) or RELEASE_LINE.match(line) or line.endswith(("：", ":")) or len(line) > 60:
            break
        if DOC_NUMBER.search(line) or line.endswith("文件") or re.match(r"^\d{4}年\d{1,2}月\d{1,2}日", line) or _HANDLING.match(line):
            if out:
                break
            continue  # a red-header line above the title
        out.append(line)
    return out


def _red_header(head: list[str]) -> int:
    """How many lines of red header (issuers, 某某局文件) stand above the 发文字号; 0 when there is none."""
    for i, line in enumerate(head[:8]):
        if DOC_NUMBER.search(line) and len(line) <= 40:
            # A title right above the 文号 (某区2032年校园安全工作方案 / 青教安〔2032〕3号) is no issuer.
            return 0 if any(_GENRE_END.search(above) for above in head[:i]) else i + 1
    return 0


#: How the title of a policy ends: its genre (方案, 办法, …), so a line ending so is a title, not an issuer.
#: The genres a policy's title ends with (实施方案, 管理办法): no issuer, and no topic of the document's own.
GENRES = "方案|办法|通知|意见|要点|细则|规定|决定|计划|规划|条例|纲要|标准|措施|公告|通报|说明|指南"
_GENRE_END = re.compile(rf"(?:{GENRES})》?$")


def ends_title(first_line: str) -> bool:
    """Does a document's first line end as a title does (…教师实施方案)? Then it is whole, however full it runs."""
    return _GENRE_END.search(first_line.strip()) is not None


#: An issuing body's own name (青岚区教育局, 某市人民政府办公室): on a line of its own above a title, it issues it.
_BODY = re.compile(r"^[\u4e00-\u9fff]{2,24}(?:局|厅|委员会|政府|办公室|办公厅)$")


def _issuer_lines(head: list[str]) -> int:
    """How many lines naming issuing bodies stand above a title with no 发文字号 (青岚区教育局 / 青岚区2022年…政策问答)."""
    n = 0
    while n < len(head) and _BODY.match(head[n]):
        n += 1
    rest = _title_lines(head[n:])
    return n if n and rest else 0


def read_front(head: list[str], meta: dict[str, str], tail: list[str], fallback: str) -> FrontMatter:
    """Title, issuer, 发文字号, date and recipients from the front lines (``head``) and the last lines (``tail``)."""
    red = _red_header(head)
    bodies = 0 if red else _issuer_lines(head)
    title_lines = _title_lines(head[red + bodies :])
    joined = "".join(title_lines)
    cover = _COVER.search(joined) or _COVER.search("".join(head))
    title = meta.get("title") or ""
    if not title:
        # 关于印发《X》的通知 is a cover letter: the document is X. Other 《》 in a title name other texts.
        title = cover.group(1) if cover else joined or fallback
        title = re.sub(r"^(?:.{2,40}?)?关于(?:印发|转发)(.+)的通知$", r"\1", title)
        title = title[1:-1] if title.startswith("《") and title.endswith("》") and title.count("《") == 1 else title
    release = next((line for line in head[: len(title_lines) + red + 2] if RELEASE_LINE.match(line)), "")
    releaser = m.group(1) if (m := _RELEASER.search(release)) and not re.search(r"会议?$", m.group(1)) else ""
    issuer = meta.get("issuer") or _issuer(title_lines, head[: max(red - 1, 0)] or head[:bodies]) or releaser or _signoff_issuer(head) or _signoff_issuer(tail)
    number = meta.get("doc_number") or next((m.group(0) for line in head if (m := DOC_NUMBER.search(line))), "")
    date = iso_date(meta.get("date", "")) or iso_date(release) or _signoff_date(head) or _signoff_date(tail)
    recipients = next((line.rstrip("：:") for line in head if line.endswith(("：", ":")) and "附件" not in line and len(line) < 80), "")
    is_cover = bool(cover) or re.search(r"关于(?:印发|转发)", joined) is not None
    return FrontMatter(title, issuer, re.sub(r"\s+", "", number), date, recipients, is_cover)


def _issuer(title_lines: list[str], red_header: list[str]) -> str:
    """The body before 关于 in the title, or the red header's issuers (某某局文件, one line per joint issuer)."""
    for line in title_lines:
        if (m := re.match(r"^(.{2,30}?)关于", line)) and not is_sentence(m.group(1)):
            return m.group(1)
    names = [re.sub(r"文件$", "", line).strip() for line in red_header if 2 < len(line) <= 32 and not is_sentence(line)]
    return "、".join(n for n in names if n)


def _signoff_date(lines: list[str]) -> str:
    return next((iso_date(line) for line in reversed(lines) if DATE_LINE.match(line)), "")


def _signoff_issuer(lines: list[str]) -> str:
    """The short line right above a date-only line: the issuing body of a 落款; joint issuers each sign on a line
    of their own (青岚区教育局 / 青岚区人力资源和社会保障局), or on one line apart by spaces (…教育局　　…委员会)."""
    for i in range(len(lines) - 1, 0, -1):
        if DATE_LINE.match(lines[i]) and not is_sentence(lines[i - 1]) and len(lines[i - 1]) <= 30:
            first = i - 1
            while first > 0 and _BODY.match(lines[first]) and _BODY.match(lines[first - 1]):
                first -= 1
            return "、".join(name for line in lines[first:i] for name in line.split())
    return ""
