"""The sample of the repository: the committed inbox `sample_data/inbox/` and the generator that writes it.

`shuno sample` writes an inbox of any size from `sample_inbox` (`sample_data.sample_inbox`): the
city (`city`), the planted cases (`planted`) and the byte-level anomalies (`anomalies`), made into
files (`files`). The committed inbox is what it writes for `COMMITTED_PAYMENTS` and
`COMMITTED_SEED`; README.md beside it lists the planted cases and what each must produce.
"""

from pathlib import Path

COMMITTED_INBOX = Path(__file__).resolve().parent / "inbox"
COMMITTED_PAYMENTS, COMMITTED_SEED = 300, 7
