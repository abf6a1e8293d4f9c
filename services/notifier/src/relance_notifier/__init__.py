"""The notifier service: consumes `communication.commands`, renders templates and sends
communications through real channel adapters (SMTP for email and internal emails, an HTTP
provider for SMS, PDF documents for letters), keeping a trace of every communication on
the client (F-16, F-23, F-32). Run it with `python -m relance_notifier`."""
