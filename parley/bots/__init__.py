"""Bots: programs that take part in Parley as ordinary users, over the public protocol (docs/protocol.md) only.

call_echo.CallEcho answers every call to its user and sends back what the caller sends (`parley call-echo`):
proof that the call signalling works outside the web page, and a partner for testing calls by hand. It needs
aiortc (`pip install 'parley[calls]'`), which the server itself does not.
"""
