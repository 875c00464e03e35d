"""Magento ``searchCriteria`` query strings from their grammar, with hostile parts mixed in.

``searchCriteria[filterGroups][G][filters][F][field|value|conditionType]``, ``[sortOrders][S]
[field|direction]``, ``[pageSize]`` and ``[currentPage]``: mostly well formed, so that the
values reach the database, with hostile indexes, fields, conditions and values in between.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.api.input_strategies import integers, numbers_as_text, texts

FIELDS = [
    "subscription_id",
    "event_name",
    "recipient_url",
    "status",
    "subscribed_at",
    "modified",
    "metadata",
    "store_id",
]
CONDITIONS = ["eq", "neq", "like", "in", "nin", "gt", "gteq", "lt", "lteq", "null", "notnull"]
# Not 0, 1, 2: "²" passes str.isdigit() but not int(); Arabic-Indic and fullwidth digits.
ODD_INDEXES = ["²", "\u0661", "\uff19", "-1", "x", "", " 1", "0x1", "9" * 20, "9" * 5000]
Pairs = list[tuple[str, str]]


def indexes() -> st.SearchStrategy[str]:
    """Mostly 0-2; sometimes what str.isdigit() accepts and int() does not, or worse."""
    return st.one_of(st.sampled_from(["0", "1", "2"]), st.sampled_from(ODD_INDEXES))


def values() -> st.SearchStrategy[str]:
    """Filter values: numbers of any size, dates, booleans, lists, and hostile text."""
    return st.one_of(
        numbers_as_text(),
        texts(),
        st.sampled_from(["0", "1", "true", "2026-01-31", "2026-01-31 13:45:00", "a%", "1,2,3"]),
        st.lists(integers().map(str), min_size=1, max_size=5).map(",".join),
        st.just(",".join(["1"] * 1001)),  # past the in-list limit
    )


@st.composite
def filters(draw: st.DrawFn, group: str, index: str) -> Pairs:
    """One filter's keys; now and then one is missing or is a nested key instead of a value."""
    key = f"searchCriteria[filterGroups][{group}][filters][{index}]"
    field = draw(st.one_of(st.sampled_from(FIELDS), st.sampled_from(["verification_token", ""])))
    pairs = [(f"{key}[field]", field), (f"{key}[value]", draw(values()))]
    if draw(st.booleans()):
        condition = draw(st.one_of(st.sampled_from(CONDITIONS), texts()))
        pairs.append((f"{key}[conditionType]", condition))
    if draw(st.integers(0, 9)) == 0:
        pairs.append((f"{key}[value][0]", "nested"))
    return pairs


@st.composite
def search_criteria(draw: st.DrawFn) -> Pairs:
    """A whole ``searchCriteria`` query: filter groups, sort orders, paging, odd keys."""
    pairs: Pairs = []
    for _ in range(draw(st.integers(0, 3))):
        group = draw(indexes())
        for _ in range(draw(st.integers(1, 3))):
            pairs += draw(filters(group, draw(indexes())))
    if draw(st.integers(0, 7)) == 0:  # more filters in one group than allowed
        pairs += [p for i in range(25) for p in draw(filters("0", str(i)))]
    for _ in range(draw(st.integers(0, 2))):
        key = f"searchCriteria[sortOrders][{draw(indexes())}]"
        pairs.append((f"{key}[field]", draw(st.one_of(st.sampled_from(FIELDS), texts()))))
        pairs.append((f"{key}[direction]", draw(st.sampled_from(["ASC", "desc", "up", "\x00"]))))
    for name in ("pageSize", "currentPage"):
        if draw(st.booleans()):
            pairs.append((f"searchCriteria[{name}]", draw(numbers_as_text())))
    odd = [
        ("searchCriteria[filterGroups]", "x"),
        ("searchCriteria[pageSize][0]", "1"),
        ("searchCriteria" + "[a]" * 60, "deep"),
        ("searchCriteria[filterGroups][0]", "conflict"),
    ]
    pairs += draw(st.lists(st.sampled_from(odd), max_size=2))
    return draw(st.permutations(pairs))
