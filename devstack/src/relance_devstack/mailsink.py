"""A local SMTP sink for the embedded stack: the notifier sends real SMTP to it, and every
mail lands as an .eml file under the data dir, so demos never email anyone."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from aiosmtpd.controller import Controller


class _SaveToDirectory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{uuid4()}.eml").write_bytes(envelope.original_content)
        return "250 Message accepted"


def start_mail_sink(directory: Path, port: int) -> Controller:
    controller = Controller(_SaveToDirectory(directory), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
