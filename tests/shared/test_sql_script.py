"""Splitting a migration script into single statements: the database driver prepares
one command at a time, so a script must be cut on its top-level semicolons only."""

from relance.sql_script import split_statements

OUTBOX_NOTIFY = """\
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('relance_outbox', '');
    RETURN NULL;
END $$;"""


def test_each_top_level_statement_becomes_its_own_command() -> None:
    script = """
CREATE TABLE collectors (
    id    uuid PRIMARY KEY,
    code  text NOT NULL UNIQUE
);
CREATE INDEX collectors_code ON collectors (code);

INSERT INTO collectors (id, code) VALUES (gen_random_uuid(), 'JD');
"""
    statements = split_statements(script)

    assert len(statements) == 3
    assert statements[0].startswith("CREATE TABLE collectors (")
    assert statements[0].endswith(");")
    assert "code  text NOT NULL UNIQUE" in statements[0]
    assert statements[1] == "CREATE INDEX collectors_code ON collectors (code);"
    assert statements[2] == "INSERT INTO collectors (id, code) VALUES (gen_random_uuid(), 'JD');"


def test_a_dollar_quoted_function_body_is_kept_whole() -> None:
    script = OUTBOX_NOTIFY + """
CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""
    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[0] == OUTBOX_NOTIFY
    assert "PERFORM pg_notify('relance_outbox', '');" in statements[0]
    assert "RETURN NULL;" in statements[0]
    assert statements[1].startswith("CREATE TRIGGER outbox_inserted")


def test_a_function_body_on_one_line_is_kept_whole() -> None:
    script = "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\nSELECT one();"
    assert split_statements(script) == [
        "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;",
        "SELECT one();",
    ]


def test_a_semicolon_in_a_line_comment_does_not_end_the_statement() -> None:
    script = """
CREATE TABLE clients (
    id    uuid PRIMARY KEY,   -- surrogate key; never shown
    code  text NOT NULL       -- the ERP key (F-1);
);
-- a comment line of its own;
CREATE TABLE notes (id uuid PRIMARY KEY);
"""
    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[0].startswith("CREATE TABLE clients (")
    assert statements[0].endswith(");")
    assert "code  text NOT NULL" in statements[0]
    assert statements[1].endswith("CREATE TABLE notes (id uuid PRIMARY KEY);")


def test_a_comment_after_the_semicolon_stays_with_its_statement() -> None:
    script = """
CREATE TABLE a (id int); -- first table
CREATE TABLE b (id int);
"""
    statements = split_statements(script)

    assert statements == ["CREATE TABLE a (id int); -- first table", "CREATE TABLE b (id int);"]


def test_a_comment_line_between_statements_does_not_make_a_statement_of_its_own() -> None:
    statements = split_statements("SELECT 1;\n-- next: the second query;\n\nSELECT 2;\n")

    assert len(statements) == 2
    assert statements[0] == "SELECT 1;"
    assert statements[1].endswith("SELECT 2;")


def test_a_lone_semicolon_is_not_a_statement() -> None:
    assert split_statements("SELECT 1;\n;\nSELECT 2;") == ["SELECT 1;", "SELECT 2;"]


def test_a_last_statement_without_semicolon_is_kept() -> None:
    assert split_statements("SELECT 1;\nSELECT 2") == ["SELECT 1;", "SELECT 2"]


def test_the_foundation_migration_splits_into_single_commands() -> None:
    """The real schema script: every piece holds exactly one CREATE statement."""
    from importlib import util
    from pathlib import Path

    import relance_dossier

    path = Path(relance_dossier.__file__).parent / "migrations" / "versions" / "0001_foundation.py"
    spec = util.spec_from_file_location("foundation_migration", path)
    assert spec is not None and spec.loader is not None
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)

    statements = split_statements(module.SCHEMA)

    creates = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "--"))]
    assert creates == statements
    for statement in statements:
        code = "\n".join(line.split("--", 1)[0] for line in statement.splitlines())
        assert code.upper().count("CREATE ") == 1, statement
    function = next(s for s in statements if s.startswith("CREATE FUNCTION outbox_notify()"))
    assert function.endswith("END $$;")
    assert "RETURN NULL;" in function


def test_a_comment_after_the_end_of_a_function_body_does_not_merge_statements() -> None:
    script = """\
CREATE FUNCTION one() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN 1;
END $$; -- returns one
CREATE TABLE t (id int);"""
    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[1] == "CREATE TABLE t (id int);"


def test_a_semicolon_in_a_block_comment_does_not_end_the_statement() -> None:
    script = "/* historic note;\n   kept for the auditors */\nCREATE TABLE t (id int);"
    assert split_statements(script) == [script]


def test_a_script_of_only_comments_and_blank_lines_has_no_statement() -> None:
    assert split_statements("\n-- nothing to run;\n/* nor here; */\n   \n") == []


def test_two_statements_on_one_line_are_two_commands() -> None:
    assert split_statements("SELECT 1; SELECT 2;") == ["SELECT 1;", "SELECT 2;"]


def test_semicolons_and_dashes_inside_string_literals_are_data() -> None:
    script = "INSERT INTO templates (code, body) VALUES ('r1', 'Bonjour;\n-- pas un commentaire;\nMerci');\nSELECT 2;"
    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[0].endswith("Merci');")
    assert statements[1] == "SELECT 2;"


def test_a_doubled_quote_does_not_end_a_string_literal() -> None:
    script = "INSERT INTO notes (body) VALUES ('l''agence; relancée');\nSELECT 2;"
    assert split_statements(script) == [
        "INSERT INTO notes (body) VALUES ('l''agence; relancée');",
        "SELECT 2;",
    ]


def test_a_tagged_dollar_quoted_body_is_kept_whole() -> None:
    script = """\
CREATE FUNCTION two() RETURNS text LANGUAGE plpgsql AS $body$
BEGIN
    RETURN $$a;b$$;
END $body$;
SELECT two();"""
    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[0].endswith("END $body$;")
    assert "RETURN $$a;b$$;" in statements[0]
    assert statements[1] == "SELECT two();"
