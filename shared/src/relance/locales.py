"""Which locale's version of a template a reader gets (F-39), one rule for the dossier
(which resolves the client's) and the notifier (which knows the contact it writes to).

Tags are compared without case and with `-` or `_` alike (`en-GB`, `en_gb`); a wanted
tag matches a version of the same tag first, else of the same language (`en-GB` takes
`en`, `en` takes `en-GB` when no plain `en` exists). The wanted tags are tried in order:
the contact's language, the client's locale, the fallback."""

from collections.abc import Iterable


def normalise(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()


def language_of(tag: str) -> str:
    return normalise(tag).split("-", 1)[0]


def best_locale(available: Iterable[str], *wanted: str | None) -> str | None:
    """The available locale for the first wanted tag that has one; None when none has."""
    versions = list(available)
    for tag in wanted:
        if not tag or not tag.strip():
            continue
        exact = [v for v in versions if normalise(v) == normalise(tag)]
        if exact:
            return exact[0]
        same_language = sorted(
            (v for v in versions if language_of(v) == language_of(tag)),
            key=lambda v: (normalise(v) != language_of(v), normalise(v)),
        )
        if same_language:
            return same_language[0]
    return None
