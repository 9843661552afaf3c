"""The media domain's SQL (tables in service/db/migrations/0015_media.sql)."""

from __future__ import annotations

CHECK_KIND = "media.check"  # send one stored image to WeChat's check
RESUBMIT_KIND = "media.resubmit"  # ask again for verdicts that never came
CLEANUP_KIND = "media.cleanup"  # delete uploads nobody used

_MEDIA = """
SELECT m.id::text AS id, m.owner_id, m.purpose, m.created_at,
       o.sha256, o.storage_key, o.thumbnail_key, o.mime_type, o.width, o.height, o.bytes, o.status AS check_status
FROM media m JOIN media_objects o ON o.sha256 = m.object_sha256
"""

MEDIA_BY_ID = _MEDIA + "WHERE m.id = $1"

# The same file uploaded before (by anyone): its stored object is reused without decoding it again.
OBJECT_BY_SOURCE = """
SELECT object_sha256 FROM media WHERE source_sha256 = $1 LIMIT 1
"""

# Held until the upload commits, so the clean-up cannot delete the object under it.
LOCK_OBJECT = "SELECT sha256 FROM media_objects WHERE sha256 = $1 FOR SHARE"

INSERT_OBJECT = """
INSERT INTO media_objects (sha256, storage_key, thumbnail_key, mime_type, width, height, bytes)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (sha256) DO NOTHING
"""

INSERT_MEDIA = """
INSERT INTO media (owner_id, object_sha256, source_sha256, source_bytes, purpose)
VALUES ($1, $2, $3, $4, $5)
RETURNING id
"""

# The first uploader's openid and purpose decide the check's scene.
TO_CHECK = """
SELECT o.sha256, o.storage_key, o.status, o.check_attempts, u.openid, m.purpose
FROM media_objects o
JOIN media m ON m.object_sha256 = o.sha256
JOIN users u ON u.id = m.owner_id
WHERE o.sha256 = $1
ORDER BY m.id
LIMIT 1
"""

SUBMITTED = """
WITH check_row AS (INSERT INTO media_checks (trace_id, object_sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING)
UPDATE media_objects SET submitted_at = now(), check_attempts = check_attempts + 1 WHERE sha256 = $2
"""

# A submission and its verdict meet under this lock, whichever comes first (the push can beat the insert).
LOCK_TRACE = "SELECT pg_advisory_xact_lock(hashtextextended('media_check:' || $1, 0))"

TRACE_KNOWN = "SELECT true FROM media_checks WHERE trace_id = $1"

KEEP_EARLY_VERDICT = """
INSERT INTO media_early_verdicts (trace_id, suggest, label) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
"""

TAKE_EARLY_VERDICT = "DELETE FROM media_early_verdicts WHERE trace_id = $1 RETURNING suggest, label"

FORGET_EARLY_VERDICTS = "DELETE FROM media_early_verdicts WHERE received_at < now() - interval '1 day'"

# A verdict counts once: the first answer to a submission, and only while its image is still pending.
ANSWERED = """
UPDATE media_checks SET suggest = $2, answered_at = now()
WHERE trace_id = $1 AND answered_at IS NULL
RETURNING object_sha256
"""

DECIDED = """
UPDATE media_objects
SET status = CASE $2::text WHEN 'pass' THEN 'approved' WHEN 'risky' THEN 'rejected' ELSE 'review' END,
    label = $3, checked_at = now()
WHERE sha256 = $1 AND status = 'pending'
RETURNING status
"""

STALE_CHECKS = """
SELECT sha256 FROM media_objects
WHERE status = 'pending' AND check_attempts < $1
  AND (submitted_at IS NULL OR submitted_at <= now() - make_interval(secs => $2))
ORDER BY submitted_at NULLS FIRST
LIMIT 500
"""

# attached_at again outside the subquery: an upload a post attached while this waited for its row is re-read
# there (its newest version) and kept; the subquery's choice alone would delete what the post now shows.
EXPIRED_UPLOADS = """
DELETE FROM media
WHERE id IN (
    SELECT id FROM media WHERE attached_at IS NULL AND created_at <= now() - make_interval(hours => $1)
    ORDER BY created_at LIMIT 1000
) AND attached_at IS NULL
RETURNING object_sha256
"""

# Objects no upload refers to any more (uploads expired, or deleted with what they were attached to); their
# files are deleted once the rows are gone. An upload of the same content meanwhile holds its row (FOR SHARE).
ORPHANS_BATCH = 1000
ORPHANS = f"""
DELETE FROM media_objects o
WHERE o.sha256 IN (
    SELECT sha256 FROM media_objects x
    WHERE NOT EXISTS (SELECT 1 FROM media m WHERE m.object_sha256 = x.sha256)
    LIMIT {ORPHANS_BATCH}
    FOR UPDATE SKIP LOCKED
)
RETURNING o.storage_key, o.thumbnail_key
"""  # noqa: S608 - a constant, formatted at import time

# An avatar or cover shown to anyone: attached, approved.
PUBLIC_IMAGE = """
SELECT m.purpose, o.storage_key, o.thumbnail_key
FROM media m JOIN media_objects o ON o.sha256 = m.object_sha256
WHERE m.id = $1 AND m.purpose IN ('avatar', 'cover') AND m.attached_at IS NOT NULL AND o.status = 'approved'
"""
