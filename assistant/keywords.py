"""Keyword side of retrieval: jieba tokens with a harvested policy dictionary, scored by BM25."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import jieba
import numpy as np

logger = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

# Function and question words that say nothing about which point answers.
STOPWORDS = frozenset(
    """的 了 和 与 及 或 是 在 有 吗 呢 吧 啊 呀 么 嘛 哦 着 过 把 被 对 于 为 以 将 从 向 到 给 让 也 都 就 还 又 而 并 且 等 之 其 该 这 那 哪
    这个 那个 这些 那些 哪个 哪些 哪里 哪儿 什么 怎么 怎么办 怎样 怎么样 如何 为什么 多少 几 几个 是否 是不是 有没有 能不能 可以 可不可以 会不会 要不要
    请问 请 问 你好 您好 一下 我 我们 你 你们 您 他 她 它 他们 我家 家里 吗？ 呢？ 想 想问 知道 告诉 一些 一个 相关 有关 关于 方面 情况 具体 主要 规定 要求""".split()
)

# How parents say it → how policy text says it. Matched as substrings of the
# question; the policy terms join the keyword query (not the dense one).
COLLOQUIAL: dict[str, str] = {
    "补课": "校外培训机构", "补习": "校外培训机构", "辅导班": "校外培训机构", "培训班": "校外培训机构", "兴趣班": "校外培训机构",
    "打工": "随迁子女", "外地": "随迁子女", "外来务工": "随迁子女", "户口不在": "随迁子女", "农民工": "随迁子女",
    "挑课": "选课走班", "选课": "选课走班", "走班": "选课走班",
    "残疾": "特殊教育 随班就读 送教上门", "残障": "特殊教育 随班就读 送教上门", "自闭": "特殊教育 随班就读", "特殊孩子": "特殊教育 随班就读",
    "欺负": "校园欺凌", "以大欺小": "校园欺凌", "找茬": "校园欺凌", "推搡": "校园欺凌", "抢钱": "校园欺凌", "霸凌": "校园欺凌", "被打": "校园欺凌",
    "作业多": "减负", "作业太多": "减负", "负担重": "减负", "压力大": "减负",
    "放学后": "课后服务", "托管": "课后服务", "没人接": "课后服务", "延时服务": "课后服务",
    "上幼儿园": "学前教育 学位", "入园难": "学前教育 学位", "入园": "学前教育 入园",
    "小升初": "义务教育 招生 入学", "上初中": "义务教育 招生 入学", "上小学": "义务教育 入学 幼小衔接", "就近上学": "免试就近入学",
    "私立": "民办", "公立": "公办", "抽签": "电脑摇号", "摇号": "电脑摇号",
    "中考": "初中学业水平考试 高中阶段学校", "体罚": "师德 负面清单", "打骂": "师德 负面清单", "收红包": "师德 负面清单", "送礼": "师德 负面清单", "送东西": "师德 负面清单", "表示表示": "师德 负面清单", "有偿补课": "师德 负面清单",
    "乱收费": "收费公示 校外培训机构", "眼睛": "近视", "锻炼": "体质健康 体育", "体育课": "体质健康 体育",
    "抑郁": "心理健康 心理危机干预", "心理问题": "心理健康 心理危机干预", "想不开": "心理危机干预",
    "画画": "美育 艺术", "唱歌": "美育 艺术", "跳舞": "美育 艺术", "乐器": "美育 艺术",
    "干活": "劳动", "家务": "家庭劳动岗 劳动", "当兵": "军队人员子女", "军人": "军队人员子女",
    "家委会": "家长委员会", "家长参与": "家长委员会 民主管理", "老人": "老年教育 老年大学", "老年人": "老年教育 老年大学",
    "技校": "职业教育 职教中心", "中专": "职业教育 职教中心", "职高": "职业教育 职教中心", "学手艺": "职业技能",
    "交钱": "收费公示", "收钱": "收费公示", "名额": "学位", "学技术": "职业技能 就业技能培训", "学门技术": "职业技能 就业技能培训",
    "北京": "京津冀", "河北": "京津冀",
    "挑科目": "选课走班", "选科": "选课走班", "不固定班级": "选课走班",
    "名校带": "集团化办学 委托管理", "好学校带": "集团化办学 委托管理", "带一带": "集团化办学 委托管理", "强校带": "集团化办学 委托管理",
    "反映": "民意直通车", "投诉": "民意直通车 申诉",
    "翻修": "提升改造", "破旧": "提升改造", "又旧又破": "提升改造", "房子旧": "提升改造",
    "头等大事": "首要任务", "最重要的任务": "首要任务", "重中之重": "首要任务", "最要紧": "首要任务",
    "培养什么样的人": "德智体美劳全面发展 建设者 接班人", "培养什么人": "德智体美劳全面发展 建设者 接班人",
    "踢球": "足球", "网课": "信息化 网络课程", "吃饭": "食品 安全", "食堂": "食品 安全", "工资": "绩效奖励", "待遇": "绩效奖励",
}

_TERM_PATTERNS = (
    re.compile(r"“([^”]{2,12})”"),
    re.compile(r"《([^》]{2,40})》"),
    re.compile(r"(\d+[+＋][A-Za-z]+)"),
    re.compile(r"(\d+所[\u4e00-\u9fff]{1,2}[学园校])"),
    re.compile(r"(第[一二三四五六七八九十百]+(?:届|周期|期))"),
    re.compile(r"(\d+(?:\.\d+)?%)"),
    re.compile(r"(\d+个百分点)"),
)


def harvest_terms(texts: Iterable[str]) -> list[str]:
    """Policy terms worth keeping whole: quoted “…” terms, 《…》 titles, 2所中学, 1+X, 第十四届…"""
    terms: set[str] = set()
    for text in texts:
        for pattern in _TERM_PATTERNS:
            for m in pattern.finditer(text):
                term = m.group(1).strip()
                if term and not re.search(r"\s", term):
                    terms.add(term)
    return sorted(terms)


class Tokenizer:
    """jieba in search mode plus a user dictionary; drops punctuation and stopwords."""

    def __init__(self, terms: Sequence[str] = ()):
        self.terms = tuple(terms)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for term in self.terms:
            self._jieba.add_word(term.lower(), freq=max(1000, self._jieba.suggest_freq(term.lower())))

    def __call__(self, text: str) -> list[str]:
        return [t for t in self._jieba.lcut_for_search(text.lower()) if t.strip() and re.search(r"\w", t) and t not in STOPWORDS]

    def expand(self, text: str) -> list[str]:
        """Tokens of the policy terms that colloquial phrases in ``text`` stand for."""
        terms = " ".join(dict.fromkeys(v for k, v in COLLOQUIAL.items() if k in text))
        return self(terms) if terms else []


class KeywordIndex:
    """BM25 (bm25s) over jieba tokens, one row per chunk, plus IDF for term weighting."""

    def __init__(self, bm25: bm25s.BM25, tokenizer: Tokenizer, doc_freq: dict[str, int], n_docs: int):
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.doc_freq = doc_freq
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: Sequence[str], terms: Sequence[str]) -> KeywordIndex:
        tokenizer = Tokenizer(terms)
        tokens = [tokenizer(t) or ["<empty>"] for t in texts]
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        df = Counter(tok for row in tokens for tok in set(row))
        return cls(bm25, tokenizer, dict(df), len(texts))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self.doc_freq]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def idf(self, token: str) -> float:
        """Smoothed IDF; unseen tokens get the maximum, so they count as specific."""
        df = self.doc_freq.get(token, 0)
        return math.log((self.n_docs + 1) / (df + 0.5))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(directory / "bm25"), show_progress=False)
        (directory / "terms.txt").write_text("\n".join(self.tokenizer.terms) + "\n", encoding="utf-8")
        lines = [f"{self.n_docs}"] + [f"{tok}\t{n}" for tok, n in sorted(self.doc_freq.items())]
        (directory / "doc_freq.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        terms = [t for t in (directory / "terms.txt").read_text(encoding="utf-8").splitlines() if t]
        first, *rows = (directory / "doc_freq.tsv").read_text(encoding="utf-8").splitlines()
        df = {tok: int(n) for tok, n in (r.rsplit("\t", 1) for r in rows if r)}
        return cls(bm25, Tokenizer(terms), df, int(first))
