import json,re,collections,sys
base="/work/scratch/fiction/"
docs={}
errs=[]
ids=set(); per_doc=collections.Counter(); per_style=collections.Counter(); unans=collections.Counter()
LABEL=re.compile(r'第[一二三四五六七八九十百]+[条章]|附件\d+|附表\d*|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|（\d+）|\d+\.|\d+、|[①②③④⑤⑥⑦⑧⑨⑩]')
for fn,allowed in (("qa_tune.jsonl",None),("qa_heldout.jsonl","qinglan-2021-kindergarten-subsidy-plan")):
    for n,line in enumerate(open(base+"questions/"+fn,encoding="utf-8"),1):
        try: d=json.loads(line)
        except Exception as e: errs.append(f"{fn}:{n} bad json {e}"); continue
        for k in ("id","doc","question","answerable","sections","keys","style"):
            if k not in d: errs.append(f"{d.get('id')} missing {k}")
        if d["id"] in ids: errs.append("dup id "+d["id"])
        ids.add(d["id"])
        if allowed and d["doc"]!=allowed: errs.append(d["id"]+" wrong file")
        if not allowed and d["doc"]=="qinglan-2021-kindergarten-subsidy-plan": errs.append(d["id"]+" heldout doc in tune")
        if d["doc"] not in docs: docs[d["doc"]]=open(base+"docs/"+d["doc"]+".txt",encoding="utf-8").read()
        t=docs[d["doc"]]
        per_doc[d["doc"]]+=1; per_style[d["style"]]+=1
        if d["style"] not in "parent|teacher|staff|story|traditional|english|numeric|table".split("|"): errs.append(d["id"]+" bad style")
        if d["answerable"]!=bool(d["sections"]) or d["answerable"]!=bool(d["keys"]): errs.append(d["id"]+" answerable mismatch")
        if not d["answerable"]: unans[d["doc"]]+=1
        if not (0<=len(d["keys"])<=3): errs.append(d["id"]+" key count")
        for k in d["keys"]:
            if "\n" in k or k not in t: errs.append(f"{d['id']} key not found: {k}")
        for s in d["sections"]:
            pieces=LABEL.findall(s)
            if "".join(pieces)!=s: errs.append(f"{d['id']} section not fully parsed: {s} -> {pieces}")
            for p in pieces:
                if p not in t: errs.append(f"{d['id']} label piece {p} not in doc")
            # hierarchical check: pieces appear in order in doc
            pos=0
            for p in pieces:
                i=t.find(p,pos)
                if i<0: errs.append(f"{d['id']} section path {s} not in order at {p}"); break
                pos=i
print("\n".join(errs) or "OK")
print(dict(per_doc)); print(dict(unans)); print(dict(per_style))
for f,t in docs.items(): print(f, t.count("\n"))

# span check: each key must lie inside at least one of the listed section units
CLASSES=[("chap",r'第[一二三四五六七八九十百]+章'),("art",r'第[一二三四五六七八九十百]+条'),("att",r'附件\d+|附表\d*'),("cn",r'[一二三四五六七八九十]+、'),("pcn",r'（[一二三四五六七八九十]+）'),("ar",r'\d+\.'),("ard",r'\d+、'),("par",r'（\d+）'),("circ",r'[①②③④⑤⑥⑦⑧⑨⑩]')]
def cls(p):
    for c,r in CLASSES:
        if re.fullmatch(r,p): return c
def span(t,pieces):
    lines=t.split("\n"); starts=[];o=0
    for l in lines: starts.append(o); o+=len(l)+1
    lo,hi=0,len(lines); used=[]
    for p in pieces:
        c=cls(p); found=None
        for i in range(lo,hi):
            if lines[i].lstrip().startswith(p) and not (c=="att" and "：" in lines[i] and i<15):
                found=i;break
        if found is None: return None
        used.append(c)
        end=hi
        for j in range(found+1,hi):
            s=lines[j].lstrip()
            m=[cc for cc,r in CLASSES if re.match(r,s)]
            if m and (m[0]==c or m[0] in used[:-1] or m[0]=="att" or (c=="art" and m[0]=="chap")):
                end=j;break
        lo,hi=found,end
    return starts[lo], (starts[hi] if hi<len(starts) else len(t))
bad=0; tablehits=0; total=0
for fn in ("qa_tune.jsonl","qa_heldout.jsonl"):
    for line in open(base+"questions/"+fn,encoding="utf-8"):
        d=json.loads(line); t=docs[d["doc"]]; total+=1
        if not d["answerable"]: continue
        spans=[span(t,LABEL.findall(s)) for s in d["sections"]]
        if None in spans: print("SPAN-NOTFOUND",d["id"],d["sections"]); bad+=1; continue
        for k in d["keys"]:
            if not any(k in t[a:b] for a,b in spans):
                print("KEY-OUTSIDE-SECTION",d["id"],k,d["sections"]); bad+=1
        if any(l.startswith("|") and any(k in l for k in d["keys"]) for l in t.split("\n")): tablehits+=1
print("span problems:",bad,"| questions with a key in a table row:",tablehits,"/",total)
