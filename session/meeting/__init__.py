"""The live meeting on this node: the runtime (who is connected, arriving, messages, leaving, timed jobs), the
interpreter of the room's effects, and the consent and recording policy.

It drives the pure room of :mod:`session.call` and reaches everything else (a participant's connection, the
relay, the ledgers, recordings, links, a clock) only through the ports of :mod:`session.meeting.ports`, which the
web layer implements. It imports no web framework.
"""
