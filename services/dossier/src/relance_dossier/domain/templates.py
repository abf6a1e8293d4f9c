"""Templates are checked when they are given (issue 10, F-18): a Jinja syntax error is a
422 naming the field, with the error and its line, not a communication failing at send
time. The notifier renders them; only the syntax is checked here (no I/O, no context)."""

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from relance_dossier.domain.accounts import DomainError

# The product's tags (F-18) stand for Jinja expressions; they are plain text to Jinja.
_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


def check_template_syntax(**sources: str) -> None:
    """Raise a DomainError naming the first field (subject, body) whose source is not
    valid Jinja, with Jinja's message and the line it points at."""
    for field, source in sources.items():
        try:
            _ENV.parse(source)
        except TemplateSyntaxError as exc:
            raise DomainError(field, f"template syntax error at line {exc.lineno}: {exc.message}") from None
