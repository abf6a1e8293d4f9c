"""FastStream subscriber of `communication.commands`."""
