#!/bin/sh
# Rebuild memory/*.jsonl from the tuning sets (never a report set: see eval/README.md).
# MEMORY_OUT writes elsewhere (tests/test_memory.py compares); POLICYQA_SHARED is ../shared by default.
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${MEMORY_OUT:-memory}
LAWS=${POLICYQA_SHARED:-../shared}/corpus/related
$PY scripts/build_memory.py --out "$OUT/notice.jsonl" --corpus corpus \
  eval/dev.jsonl eval/dev_abstain.jsonl eval/dev_extra.jsonl eval/dev_followup.jsonl eval/dev_parent.jsonl eval/dev_weak.jsonl \
  eval/real_tune.jsonl eval/real2_tune.jsonl eval/real3_tune.jsonl eval/real4_tune.jsonl eval/real5_tune.jsonl \
  eval/years_tune.jsonl eval/greetings_tune.jsonl eval/followup2_tune.jsonl eval/abstain2_tune.jsonl
$PY scripts/build_memory.py --out "$OUT/laws.jsonl" --corpus corpus --corpus "$LAWS" \
  eval/laws_tune.jsonl eval/laws_tune2.jsonl eval/laws_tune3.jsonl eval/laws_tune4.jsonl
$PY scripts/build_memory.py --out "$OUT/fiction.jsonl" --corpus tests/data/fiction --corpus tests/data/fiction_extra \
  eval/fiction_tune.jsonl eval/fiction_tune2.jsonl eval/fiction_tune3.jsonl eval/fiction_tune4.jsonl eval/fiction_tune5.jsonl \
  eval/fiction_tune6.jsonl eval/fiction_tune7.jsonl eval/fiction_tune8.jsonl eval/fiction_tune9.jsonl eval/fiction_tune10.jsonl eval/fiction_tune11.jsonl \
  eval/fiction_tune12.jsonl eval/fiction_tune13.jsonl eval/fiction_tune14.jsonl eval/fiction_tune15.jsonl eval/fiction_tune16.jsonl eval/fiction_tune17.jsonl \
  eval/fiction_tune18.jsonl eval/fiction_tune19.jsonl
