"""Coverage-guided fuzzing (atheris, libFuzzer) of what meets untrusted bytes first: the HTTP upgrade
parser, the WebSocket frame parser and the client-frame decoder. Each may only answer as designed (None
or an Upgrade; frames or a recorded close code; a frame or ProtocolError), never raise anything else.
The live server gets the same and worse from tests/test_protocol_fuzz.py and the fault table.

    python3 tests/fuzz/front.py -runs=50000          # or -max_total_time=60; tests/test_fuzz_front.py runs it
"""

import sys

import atheris

# Only Parley's own modules are instrumented: instrumenting everything they import (aiohttp, asyncio, email, ...)
# took ~11 s at every start and added no coverage the fuzzer could reach (cov 99 either way).
with atheris.instrument_imports(include=["parley"]):
    from parley.protocol import ProtocolError, decode_client_frame
    from parley.protocol.handshake import parse_upgrade
    from parley.protocol.wsparser import FrameParser


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 2)
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    if which == 0:
        upgrade = parse_upgrade(rest)
        assert upgrade is None or (0 < upgrade.head_size <= len(rest) and upgrade.key and upgrade.host)
    elif which == 1:
        parser = FrameParser(64 * 1024)
        cut = len(rest) // 2
        events = parser.feed(rest[:cut]) + (parser.feed(rest[cut:]) if parser.error is None else [])
        for op, payload in events:
            assert isinstance(op, int) and payload is not None
        if parser.error is not None:
            assert 1000 <= parser.error.code <= 4999
    else:
        try:
            decode_client_frame(rest)
        except ProtocolError as exc:
            assert exc.code and exc.message


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
