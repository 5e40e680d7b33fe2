"""``python app.py``: the web chat and HTTP API on http://127.0.0.1:7860/.

Configured by the environment: POLICYQA_HOST, POLICYQA_PORT, POLICYQA_WORKERS, and (read by the
assistant itself) POLICYQA_CORPUS, POLICYQA_INDEX_DIR, POLICYQA_MODEL, POLICYQA_DATA_DIR, POLICYQA_ADMIN_TOKEN.
"""

from __future__ import annotations

import os

from assistant.web import serve

if __name__ == "__main__":
    serve(
        host=os.environ.get("POLICYQA_HOST", "127.0.0.1"),
        port=int(os.environ.get("POLICYQA_PORT", "7860")),
        workers=int(os.environ.get("POLICYQA_WORKERS", "1")),
    )
