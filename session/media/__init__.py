"""The media relay: aiortc peer connections, fan-out, the shared encoder, ICE and RTCP bounds, TURN credentials.

Knows nothing of plans, rights or the room's rules: the call's state machine (``session.call``) decides who sees
whom, and the web layer wires its effects to this package. Of the privacy core it takes the frame gate
(``privacy.vision.privacy_track``) and message keys (``privacy.user_text``), never the records.
"""
