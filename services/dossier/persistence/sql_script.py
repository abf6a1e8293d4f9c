"""Run a multi-statement SQL script inside an Alembic migration.

The asyncpg driver prepares each statement, and a prepared statement holds one command,
so a script is split on top-level semicolons (those inside `$$ … $$` bodies are kept)."""

from alembic import op


def split_statements(script: str) -> list[str]:
    statements, current, in_dollar_body = [], [], False
    for line in script.splitlines():
        stripped = line.split("--", 1)[0] if not in_dollar_body else line
        current.append(line)
        if stripped.count("$$") % 2 == 1:
            in_dollar_body = not in_dollar_body
        if not in_dollar_body and stripped.rstrip().endswith(";"):
            statement = "\n".join(current).strip()
            if statement.strip(";").strip():
                statements.append(statement)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements


def run_script(script: str) -> None:
    for statement in split_statements(script):
        op.execute(statement)
