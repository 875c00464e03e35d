"""Property tests of the dashboard: hostile query strings, forms and path ids never get a 5xx.

The same hostile values as the REST fuzzing, on the dashboard's search boxes, filters,
page numbers and sizes, CSV export, Maximum Deaths and the other settings, the
subscriber, token and user forms, mass actions and row ids, signed in as an admin.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.api.input_fuzzing import FUZZ, check, segments, still_signed_in
from tests.api.input_fuzzing import seeded as seeded
from tests.api.input_strategies import cursors, integers, numbers_as_text, query_string, texts

QUERIES = {
    "/admin/subscribers/": ["page", "page_size", "sort", "desc", "search"]
    + [f"flt{i}_{i}" for i in range(7)],
    "/admin/subscribers/edit/": ["id"],
    "/admin/subscribers/export/csv/": ["search", "flt0_2", "flt1_0"],
    "/admin/logs/": ["q", "size", "cursor", "trail", "n"],
    "/admin/logs/export.csv": ["q"],
    "/admin/logs/replay": ["q"],
    "/admin/dead_letters/": ["size", "cursor", "trail", "n"],
    "/admin/": ["x"],
}
NUMBERS = {"page", "page_size", "sort", "desc", "id", "size", "n", "cursor", "count"}
SUBSCRIBER = ["event_name", "recipient_url", "sink", "store_id", "status"]
FORMS = {
    "/admin/configuration/": ["max_deaths", "max_backoff", "log_lifetime_days", "indexing_enabled"],
    "/admin/subscribers/new/": SUBSCRIBER,
    "/admin/subscribers/edit/?id=1": SUBSCRIBER,
    "/admin/subscribers/action/": ["action", "rowid", "rowid"],
    "/admin/dead_letters/replay": ["id", "id"],
    "/admin/logs/replay": ["q", "count"],
    "/admin/tokens/": ["name", "permissions"],
    "/admin/users/": ["username", "password", "role"],
    "/admin/users/{other}/password": ["reset-password"],
}
PATHS = [
    "/admin/dead_letters/{}/replay",
    "/admin/tokens/revoke/{}",
    "/admin/users/{}/active",
    "/admin/subscribers/rotate/{}",
    "/admin/logs/trace/{}/replay",
]


def value_for(name: str) -> st.SearchStrategy[str]:
    """Numbers of any size for numeric names, search cursors for ``cursor``, text for all."""
    if name == "cursor":
        return st.one_of(cursors(), numbers_as_text(), texts())
    return numbers_as_text() if name in NUMBERS | {"store_id"} else texts()


def values_for(names: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A hostile value for each name."""
    drawn = st.tuples(*(value_for(name) for name in names))
    return drawn.map(lambda values: list(zip(names, values, strict=True)))


@st.composite
def pages(draw: st.DrawFn) -> str:
    """A dashboard page with some of its query-string parameters set to hostile values."""
    path = draw(st.sampled_from(sorted(QUERIES)))
    names = draw(st.lists(st.sampled_from(QUERIES[path]), min_size=1, max_size=4, unique=True))
    return f"{path}?{query_string(draw(values_for(names)))}"


@pytest.mark.parametrize("kind", ["pages", "trace"])
def test_dashboard_query_strings_never_get_a_5xx(seeded, caplog, kind):
    admin = seeded["admin"]
    urls = pages() if kind == "pages" else segments().map("/admin/logs/trace/{}".format)

    @FUZZ
    @given(url=urls)
    def run(url):
        check(admin.get(url), caplog, rest=False)

    run()
    still_signed_in(admin)


def test_dashboard_forms_and_path_ids_never_get_a_5xx(seeded, caplog):
    admin = seeded["admin"]
    forms = st.sampled_from(sorted(FORMS)).flatmap(
        lambda path: st.tuples(st.just(path), values_for(FORMS[path]))
    )
    ids = st.one_of(integers().filter(lambda n: n >= 0).map(str), segments())

    @FUZZ
    @given(form=forms, path=st.sampled_from(PATHS), row=ids)
    def run(form, path, row):
        url, pairs = form
        body = query_string(pairs)
        reply = admin.post(
            url.format(other=seeded["other"]),
            data=body,
            content_type="application/x-www-form-urlencoded",
        )
        check(reply, caplog, rest=False)
        check(admin.post(path.format(row)), caplog, rest=False)

    run()
    still_signed_in(admin)


def test_sign_in_form_never_gets_a_5xx(app, seeded, caplog):
    app.config["ADMIN_LOGIN_FAILURE_LIMIT"] = 10**9  # else the throttle answers before the query

    @FUZZ
    @given(pairs=values_for(["username", "password", "next"]))
    def run(pairs):
        reply = app.test_client().post(
            "/admin/login",
            data=query_string(pairs),
            content_type="application/x-www-form-urlencoded",
        )
        check(reply, caplog, rest=False)

    run()
