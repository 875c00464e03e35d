"""The engines the fake can be: what each one's root endpoint says and which features it has.

One ``Engine`` per release the issue names (Elasticsearch 8.11.4 as Magento 2.4.7 ships
it, 9.1.5, OpenSearch 2.19.1 and 3.1.0) and two older ones that only the handshake
meets (Elasticsearch 7.17.28, OpenSearch 1.3.20: the app must refuse them). Each flag
below is a difference between engines, with where it is documented; where the engines
agree on something we use, the comment at the end says so with the source. How the flags turn
into answers is in ``fake_es_media`` (headers), ``fake_es_dialects`` (request bodies) and
``fake_es_replies`` (error and 401 shapes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ELASTICSEARCH, OPENSEARCH = "elasticsearch", "opensearch"


@dataclass(frozen=True)
class Engine:
    """One engine release as the fake answers for it."""

    name: str  # the profile name, e.g. "opensearch-2"
    product: str  # ELASTICSEARCH or OPENSEARCH
    number: str  # version.number of the root endpoint
    lucene: str
    wire: str  # minimum_wire_compatibility_version
    index: str  # minimum_index_compatibility_version
    supported: bool = True  # False: only the handshake should ever reach it

    @property
    def version(self) -> tuple[int, ...]:
        """``number`` as a tuple, to compare releases."""
        return tuple(int(part) for part in self.number.split("."))

    @property
    def major(self) -> int:
        return self.version[0]

    def since(self, product: str, *release: int) -> bool:
        """Whether this is ``product`` at ``release`` or later."""
        return self.product == product and self.version >= release

    @property
    def sends_product_header(self) -> bool:
        # X-Elastic-Product: Elasticsearch on every response but unauthenticated ones,
        # since 7.14: https://github.com/elastic/elasticsearch/pull/73434 (backport #73919).
        # OpenSearch never sends it (forked from 7.10.2; opensearch-py checks no header).
        return self.since(ELASTICSEARCH, 7, 14)

    @property
    def compatible_majors(self) -> tuple[int, ...]:
        # REST API compatibility: Elasticsearch accepts compatible-with=current or
        # current-1 (RestCompatibleVersionHelper; RestApiVersion.minimumSupported()):
        # https://www.elastic.co/guide/en/elasticsearch/reference/8.11/rest-api-compatibility.html
        # 7.x only knows its own major (compatibility headers came with 7.11+ for 8's
        # sake); unconfirmed for 7.17 whether compatible-with=6 is refused: the app never
        # sends a versioned header to a 7.x handshake. OpenSearch has no such media
        # types at all (see fake_es_media).
        if self.product != ELASTICSEARCH:
            return ()
        return (self.major,) if self.major < 8 else (self.major - 1, self.major)

    @property
    def ignores_dynamic_beyond_limit(self) -> bool:
        # index.mapping.total_fields.ignore_dynamic_beyond_limit is new in 8.13
        # (https://github.com/elastic/elasticsearch/pull/96235, changelog "Add
        # index.mapping.total_fields.ignore_dynamic_beyond_limit setting"; the 8.13
        # release is inferred from its merge in early 2024). OpenSearch's MapperService
        # has total_fields.limit but no such setting:
        # https://github.com/opensearch-project/OpenSearch/blob/main/server/src/main/java/org/opensearch/index/mapper/MapperService.java
        return self.since(ELASTICSEARCH, 8, 13)

    @property
    def alias_remove_must_exist(self) -> bool:
        # "must_exist" on a "remove" alias action: Elasticsearch parses it since 7.10
        # (https://github.com/elastic/elasticsearch/pull/65209, fixing #62642);
        # OpenSearch since 2.12 (https://github.com/opensearch-project/OpenSearch/pull/11833,
        # issue #2949 shows the 400 before it).
        return self.since(ELASTICSEARCH, 7, 10) or self.since(OPENSEARCH, 2, 12)

    @property
    def alias_remove_index_must_exist(self) -> bool:
        # OpenSearch refuses "must_exist" on "remove_index" ("[remove_index] unknown
        # field [must_exist]", reproduced on 3.4.0), Elasticsearch tolerates it:
        # https://github.com/open-metadata/OpenMetadata/pull/28700
        return self.product == ELASTICSEARCH

    @property
    def aliases_report_errors(self) -> bool:
        # POST _aliases answers {"acknowledged": true, "errors": false} since the
        # per-action results of https://github.com/elastic/elasticsearch/pull/106514
        # (8.14, inferred from its merge date). That "errors" is present when nothing
        # failed is my reading of that PR, not confirmed against a running 8.14.
        return self.since(ELASTICSEARCH, 8, 14)

    @property
    def too_many_clauses_is_400(self) -> bool:
        # Too many clauses at query rewrite: a 500 search_phase_execution_exception until
        # Elasticsearch 8.16 turned it into an IllegalArgumentException, a 400
        # (https://github.com/elastic/elasticsearch/pull/112678, backport #112952;
        # issue #112177). OpenSearch did the same only after 3.1
        # (https://github.com/opensearch-project/OpenSearch/pull/21725, documented as
        # unreleased in https://github.com/opensearch-project/documentation-website/pull/12446),
        # so 2.19 and 3.1 still answer 500.
        return self.since(ELASTICSEARCH, 8, 16)

    def root(self) -> dict[str, Any]:
        """GET / as this engine answers it (name, cluster and build are the fake's own).

        Shapes: Elasticsearch has ``build_flavor`` and "You Know, for Search"
        (https://www.elastic.co/guide/en/elasticsearch/reference/8.13/rest-api-root.html);
        OpenSearch has ``distribution: opensearch`` first and its own tagline, no
        ``build_flavor`` (responses quoted in
        https://gitlab.com/gitlab-org/gitlab/-/merge_requests/88802 and
        https://github.com/grafana/opensearch-datasource/issues/131).
        """
        version: dict[str, Any] = {"number": self.number}
        if self.product == OPENSEARCH:
            version = {"distribution": OPENSEARCH, **version, "build_type": "tar"}
        else:
            version |= {"build_flavor": "default", "build_type": "docker"}
        version |= {
            "build_hash": "0" * 40,
            "build_date": "2025-01-01T00:00:00.000000000Z",
            "build_snapshot": False,
            "lucene_version": self.lucene,
            "minimum_wire_compatibility_version": self.wire,
            "minimum_index_compatibility_version": self.index,
        }
        tagline = {
            ELASTICSEARCH: "You Know, for Search",
            OPENSEARCH: "The OpenSearch Project: https://opensearch.org/",
        }[self.product]
        return {
            "name": "fake-node",
            "cluster_name": "fake",
            "cluster_uuid": "fake-cluster-uuid",
            "version": version,
            "tagline": tagline,
        }


# Lucene and compatibility versions as each release's root endpoint reports them (from
# release notes; not checked against a running node of each, except the shapes above).
PROFILES = {
    engine.name: engine
    for engine in (
        Engine("elasticsearch-8", ELASTICSEARCH, "8.11.4", "9.8.0", "7.17.0", "7.0.0"),
        Engine("elasticsearch-9", ELASTICSEARCH, "9.1.5", "10.2.2", "8.19.0", "8.0.0"),
        Engine("opensearch-2", OPENSEARCH, "2.19.1", "9.12.1", "7.10.0", "7.0.0"),
        Engine("opensearch-3", OPENSEARCH, "3.1.0", "10.2.1", "2.19.0", "2.0.0"),
        Engine(
            "elasticsearch-7", ELASTICSEARCH, "7.17.28", "8.11.3", "6.8.0", "6.0.0-beta1", False
        ),
        Engine("opensearch-1", OPENSEARCH, "1.3.20", "8.10.1", "6.8.0", "6.0.0-beta1", False),
    )
}
ENGINES = [name for name, engine in PROFILES.items() if engine.supported]

# What we use where the four engines do not differ (so nothing above models them):
# - the built-in ``lowercase`` normalizer: "A simple normalizer called lowercase ships
#   with elasticsearch" (https://www.elastic.co/guide/en/elasticsearch/reference/8.11/normalizer.html);
#   OpenSearch kept it from the fork:
#   https://github.com/opensearch-project/OpenSearch/blob/main/server/src/main/java/org/opensearch/index/analysis/LowercaseNormalizerProvider.java
# - ignore_above, ignore_malformed, dynamic_templates with match_mapping_type
#   string/long/double, date_detection, numeric_detection:
#   https://www.elastic.co/guide/en/elasticsearch/reference/8.11/dynamic-templates.html,
#   https://docs.opensearch.org/latest/field-types/dynamic-templates/
# - index.hidden (ES 7.7, before the fork), expand_wildcards=all, an alias add with
#   is_hidden, remove_index:
#   https://www.elastic.co/guide/en/elasticsearch/reference/8.11/indices-aliases.html,
#   https://docs.opensearch.org/latest/api-reference/index-apis/alias/
# - _bulk with require_alias (ES 7.10, in the fork), items with status and error, the
#   errors flag, and the require_alias refusal's words:
#   https://docs.opensearch.org/latest/api-reference/document-apis/bulk/
# - track_total_hits true/false, hits.total {value, relation}, a search's timeout as a
#   time value, search_after, sort, _source false:
#   https://www.elastic.co/guide/en/elasticsearch/reference/8.11/search-search.html,
#   https://docs.opensearch.org/latest/api-reference/search-apis/search/
# - error bodies: an exception is {"error": {"root_cause", "type", "reason", ...},
#   "status"}; a refusal before any handler (406 Content-Type) has the error as a
#   string (RestController.sendContentTypeErrorMessage, kept by OpenSearch). Only the
#   401 differs (fake_es_replies.unauthorized).
