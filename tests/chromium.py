"""How the project launches Debian's Chromium (Playwright cannot download its own here).

Without the background-networking flags Chromium keeps dialling Google's hosts, which
this closed network refuses; shared by the browser tests and the benchmarks.
"""

import os

EXECUTABLE = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
