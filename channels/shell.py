"""`make shell`: Rasa's own console in front of a running Rasa server.

`rasa shell` starts a server of its own with only the stock command-line channel, so it would
bypass what the channels here add (loopback-only REST, "temporarily unavailable" instead of
silence). `scripts/run.sh shell` therefore starts `rasa run` with credentials.yml, and this
module runs the same console `rasa shell` uses against it, through the loopback REST channel.
Type /stop to leave.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from rasa.core.channels.console import record_messages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5005", help="the Rasa server")
    parser.add_argument("--sender", default=f"shell-{uuid.uuid4().hex[:12]}", help="conversation id")
    args = parser.parse_args(argv)
    asyncio.run(record_messages(sender_id=args.sender, server_url=args.url))


if __name__ == "__main__":
    main()
