"""The media relay: aiortc peer connections, fan-out, the shared encoder, ICE and RTCP bounds, TURN credentials.

Knows nothing of plans, rights or the room's rules: the call's state machine (``session.call``) decides who sees
whom, and the web layer wires its effects to this package. Only the privacy gate (``privacy.vision``) is imported.
"""
