"""The status page: public checks' state, uptime, daily bars, response times and incidents.

``sources`` says where the numbers come from, ``build`` turns them into the view model of
``model`` (pure, clock injected), ``render`` writes it as one self-contained HTML page (and
a small JSON document); ``live`` serves it on the agent's listener (``/status``) and
``site`` writes it as static files (``watchkeeper status-page``).
"""
