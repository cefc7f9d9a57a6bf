"""Small real servers for tests, bound to 127.0.0.1 (or ::1) only.

- ``http_server``: a raw asyncio HTTP/1.1 server (optionally TLS) whose routes script every
  behaviour a check must survive: slow answers, no answer, resets mid-body, redirects, huge
  bodies. Also runs standalone as the target of the scale benchmark.
- ``receiver``: that server on a thread of its own for synchronous code, recording every
  request: the notification receiver Apprise and the agent post to (the ``receiver``
  fixture), scriptable to flap (an error status, a delay, a dropped connection).
- ``tcp_server``: a banner server (greets, answers a line, or stays silent).
- ``certs``: trustme-made certificates: valid, expired, wrong host name, self-signed.
- ``sockets``: a refused port and a listener with a full backlog (connect timeouts).
"""
