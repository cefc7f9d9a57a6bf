"""Notifications: message text, routing, secret masking, sending through Apprise.

The agent process never imports Apprise (its plugins cost tens of MB of memory): sending
happens in a short-lived child process, ``python -m agent.notify.apprise_child``.
"""
