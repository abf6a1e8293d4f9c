"""Run a multi-statement SQL script inside an Alembic migration.

The asyncpg driver prepares each statement, and a prepared statement holds one command,
so a script is cut on its top-level semicolons only: those inside quotes, `$tag$` bodies,
`--` line comments and `/* */` block comments do not end a statement."""

import re

from alembic import op

_DOLLAR_TAG = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*\$|\$\$")


def split_statements(script: str) -> list[str]:
    statements: list[str] = []
    start, i, n = 0, 0, len(script)
    state: str | None = None  # None, "--", "/*", "'", '"', or a dollar tag
    has_code = False

    def emit(end: int) -> None:
        text = script[start:end].strip()
        if has_code and text:
            statements.append(text)

    while i < n:
        char = script[i]
        if state is None:
            if script.startswith("--", i) or script.startswith("/*", i):
                state, i = script[i : i + 2], i + 2
                continue
            if char in "'\"":
                state, has_code, i = char, True, i + 1
                continue
            if char == "$" and (tag := _DOLLAR_TAG.match(script, i)):
                state, has_code, i = tag.group(), True, tag.end()
                continue
            if char == ";":
                end = i + 1
                newline = script.find("\n", end)
                line_end = n if newline == -1 else newline
                rest = script[end:line_end].strip()
                if not rest or rest.startswith("--"):
                    end = line_end  # a trailing comment stays with its statement
                emit(end)
                start, i, has_code = end, end, False
                continue
            if not char.isspace():
                has_code = True
            i += 1
        elif state == "--":
            state = None if char == "\n" else state
            i += 1
        elif state == "/*":
            if script.startswith("*/", i):
                state, i = None, i + 2
            else:
                i += 1
        elif state in ("'", '"'):
            if char == state and script.startswith(state * 2, i):
                i += 2  # a doubled quote inside a string
            elif char == state:
                state, i = None, i + 1
            else:
                i += 1
        elif script.startswith(state, i):  # the closing dollar tag
            i, state = i + len(state), None
        else:
            i += 1
    emit(n)
    return statements


def run_script(script: str) -> None:
    for statement in split_statements(script):
        op.execute(statement)
