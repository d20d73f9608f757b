"""Entry point of ``python -m llm_fallback``."""

import sys

from llm_fallback.cli.main import main

sys.exit(main())
