"""Collections' part of account export (core/privacy.py): what the member paid into. Participations and the
collections the member started stay: they are money records."""

from __future__ import annotations

from service.core.privacy import Privacy

_COLLECTIONS = """
SELECT p.collection_id::text AS collection_id, c.title, p.status, p.order_id::text AS order_id, p.paid_at
FROM collection_participants p JOIN collections c ON c.id = p.collection_id AND c.community_id = p.community_id
WHERE p.user_id = $1 ORDER BY p.collection_id
"""


PRIVACY = Privacy(exports={"collections": _COLLECTIONS}, keeps=("collections", "collection_participants"))
