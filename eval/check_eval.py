#!/usr/bin/env python3
"""Standalone checker for the policy-qa evaluation data.

Usage:  python eval/check_eval.py [--corpus DIR] [--quiet]

Checks eval/dev.jsonl, eval/test.jsonl (questions over the Dongli 2020 notice)
and eval/laws.jsonl (questions over the six national laws):
  * schema, valid types, unique ids, id prefix per split
  * every key is a verbatim substring of the text of one of the gold points
    (point 0 = header + preamble = everything before work point 1)
  * answerable/unanswerable consistency, follow-ups carry a history,
    multi_point questions have >=2 gold points with keys from >=2 of them,
    numeric questions have a key containing a number
  * per-type minimum counts, per-point coverage (>=3 in total)
  * warnings: point not covered in dev / <2 in test, dev-test near-paraphrases,
    traditional questions that still contain simplified-only characters
Exit status is 1 if any error was found.  Uses only the standard library
(opencc is used for the traditional-script check if it is installed).
"""
import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS = Path('/work/shared/corpus')
NOTICE = 'dongli-2020-education-work-points.txt'

TYPES = ['factual', 'numeric', 'parent', 'teacher', 'traditional', 'multi_point',
         'preamble', 'followup', 'year', 'unanswerable']
MIN_PER_TYPE = {'numeric': 20, 'parent': 20, 'teacher': 15, 'traditional': 10,
                'multi_point': 8, 'preamble': 6, 'followup': 10, 'year': 8,
                'unanswerable': 35}
MIN_TOTAL = 180
LAW_TYPES = ['law', 'unanswerable']
NUMERAL = re.compile(r'[0-9０-９一二两三四五六七八九十百千]')

errors, warnings = [], []


def err(msg):
    errors.append(msg)


def warn(msg):
    warnings.append(msg)


# --------------------------------------------------------------------------- notice
POINT_RE = re.compile(r'^\s*(\d{1,2})、')
PART_RE = re.compile(r'^\s*[一二三四五六七八九十]+、')


def parse_notice(path):
    """Return {0: header+preamble, 1..30: text of work point N}."""
    points = {0: []}
    cur = 0
    for line in path.read_text(encoding='utf-8').splitlines():
        m = POINT_RE.match(line)
        if m:
            cur = int(m.group(1))
            points[cur] = [line.strip()]
        elif PART_RE.match(line) and cur != 0:
            cur = None  # part heading between points: belongs to no point
        elif cur is not None:
            points[cur].append(line.strip())
    return {k: '\n'.join(v) for k, v in points.items()}


# --------------------------------------------------------------------------- laws
CN_DIGIT = {'零': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5,
            '六': 6, '七': 7, '八': 8, '九': 9}
CN_UNIT = {'十': 10, '百': 100, '千': 1000}


def cn2int(s):
    total, num = 0, 0
    for ch in s:
        if ch in CN_DIGIT:
            num = CN_DIGIT[ch]
        elif ch in CN_UNIT:
            total += (num or 1) * CN_UNIT[ch]
            num = 0
        else:
            raise ValueError(s)
    return total + num


ART_RE = re.compile(r'^第([零一二两三四五六七八九十百千]+)条')
CHAP_RE = re.compile(r'^第[零一二三四五六七八九十百]+[章节]')


def parse_law(path):
    text = path.read_text(encoding='utf-8')
    if text.startswith('---'):
        text = text.split('---', 2)[2]
    arts, cur = {}, None
    for line in text.splitlines():
        m = ART_RE.match(line)
        if m:
            cur = cn2int(m.group(1))
            arts[cur] = [line]
        elif CHAP_RE.match(line):
            cur = None
        elif cur is not None:
            arts[cur].append(line)
    return {k: '\n'.join(v) for k, v in arts.items()}


# --------------------------------------------------------------------------- helpers
def load_jsonl(path):
    rows = []
    if not path.exists():
        err(f'{path.name}: missing')
        return rows
    for i, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            err(f'{path.name}:{i}: invalid JSON ({e})')
    return rows


def bigrams(s):
    s = re.sub(r'[\s，。？！、“”‘’：；,.?!:;（）()]', '', s)
    return {s[i:i + 2] for i in range(len(s) - 1)}


def jaccard(a, b):
    return len(a & b) / max(1, len(a | b))


