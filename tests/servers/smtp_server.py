"""A small real SMTP server on 127.0.0.1 that keeps every message it is given.

Enough of RFC 5321 for a mail client: EHLO/HELO, AUTH PLAIN/LOGIN (any credentials are
accepted and recorded), MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP, QUIT.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from socketserver import StreamRequestHandler, ThreadingTCPServer


@dataclass
class Mail:
    """One message as received."""

    sender: str
    recipients: list[str]
    data: str
    login: str | None = None


@dataclass
class SmtpTestServer:
    """Start with ``start()``; messages land in ``mails``."""

    port: int = 0
    mails: list[Mail] = field(default_factory=list)

    def start(self) -> None:
        server_self = self

        class Handler(StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 mail.test ESMTP")
                sender, login = "", None
                rcpts: list[str] = []
                while True:
                    raw = self.rfile.readline(4096)
                    if not raw:
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.reply("250-mail.test")
                        self.reply("250-AUTH PLAIN LOGIN")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 mail.test")
                    elif verb == "AUTH":
                        parts = line.split()
                        if parts[1].upper() == "PLAIN":
                            token = parts[2] if len(parts) > 2 else ""
                            if not token:
                                self.reply("334 ")
                                token = self.rfile.readline().decode().strip()
                            login = base64.b64decode(token).split(b"\0")[1].decode()
                        else:
                            self.reply("334 VXNlcm5hbWU6")
                            login = base64.b64decode(self.rfile.readline().strip()).decode()
                            self.reply("334 UGFzc3dvcmQ6")
                            self.rfile.readline()
                        self.reply("235 2.7.0 accepted")
                    elif verb == "MAIL":
                        sender, rcpts = line.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        rcpts.append(line.split(":", 1)[1].strip(" <>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        lines = []
                        while True:
                            data = self.rfile.readline().decode("utf-8", "replace")
                            if data in (".\r\n", ".\n", ""):
                                break
                            lines.append(data[1:] if data.startswith("..") else data)
                        server_self.mails.append(Mail(sender, rcpts, "".join(lines), login))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # RSET, NOOP, anything else
                        self.reply("250 ok")

        ThreadingTCPServer.allow_reuse_address = True
        ThreadingTCPServer.daemon_threads = True
        self._server = ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
