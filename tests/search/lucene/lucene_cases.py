"""The semantics table: small, pointed documents and Lucene queries with their answers.

Each answer is what SEARCH.md's semantics give (``tests/search/lucene/lucene_eval.py``
and real Lucene agree on them), newest first. ``tests/search/test_search_semantics.py``
runs the table on every backend; beyond SEARCH.md, a keyword over ``KEYWORD_LIMIT``
characters is not indexed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.search.backend import LogDocument
from app.search.documents import KEYWORD_LIMIT

LONG = "x" * (KEYWORD_LIMIT + 1)
DOCS = [  # log_id: data
    (1, {"name": "Veronica", "tags": ["A", "b"], "n": 5, "s": "5", "nested": {"x": None}}),
    (2, {"name": "veronica costello", "tags": ["b"], "n": -0.0, "flag": True, "pct": "50%"}),
    (3, {"name": "Zoë", "n": 10.5, "items": [{"sku": "SKU-1", "qty": 2}, {"sku": "sku-2"}]}),
    (4, {"name": "a_b%c", "n": 1e300, "star": "a*b", "q": 'say "hi"', "long": LONG}),
    (5, {"name": "Émile", "n": "0x10", "n2": "1_000", 'we"ird': "k", "list": [1, "one"]}),
    (6, {"other": "veronica", "n": 0}),
]
SEMANTICS = [
    ("data.name:veronica", [1]),
    ("data.name:VERONICA", [1]),
    ('data.name:"Veronica Costello"', [2]),
    ("data.name:veron*", [2, 1]),
    ("data.name:*costello", [2]),
    ("data.name:v?ronica", [1]),
    ("data.name:zo?", [3]),
    ("data.name:a_b%c", [4]),
    ("data.name:a?b?c", [4]),
    ("data.name:a_b*", [4]),
    ("data.star:a\\*b", [4]),
    ("data.star:a*b", [4]),
    ("data.name:émile", [5]),
    ("data.name:ÉMI*", [5]),
    ("veronica", [6, 1]),
    ("data.tags:a", [1]),
    ("data.tags:B", [2, 1]),
    ("data.items.sku:sku-1", [3]),
    ("data.items.qty:2", [3]),
    ("data.n:5", [1]),
    ("data.n:5.0", [1]),
    ("data.s:5", [1]),
    ("data.n:[5 TO 10.5]", [3, 1]),
    ("data.n:{5 TO 10.5}", []),
    ("data.n:>=0", [6, 4, 3, 1]),
    ("data.n:0", [6]),
    ("data.n:\\-0", [2]),
    ("data.n:[-1 TO 0}", []),  # Math.nextDown(0.0) skips -0.0, as Lucene's points do
    ("data.n:[-1 TO 0]", [6, 2]),
    ("data.n:{-0 TO 1]", []),
    ("data.n:[* TO -0]", [2]),
    ("data.n:[* TO *]", [6, 4, 3, 2, 1]),
    ("data.n:>1e299", [4]),
    ("data.n:0x10", [5]),
    ("data.n2:1_000", [5]),
    ("data.n2:1000", [5]),
    ("data.name:[veronica TO zz]", [3, 2, 1]),
    ("data.name:{veronica TO zoë]", [3, 2]),
    ("data.flag:true", [2]),
    ("data.pct:50%", [2]),
    ('data.q:"say \\"hi\\""', [4]),
    ("_exists_:data.nested", []),
    ("_exists_:data.nested.x", []),
    ("_exists_:data.items", [3]),
    ("_exists_:data.it", []),
    ("data.flag:*", [2]),
    ("_exists_:data.long", []),
    (f"data.long:{LONG}", []),
    ('data.we\\"ird:k', [5]),
    ('_exists_:data.we\\"ird', [5]),
    ("data.list:one", [5]),
    ("data.list:1", [5]),
    ("nope:veronica", []),
    ("*", [6, 5, 4, 3, 2, 1]),
    ("NOT data.name:veronica", [6, 5, 4, 3, 2]),
    ("data.name:veronica OR data.name:zoë", [3, 1]),
    ("data.tags:b AND NOT data.name:veronica", [2]),
    ("data.tags:b OR data.n:10.5 AND data.name:zoë", [3]),
    ("+data.tags:b -data.flag:true", [1]),
    ("(data.tags:b OR data.n:0) AND NOT (data.name:veronica OR data.other:*)", [2]),
    ("event_name:demo.event AND success:true", [6, 5, 4, 3, 2, 1]),
    ("created:[2026-01-02 TO 2026-01-03]", [2]),
    ("created:2026-01-0*", [6, 5, 4, 3, 2, 1]),
    ("log_id:[2 TO 4}", [3, 2]),
]


def document(log_id: int, data: object, created: str = "") -> LogDocument:
    """A log row of ``demo.event``, created at 10:00 on January ``log_id``th (and on)."""
    day = datetime(2026, 1, 1, 10) + timedelta(days=log_id - 1)
    created = created or day.strftime("%Y-%m-%d %H:%M:%S")
    return LogDocument(log_id, 1, f"u{log_id}", "demo.event", True, created, "OK", data)
