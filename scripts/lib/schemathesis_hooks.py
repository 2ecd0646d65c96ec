"""Loaded into schemathesis by scripts/contract-test.sh (its configuration's `hooks`).

Works around a CPython 3.11 parser bug: Hypothesis labels a filter's lambda by parsing the
source file it is defined in, and on 3.11 parsing schemathesis' largest module from deep in
the stack can fail with SystemError ("AST constructor recursion depth mismatch"), which
aborts the generation of an operation's test cases. The label only names the filter in
reports; on that error it becomes "lambda: <unknown>", as Hypothesis writes it for a source
it cannot read. Python 3.12 and later are left alone.
"""

import sys

if sys.version_info < (3, 12):
    from hypothesis.internal import lambda_sources

    _describe = lambda_sources._lambda_description

    def _lambda_description(f, *args, **kwargs):
        try:
            return _describe(f, *args, **kwargs)
        except SystemError:
            return "lambda: <unknown>"

    lambda_sources._lambda_description = _lambda_description
