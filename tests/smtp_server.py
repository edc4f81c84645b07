"""An SMTP server on 127.0.0.1 for the email tests (aiosmtpd): it requires AUTH with one user
and password (none when USER is -), and writes each message it accepts to a JSON file in a
folder. With CERT and KEY it offers STARTTLS and takes AUTH only after it.

usage: smtp_server.py PORT USER PASSWORD FOLDER [CERT KEY]
"""

import email
import email.policy
import json
import pathlib
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keep:
    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.count += 1
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = [
            {
                "type": part.get_content_type(),
                "filename": part.get_filename(),
                "text": part.get_payload(decode=True).decode("utf-8", "replace"),
            }
            for part in message.walk()
            if not part.is_multipart()
        ]
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": getattr(session, "lava_login", None),
            "from": str(message["From"]),
            "to": str(message["To"]),
            "cc": str(message["Cc"]) if message["Cc"] else None,
            "bcc": str(message["Bcc"]) if message["Bcc"] else None,
            "subject": str(message["Subject"]),
            "parts": parts,
            "headers": sorted(message.keys()),
            "structure": [part.get_content_type() for part in message.walk()],
            "tls": session.ssl is not None,
        }
        (self.folder / f"{self.count}.json").write_text(json.dumps(record))
        return f"250 Message accepted as m{self.count}"


def main():
    port, user, password, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    tls_context = None
    if len(sys.argv) > 6:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(sys.argv[5], sys.argv[6])

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        if ok:
            session.lava_login = user
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Keep(folder),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_required=user != "-",
        auth_require_tls=tls_context is not None,
        tls_context=tls_context,
    )
    controller.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
