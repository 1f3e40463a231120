"""Build the sample project's signals from hand-written material, deterministically (seeded).

Inputs (hand-written): ``docs/*.md`` (the articles), ``src/signals_group*.json`` (per-article user
phrasings, ticket seeds and simulated LLM questions with their planted failure labels).

Outputs:
- ``signals/search_log.jsonl``: >= 3,000 searches over >= 800 sessions. "Shown results" come from the
  old production search, **keyword BM25 over each article's title and first paragraph** (no stemming), so clicks carry the bias real logs
  have: users can only click what the old search showed. Clicks follow a position-biased cascade with
  noise clicks, pogo-sticking (short dwell, then back), reformulations and abandoned sessions. Clicked
  URLs are messy (locale prefixes, ``utm_*``, anchors, trailing slashes); a few lines are malformed and a
  few clicks hit deleted articles, as in real exports.
  After it come :data:`PLANTED_SEARCHES` (+ ``signals/search_pii.jsonl``): searches carrying labelled
  personal data and secrets (e-mails, international phone numbers, IBANs, cards, API tokens, JWTs,
  ``Bearer`` credentials, account ids, tokenised URLs, names), each a session of its own with no click:
  they reach the labelling queue (unanswered searches) but mine no pair and change no training data.
- ``signals/tickets.csv`` (+ ``signals/tickets_pii.jsonl``): >= 400 support tickets in a help-desk CSV
  export, with personal data planted in labelled kinds so a test can prove none of it reaches an artifact.
- ``signals/llm_queries.jsonl`` (+ ``signals/llm_labels.jsonl``): the cached LLM-generated questions and,
  on the side, which ones are planted failures (title copies, generic, off-topic, invented features).
- ``production_run.trec``: the old search's ranking of the eval queries (the "production" baseline).

Run from the repository root: ``python sample_data/src/generate.py``.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT.parent))

import bm25s  # noqa: E402

from embtune_core.core.sources import load_docs, load_eval_set  # noqa: E402

SEED = 20261127
HOST = "https://help.ledgerline.app"
LOCALES = ["", "", "", "", "en", "en-us", "en-gb", "de", "fr", "es", "pt-br", "nl"]
UTM = ["?utm_source=app&utm_medium=widget", "?utm_source=newsletter&utm_campaign=oct", "?ref=search",
       "?utm_source=google&gclid=Cj0KCQjw", "?hl=en"]
DELETED = ["legacy-invoice-editor", "old-dunning-settings-v1", "paypal-classic-setup", "reports-beta-faq"]

FIRST = ["Maria", "James", "Aisha", "Chen", "Lukas", "Priya", "Tom", "Sofia", "Kwame", "Elena", "Ravi", "Hannah",
         "Diego", "Yuki", "Olivia", "Mateo", "Fatima", "Noah", "Ingrid", "Arjun", "Chloe", "Samir", "Grace", "Jonas"]
LAST = ["Okafor", "Lindqvist", "Fernandes", "Nakamura", "Schmidt", "Patel", "O'Brien", "Kowalski", "Haddad",
        "Moreau", "Van Dijk", "Ramirez", "Novak", "Adeyemi", "Rossi", "Brennan", "Iyer", "Larsen", "Dubois", "Tanaka"]
COMPANIES = ["Brightloop Analytics", "Quillstack", "Northwind Robotics", "Paperkite Labs", "Fernhill Software",
             "Tidewater Health", "Copperleaf Systems", "Umbra Logistics", "Sparrowhawk AI", "Kestrel Payroll",
             "Bluefin Learning", "Orchard CRM", "Lumen Forms", "Saltmarsh Media", "Granite Ledger Co",
             "Hollowbrook Studios", "Vantage Kitchen", "Mosaic Dental Cloud", "Pinegrove Legal", "Driftwood Events"]
TITLES = ["Head of Finance", "CTO", "Billing Ops Lead", "Founder", "Senior Accountant", "RevOps Manager",
          "Platform Engineer", "Controller", "Customer Success Lead", "VP Engineering"]


def typo(rng: random.Random, q: str) -> str:
    words = q.split()
    cand = [i for i, w in enumerate(words) if len(w) > 4]
    if not cand:
        return q
    i = rng.choice(cand)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    op = rng.choice(["swap", "drop", "double"])
    if op == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif op == "drop":
        w = w[:j] + w[j + 1:]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def messy_url(rng: random.Random, slug: str) -> str:
    loc = rng.choice(LOCALES)
    url = f"{HOST}/{loc + '/' if loc else ''}articles/{slug}"
    if rng.random() < 0.3:
        url += "/"
    if rng.random() < 0.35:
        url += rng.choice(UTM)
    if rng.random() < 0.15:
        url += "#" + rng.choice(["overview", "steps", "faq", "before-you-start", "troubleshooting"])
    if rng.random() < 0.05:
        url = url.replace("https://", "http://")
    return url


def load_signals() -> dict:
    out = {}
    for p in sorted(HERE.glob("signals_group*.json")):
        out.update(json.loads(p.read_text()))
    return out


class OldSearch:
    """The old production search: keyword BM25 over title and the article's first paragraph, no
    stemming, up to 10 results. Customers' words rarely match, which is why they complain."""

    def __init__(self, ids: list[str], titles: list[str]):
        self.ids = ids
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize(titles, stopwords="en", show_progress=False), show_progress=False)

    def scores(self, q: str):
        toks = bm25s.tokenize([q], stopwords="en", return_ids=False, show_progress=False)[0]
        import numpy as np

        return self.index.get_scores(toks) if toks else np.zeros(len(self.ids))

    def search(self, q: str, k: int = 10) -> list[str]:
        s = self.scores(q)
        order = sorted(range(len(self.ids)), key=lambda i: (-s[i], self.ids[i]))
        return [self.ids[i] for i in order[:k] if s[i] > 0]


