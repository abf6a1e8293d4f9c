"""Run a multi-statement SQL script inside an Alembic migration.

The asyncpg driver prepares each statement, and a prepared statement holds one command,
so a script is cut into its top-level statements (sqlparse knows quotes, `$tag$` bodies
and comments, whose semicolons do not end a statement)."""

import sqlparse
from alembic import op


def split_statements(script: str) -> list[str]:
    statements = []
    for statement in sqlparse.split(script):
        code = sqlparse.format(statement, strip_comments=True).strip()
        if code and code != ";":
            statements.append(statement.strip())
    return statements


def run_script(script: str) -> None:
    for statement in split_statements(script):
        op.execute(statement)