# --------------------------------------------------------------------------- checks
def check_notice_rows(rows, split, prefix, points_text, seen_ids):
    for r in rows:
        rid = r.get('id', '?')
        where = f'{split}:{rid}'
        if not isinstance(rid, str) or not re.fullmatch(prefix + r'\d{2,3}', rid):
            err(f'{where}: id must look like {prefix}001')
        if rid in seen_ids:
            err(f'{where}: duplicate id')
        seen_ids.add(rid)
        allowed = {'id', 'question', 'history', 'type', 'points', 'keys', 'answerable', 'note', 'style', 'category', 'switch'}
        extra = set(r) - allowed
        if extra:
            err(f'{where}: unknown fields {sorted(extra)}')
        q = r.get('question')
        if not isinstance(q, str) or not q.strip():
            err(f'{where}: empty question')
        t = r.get('type')
        if t not in TYPES:
            err(f'{where}: invalid type {t!r}')
        pts, keys, ans = r.get('points'), r.get('keys'), r.get('answerable')
        if not isinstance(pts, list) or not all(isinstance(p, int) and 0 <= p <= 30 for p in pts):
            err(f'{where}: points must be a list of ints 0-30')
            continue
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            err(f'{where}: keys must be a list of non-empty strings')
            continue
        if not isinstance(ans, bool):
            err(f'{where}: answerable must be true/false')
        if t == 'unanswerable' and ans:
            err(f'{where}: type unanswerable but answerable=true')
        if ans:
            if not pts or not keys:
                err(f'{where}: answerable question needs points and keys')
        elif ans is False and (pts or keys):
            err(f'{where}: unanswerable question must have points [] and keys []')
        if 'history' in r:
            h = r['history']
            if not isinstance(h, list) or not h or not all(isinstance(x, str) and x for x in h):
                err(f'{where}: history must be a non-empty list of strings')
            if t != 'followup':
                err(f'{where}: history only allowed for followup questions')
        elif t == 'followup':
            err(f'{where}: followup question without history')
        # keys verbatim in gold point text
        key_points = set()
        for k in keys:
            hit = [p for p in pts if p in points_text and k in points_text[p]]
            if not hit:
                err(f'{where}: key {k!r} not found verbatim in gold points {pts}')
            key_points.update(hit)
            if len(k) > 25:
                warn(f'{where}: long key {k!r}')
        if t == 'multi_point':
            if len(pts) < 2:
                err(f'{where}: multi_point needs >=2 gold points')
            if len(key_points) < 2:
                err(f'{where}: multi_point keys must come from >=2 gold points')
        if t == 'numeric' and not any(NUMERAL.search(k) for k in keys):
            err(f'{where}: numeric question needs a key containing the number')
        if len(set(pts)) != len(pts):
            err(f'{where}: duplicate points')


def check_traditional(rows, split):
    try:
        import opencc
    except ImportError:
        warn('opencc not installed: traditional-script check skipped')
        return
    s2t = opencc.OpenCC('s2t')
    for r in rows:
        q = r.get('question', '')
        if r.get('type') == 'traditional' or re.search(r'[們這麼東麗區學幾會]', q):
            conv = s2t.convert(q)
            # OpenCC keeps some characters ambiguous (e.g. 周/週); only flag if
            # conversion changes something that is not a known variant.
            diff = [(a, b) for a, b in zip(q, conv) if a != b and (a, b) not in {('週', '周')}]
            if diff:
                warn(f'{split}:{r.get("id")}: traditional question has simplified chars {diff}')