def build_search_log(rng, signals, search: OldSearch) -> list[str]:
    slugs = sorted(signals)
    # popularity: Zipf-like over a seeded shuffle of the articles
    order = slugs[:]
    rng.shuffle(order)
    weights = [1.0 / (r + 1) ** 0.8 for r in range(len(order))]
    lines: list[str] = []
    sid_n, search_n = 0, 0
    t = 1_767_225_600  # 2026-01-01
    while sid_n < 900 or search_n < 3200:
        sid_n += 1
        sid = f"s{sid_n:05d}"
        t += rng.randint(60, 3600)
        intents = [rng.choices(order, weights)[0]]
        if rng.random() < 0.15:
            intents.append(rng.choices(order, weights)[0])
        ts = t
        for intent in intents:
            phrasings = signals[intent]["phrasings"]
            tried = 0
            pool = phrasings[:]
            rng.shuffle(pool)
            satisfied = False
            while pool and tried < 4 and not satisfied:
                q = pool.pop()
                tried += 1
                if rng.random() < 0.08:
                    q = typo(rng, q)
                if rng.random() < 0.1:
                    q = q.upper() if rng.random() < 0.2 else q.capitalize()
                shown = search.search(q)
                clicks = []
                ts += rng.randint(3, 40)
                for pos, d in enumerate(shown, start=1):
                    examine = 0.95 / pos**0.6
                    if rng.random() > examine:
                        continue
                    if d == intent:
                        if rng.random() < 0.85:
                            clicks.append({"href": messy_url(rng, d), "rank": pos,
                                           "dwell_s": round(rng.lognormvariate(4.4, 0.6), 1)})
                            satisfied = True
                            break
                    elif rng.random() < 0.18:  # noise click, usually a pogo-stick back
                        long = rng.random() < 0.12
                        clicks.append({"href": messy_url(rng, d), "rank": pos,
                                       "dwell_s": round(rng.uniform(35, 120) if long else rng.uniform(2, 14), 1)})
                if not satisfied and rng.random() < 0.02:
                    clicks.append({"href": messy_url(rng, rng.choice(DELETED)), "rank": rng.randint(1, 5),
                                   "dwell_s": round(rng.uniform(2, 20), 1)})
                search_n += 1
                rec = {"id": f"q{search_n:06d}", "sid": sid, "ts": ts, "q": q,
                       "shown": [f"{HOST}/articles/{d}" for d in shown], "clicks": clicks}
                lines.append(json.dumps(rec, ensure_ascii=False))
                if not satisfied and rng.random() < 0.3:
                    break  # abandoned
    # a few malformed lines, as real exports have
    for i in rng.sample(range(len(lines)), 4):
        lines[i] = lines[i][: len(lines[i]) // 2]
    return lines


#: Searches with planted personal data: (query, [(kind, value), ...]). Every value must disappear
#: when the log is loaded (core/privacy.py); tests/test_privacy.py measures it per kind.
PLANTED_SEARCHES: list[tuple[str, list[tuple[str, str]]]] = [
    ("refund jane@x.com acct_123", [("email", "jane@x.com"), ("account_id", "acct_123")]),
    ("invoice copy to françois.dupont@exemple.fr", [("email", "françois.dupont@exemple.fr")]),
    ("call back +33 1 23 45 67 89 about vat", [("phone", "+33 1 23 45 67 89")]),
    ("sms +33 6 12 34 56 78 dunning reminder", [("phone", "+33 6 12 34 56 78")]),
    ("dunning reminders not arriving 0151 12345678", [("phone", "0151 12345678")]),
    ("my mobile +49 151 23456789 2fa reset", [("phone", "+49 151 23456789")]),
    ("please call +1 415 555 0132 re proration", [("phone", "+1 415 555 0132")]),
    ("sso broken call +44 20 7946 0321", [("phone", "+44 20 7946 0321")]),
    ("uk office +44 7911 123456 refund status", [("phone", "+44 7911 123456")]),
    ("change payout account DE44500105175407324931", [("iban", "DE44500105175407324931")]),
    ("sepa mandate GB82 WEST 1234 5698 7654 32 failed", [("iban", "GB82 WEST 1234 5698 7654 32")]),
    ("direct debit NL91ABNA0417164300 bounced", [("iban", "NL91ABNA0417164300")]),
    ("FR14 2004 1010 0505 0001 3M02 606 refund to this iban", [("iban", "FR14 2004 1010 0505 0001 3M02 606")]),
    ("card 4111 1111 1111 1111 declined twice", [("card_number", "4111 1111 1111 1111")]),
    ("charge failed 5500-0000-0000-0004", [("card_number", "5500-0000-0000-0004")]),
    ("amex 378282246310005 not accepted", [("card_number", "378282246310005")]),
    ("card 4929 1234 5678 9012 expired", [("card_number", "4929 1234 5678 9012")]),
    ("api key sk-3xQmT7vLp9Rw2NbK8cYd4FhJ6gZs1AeUo5WiXqPn0BtMr7Cv not working",
     [("api_token", "sk-3xQmT7vLp9Rw2NbK8cYd4FhJ6gZs1AeUo5WiXqPn0BtMr7Cv")]),
    ("sk-proj-Qm7vT2xLp9Rw4NbK8cYd_3FhJ6gZs1AeUo5WiXqPn0B-tMr7Cv2Lk9Hj rate limit",
     [("api_token", "sk-proj-Qm7vT2xLp9Rw4NbK8cYd_3FhJ6gZs1AeUo5WiXqPn0B-tMr7Cv2Lk9Hj")]),
    ("github action ghp_R8kLm2Qx7Tv4Np9Wz3Yc6Bd1Fh5Gj0Ks8Ae webhook", [("api_token", "ghp_R8kLm2Qx7Tv4Np9Wz3Yc6Bd1Fh5Gj0Ks8Ae")]),
    ("export to s3 AKIAIOSFODNN7EXAMPLE access denied", [("api_token", "AKIAIOSFODNN7EXAMPLE")]),
    ("ll_live_4eC39HqLyjWDarjtT1zdp7dc revoked key still works", [("api_token", "ll_live_4eC39HqLyjWDarjtT1zdp7dc")]),
    ("webhook signature eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhY2N0XzQ4MjEzMzc3IiwiaWF0IjoxNzY3MjI4Njk3fQ."
     "k3Jx9vQ2mT7pL4sN8wR1yB6cF0hD5gZ2aE9uI3oK7qM invalid",
     [("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhY2N0XzQ4MjEzMzc3IiwiaWF0IjoxNzY3MjI4Njk3fQ."
              "k3Jx9vQ2mT7pL4sN8wR1yB6cF0hD5gZ2aE9uI3oK7qM")]),
    ("token expired eyJhbGciOiJSUzI1NiJ9.eyJlbWFpbCI6ImphbmVAeC5jb20ifQ.aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
     [("jwt", "eyJhbGciOiJSUzI1NiJ9.eyJlbWFpbCI6ImphbmVAeC5jb20ifQ.aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY")]),
    ("Authorization: Bearer 4f9a2c7e1b8d3f60a5c2e9b7d1f4a8c3 returns 401",
     [("bearer_token", "4f9a2c7e1b8d3f60a5c2e9b7d1f4a8c3")]),
    ("bearer ll_test_9kQm2xT7vLp4Rw8N 403 on usage events", [("bearer_token", "ll_test_9kQm2xT7vLp4Rw8N")]),
    ("account acct_7731904455 locked out", [("account_id", "acct_7731904455")]),
    ("customer cus_Nf8Kx2LmQ9 missing invoices", [("account_id", "cus_Nf8Kx2LmQ9")]),
    ("account 55120934 cannot upgrade", [("account_id", "55120934")]),
    ("report link https://app.ledgerline.app/share/r/8812?t=Zx81kQp2LmW7 expired",
     [("tokenized_url", "https://app.ledgerline.app/share/r/8812?t=Zx81kQp2LmW7")]),
    ("https://app.ledgerline.app/invoices/in_40219983?token=c4ca4238a0b923820dcc509a6f75849b not loading",
     [("tokenized_url", "https://app.ledgerline.app/invoices/in_40219983?token=c4ca4238a0b923820dcc509a6f75849b")]),
    ("reset link app.ledgerline.app/reset?t=f0e1d2c3b4a59687 doesnt work",
     [("tokenized_url", "app.ledgerline.app/reset?t=f0e1d2c3b4a59687")]),
    ("invoice for Ingrid Novak", [("person_name", "Ingrid Novak")]),
    ("chloe van dijk cannot log in", [("person_name", "chloe van dijk")]),
    ("remove Kwame Adeyemi from workspace", [("person_name", "Kwame Adeyemi")]),
    ("transfer ownership to priya patel", [("person_name", "priya patel")]),
    ("MATEO RAMIREZ refund request", [("person_name", "MATEO RAMIREZ")]),
    ("José García no puede pagar", [("person_name", "José García")]),
    ("seat for Aoife Murphy", [("person_name", "Aoife Murphy")]),
    ("Grace Okafor invoice address", [("person_name", "Grace Okafor")]),
    ("tomasz wiśniewski 2fa reset", [("person_name", "tomasz wiśniewski")]),
    ("Lars Eriksson jane@x.com +46 70 123 45 67 sso",
     [("person_name", "Lars Eriksson"), ("email", "jane@x.com"), ("phone", "+46 70 123 45 67")]),
]


def planted_searches(log: list[str]) -> tuple[list[str], list[dict]]:
    """:data:`PLANTED_SEARCHES` as log lines after ``log`` (each its own session, no click), and their labels."""
    for line in reversed(log):  # the last well-formed line (a few were cut short on purpose)
        try:
            last = json.loads(line)
            break
        except json.JSONDecodeError:
            continue
    search_n, sid_n, ts = int(last["id"][1:]), int(last["sid"][1:]), int(last["ts"])
    rng = random.Random(SEED + 1)  # its own stream: the log before it stays as it was
    lines, labels = [], []
    for q, plants in PLANTED_SEARCHES:
        search_n, sid_n = search_n + 1, sid_n + 1
        ts += rng.randint(60, 3600)
        rec = {"id": f"q{search_n:06d}", "sid": f"s{sid_n:05d}", "ts": ts, "q": q, "shown": [], "clicks": []}
        lines.append(json.dumps(rec, ensure_ascii=False))
        for kind, value in plants:
            assert value in q, (value, q)
            labels.append({"search_id": rec["id"], "kind": kind, "value": value})
    return lines, labels


def _drop_cold_clicks(line: str, cold: set[str]) -> str:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return line  # the deliberately malformed lines stay malformed
    rec["clicks"] = [c for c in rec["clicks"] if c["href"].split("/articles/")[-1].split("?")[0].split("#")[0]
                     .strip("/") not in cold]
    return json.dumps(rec, ensure_ascii=False)


def build_tickets(rng, signals, catalog) -> tuple[str, list[dict]]:
    slugs = sorted(signals)
    by_cat: dict[str, list[str]] = {}
    for slug, cat in catalog.items():
        if slug in signals:
            by_cat.setdefault(cat, []).append(slug)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Ticket ID", "Subject", "Description", "Linked articles", "Status"])
    pii: list[dict] = []
    n = 0
    seeds = [(s, t) for s in slugs for t in signals[s]["tickets"]]
    rng.shuffle(seeds)
    while n < 440:
        slug, seed = seeds[n % len(seeds)]
        n += 1
        tid = f"T-{40000 + n}"
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        dom = re.sub(r"[^a-z]", "", company.lower().split()[0]) + rng.choice([".com", ".io", ".co"])
        email = f"{first.lower()}.{re.sub(r'[^a-z]', '', last.lower())}@{dom}"
        phone = rng.choice(["+1 (415) 555-{:04d}", "+44 20 7946 {:04d}", "+49 30 9018{:04d}",
                            "(212) 555-{:04d}"]).format(rng.randint(0, 9999))
        acct = f"acct_{rng.randint(10**9, 10**10 - 1)}"
        planted = {"email": email, "phone": phone, "person_name": f"{first} {last}", "company": company,
                   "account_id": acct}
        body = [rng.choice(["Hi team,", "Hello,", "Hi Ledgerline support,", "Hey there,"]), "",
                f"{seed['problem']} {seed['detail']}"]
        body.append(rng.choice([f"Our account is {acct} ({company}).",
                                f"This is for {company}, account id {acct}.",
                                f"Workspace: {company} / {acct}"]))
        if rng.random() < 0.25:
            card = " ".join(f"{rng.randint(1000, 9999)}" for _ in range(4))
            planted["card_number"] = card
            body.append(f"The card we tried was {card}, exp 09/28.")
        if rng.random() < 0.2:
            token = "ll_live_" + "".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                                         for _ in range(24))
            planted["api_token"] = token
            body.append(f"In case it helps, the key we use is {token}.")
        if rng.random() < 0.2:
            tok = "".join(rng.choice("0123456789abcdef") for _ in range(32))
            url = f"https://app.ledgerline.app/invoices/in_{rng.randint(10**7, 10**8)}?access_token={tok}"
            planted["tokenized_url"] = url
            body.append(f"Here is the invoice link: {url}")
        title = rng.choice(TITLES)
        signature = f"{first} {last}\n{title}, {company}\n{phone}\n{email}"
        planted["signature"] = f"{title}, {company}"
        body += ["", rng.choice(["Thanks,", "Best,", "Cheers,", "Regards,"]), signature]
        resolved = [slug]
        cat = catalog[slug]
        if rng.random() < 0.15 and len(by_cat.get(cat, [])) > 1:
            resolved.append(rng.choice([s for s in by_cat[cat] if s != slug]))
        refs = [messy_url(rng, s) if rng.random() < 0.7 else s for s in resolved]
        subject = seed["subject"]
        if rng.random() < 0.2:
            subject = f"[{acct}] {subject}"
        w.writerow([tid, subject, "\n".join(body), " | ".join(refs), rng.choice(["solved", "closed"])])
        for kind, value in planted.items():
            pii.append({"ticket_id": tid, "kind": kind, "value": value})
    return buf.getvalue(), pii


