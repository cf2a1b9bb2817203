"""Sending mail over SMTP with the settings of the configuration; one connection per run."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


class SmtpMailer:
    """`with SmtpMailer(app.config) as mailer: mailer.send(to, subject, body)`."""

    def __init__(self, config) -> None:
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpMailer:
        config = self.config
        factory = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        self.connection = factory(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"])
        if config["MAIL_USE_TLS"]:
            self.connection.starttls()
        if config["MAIL_USERNAME"]:
            self.connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        return self

    def send(self, to: str, subject: str, body: str,
             attachments: list[tuple[str, str, str, bytes]] = ()) -> None:
        """Send a plain-text message; `attachments` are (file name, maintype, subtype, bytes)."""
        message = EmailMessage()
        message["From"] = self.config["MAIL_DEFAULT_SENDER"]
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="hocmxh")
        message.set_content(body)
        for filename, maintype, subtype, data in attachments:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        self.connection.send_message(message)

    def __exit__(self, *exc_info) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except smtplib.SMTPException:
                self.connection.close()
