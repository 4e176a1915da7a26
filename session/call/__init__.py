"""The live call, sans-IO: the signalling wire format, the room state machine, roster, views and message rates.

Pure: events in, effects out. The WebSocket handler (``web``) and the media relay (``session.media``) carry the
effects out; this package imports neither.
"""
