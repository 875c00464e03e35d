"""The query language: Lucene's classic query syntax, parsed into the search AST.

``parser.parse`` is the entry point. ``lexer`` makes tokens, ``stream`` walks them, and
``grammar`` builds the AST of ``ast`` the way Lucene's QueryParser does; ``escapes``,
``numbers`` and ``datemath`` read escaped terms, numbers and ``now-1d`` dates, and
``builders`` makes the queries the Lucene oracle makes, as AST nodes. It knows nothing
about storage: both backends read its AST.

May import: nothing of the app outside this package.
"""