def check_laws(rows, corpus_dir, seen_ids):
    laws = {}
    for p in sorted((corpus_dir / 'related').glob('*.txt')):
        laws[p.stem] = parse_law(p)
    per_doc = Counter()
    per_type = Counter()
    for r in rows:
        rid = r.get('id', '?')
        where = f'laws:{rid}'
        if not isinstance(rid, str) or not re.fullmatch(r'l\d{3}', rid):
            err(f'{where}: id must look like l001')
        if rid in seen_ids:
            err(f'{where}: duplicate id')
        seen_ids.add(rid)
        t, doc = r.get('type'), r.get('doc_id')
        if t not in LAW_TYPES:
            err(f'{where}: invalid type {t!r}')
        per_type[t] += 1
        if doc not in laws:
            err(f'{where}: unknown doc_id {doc!r}')
            continue
        per_doc[doc] += 1
        pts, keys, ans = r.get('points', []), r.get('keys', []), r.get('answerable')
        if not isinstance(r.get('question'), str) or not r['question'].strip():
            err(f'{where}: empty question')
        if (t == 'unanswerable') != (ans is False):
            err(f'{where}: type/answerable mismatch')
        if ans is False and (pts or keys):
            err(f'{where}: unanswerable must have points [] and keys []')
        if ans and (not pts or not keys):
            err(f'{where}: answerable needs points and keys')
        for p in pts:
            if p not in laws[doc]:
                err(f'{where}: article {p} not in {doc}')
        for k in keys:
            if not any(k in laws[doc].get(p, '') for p in pts):
                err(f'{where}: key {k!r} not verbatim in {doc} articles {pts}')
    for doc in laws:
        if per_doc[doc] < 4:
            err(f'laws: {doc} covered only {per_doc[doc]} times (<4)')
    if len(rows) < 30:
        err(f'laws: only {len(rows)} questions (<30)')
    return per_doc, per_type


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--corpus', type=Path, default=DEFAULT_CORPUS)
    ap.add_argument('--quiet', action='store_true')
    args = ap.parse_args()

    points_text = parse_notice(args.corpus / NOTICE)
    missing = [n for n in range(0, 31) if n not in points_text]
    if missing:
        err(f'notice parse: points missing {missing}')

    splits = {'dev': ('d', load_jsonl(EVAL_DIR / 'dev.jsonl')),
              'test': ('t', load_jsonl(EVAL_DIR / 'test.jsonl'))}
    seen = set()
    for split, (prefix, rows) in splits.items():
        check_notice_rows(rows, split, prefix, points_text, seen)
        check_traditional(rows, split)

    # counts per type per split
    counts = defaultdict(Counter)
    for split, (_, rows) in splits.items():
        for r in rows:
            counts[r.get('type')][split] += 1
    total = sum(len(rows) for _, rows in splits.values())
    if total < MIN_TOTAL:
        err(f'only {total} notice questions (<{MIN_TOTAL})')
    for t, m in MIN_PER_TYPE.items():
        n = sum(counts[t].values())
        if n < m:
            err(f'type {t}: {n} questions (<{m})')

    # per-point coverage
    cov = defaultdict(Counter)
    for split, (_, rows) in splits.items():
        for r in rows:
            for p in r.get('points') or []:
                cov[p][split] += 1
    for p in range(1, 31):
        tot = sum(cov[p].values())
        if tot < 3:
            err(f'point {p}: gold for only {tot} questions (<3)')
        if cov[p]['dev'] < 1:
            warn(f'point {p}: no dev question')
        if cov[p]['test'] < 2:
            warn(f'point {p}: only {cov[p]["test"]} test questions')

    # dev/test near-paraphrases (character-bigram Jaccard)
    dev_rows, test_rows = splits['dev'][1], splits['test'][1]
    dev_bg = [(r, bigrams(r.get('question', ''))) for r in dev_rows]
    for tr in test_rows:
        tb = bigrams(tr.get('question', ''))
        for dr, db in dev_bg:
            s = jaccard(tb, db)
            if s >= 0.6:
                warn(f'near-paraphrase {dr["id"]}~{tr["id"]} ({s:.2f}): '
                     f'{dr["question"]} | {tr["question"]}')

    # The further notice sets: same schema and key checks; tuning sets must not paraphrase test.
    extra = {'dev_extra': 'x', 'dev_weak': 'w', 'dev_parent': 'p', 'dev_abstain': 'a', 'dev_followup': 'f', 'holdout': 'h', 'holdout2': 'y', 'holdout3': 'z',
             'real2_tune': 's', 'real2_check': 's', 'years_tune': 'yr', 'greetings_tune': 'g', 'real3_tune': 'u', 'real4_tune': 'v'}
    for split, prefix in extra.items():
        path = EVAL_DIR / f'{split}.jsonl'
        if not path.exists():
            continue
        rows = load_jsonl(path)
        check_notice_rows(rows, split, prefix, points_text, seen)
        check_traditional(rows, split)
        if split.startswith('dev') or split.endswith('_tune'):
            # A follow-up is its history plus the question: 那幼儿园呢？ alone says nothing.
            def said(row):
                return bigrams(''.join(row.get('history', [])) + row.get('question', ''))
            for r in rows:
                rb = said(r)
                for tr in test_rows:
                    s = jaccard(rb, said(tr))
                    if s >= 0.6:
                        warn(f'near-paraphrase {r["id"]}~{tr["id"]} ({s:.2f})')

    law_rows = load_jsonl(EVAL_DIR / 'laws.jsonl')
    per_doc, law_types = check_laws(law_rows, args.corpus, seen)

    if not args.quiet:
        print(f'notice questions: {total} (dev {len(dev_rows)}, test {len(test_rows)})')
        print(f'{"type":<14}{"dev":>5}{"test":>6}{"total":>7}')
        for t in TYPES:
            c = counts[t]
            print(f'{t:<14}{c["dev"]:>5}{c["test"]:>6}{c["dev"] + c["test"]:>7}')
        cells = [f'{p}:{cov[p]["dev"]}/{cov[p]["test"]}' for p in range(0, 31)]
        print('per-point coverage (dev/test):')
        for i in range(0, len(cells), 8):
            print('  ' + '  '.join(cells[i:i + 8]))
        tots = [sum(cov[p].values()) for p in range(1, 31)]
        print(f'points 1-30: min total {min(tots)}, min dev {min(cov[p]["dev"] for p in range(1, 31))}, '
              f'min test {min(cov[p]["test"] for p in range(1, 31))}')
        print(f'laws: {len(law_rows)} questions; types {dict(law_types)}')
        for d, n in sorted(per_doc.items()):
            print(f'  {d}: {n}')
    for w in warnings:
        print('WARN ', w)
    for e in errors:
        print('ERROR', e)
    print('OK' if not errors else f'{len(errors)} error(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