def main() -> None:
    rng = random.Random(SEED)
    corpus = load_docs(ROOT / "docs", split=False)
    catalog = {}
    for line in (HERE / "catalog.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        catalog[cols[1]] = cols[3]
    signals = load_signals()
    missing = [s for s in signals if s not in set(corpus.doc_ids())]
    assert not missing, f"signals for unknown articles: {missing}"
    leads = [f"{t} {body.split(chr(10) + chr(10))[0]}" for t, body in zip(corpus.docs["title"], corpus.docs["text"], strict=True)]
    search = OldSearch(corpus.doc_ids(), leads)
    out = ROOT / "signals"
    out.mkdir(exist_ok=True)
    log = build_search_log(rng, signals, search)
    # Cold articles are new product surface: nobody has clicked them yet. Clicks on them are dropped
    # after generation (the random stream, and so the rest of the log, stays as it was).
    cold = {line.split("\t")[1] for line in (HERE / "catalog.tsv").read_text().splitlines()[1:]
            if line.split("\t")[5] == "yes"}
    log = [_drop_cold_clicks(line, cold) for line in log]
    planted, search_pii = planted_searches(log)
    log += planted
    (out / "search_log.jsonl").write_text("\n".join(log) + "\n")
    (out / "search_pii.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in search_pii))
    tickets_csv, pii = build_tickets(rng, signals, catalog)
    (out / "tickets.csv").write_text(tickets_csv)
    (out / "tickets_pii.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pii))
    llm, labels = [], []
    for slug in sorted(signals):
        for item in signals[slug]["llm"]:
            llm.append({"doc_id": slug, "query": item["q"], "endpoint": "cache://sample", "model": "sample-llm"})
            labels.append({"doc_id": slug, "query": item["q"], "label": item["label"]})
    (out / "llm_queries.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in llm))
    (out / "llm_labels.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in labels))
    # the eval folder is a complete BEIR set: export the (unsplit) articles as its corpus.jsonl
    (ROOT / "eval" / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": d, "title": t, "text": x}, ensure_ascii=False) + "\n"
        for d, t, x in zip(corpus.docs["doc_id"], corpus.docs["title"], corpus.docs["text"], strict=True)))
    if (ROOT / "eval" / "qrels.tsv").exists():
        ev = load_eval_set(ROOT / "eval", corpus)
        lines = []
        for qid, q in ev.queries.items():
            s = search.scores(q)
            order = sorted(range(len(search.ids)), key=lambda i: (-s[i], search.ids[i]))[:100]
            for r, i in enumerate(order, start=1):
                lines.append(f"{qid} Q0 {search.ids[i]} {r} {float(s[i]):.4f} old-keyword-search")
        (ROOT / "production_run.trec").write_text("\n".join(lines) + "\n")
    print(f"searches={len(log)} tickets={len(pii and set(r['ticket_id'] for r in pii))} llm={len(llm)}")


if __name__ == "__main__":
    main()
