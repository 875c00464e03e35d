"""Lucene-syntax search over delivery history: parser, documents and backends."""
