-- Posts (imageIds), comments (imageId) and trial feedback (imageIds) take uploaded photos instead of URLs: the media ids, in order. A post with images is shown
-- to others once WeChat's image check approved every one (service/core/media.py).
ALTER TABLE posts ADD COLUMN image_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE posts ADD CONSTRAINT posts_image_ids_count CHECK (cardinality(image_ids) <= 9);
-- A verdict finds the posts waiting for it.
CREATE INDEX posts_pending_images ON posts USING gin (image_ids) WHERE status = 'pending' AND image_ids <> '{}';

ALTER TABLE comments ADD COLUMN image_id bigint;
CREATE INDEX comments_pending_image ON comments (image_id) WHERE status = 'pending' AND image_id IS NOT NULL;

-- Trial feedback takes photos too: its admins see them once WeChat approved them.
ALTER TABLE trial_feedback ADD COLUMN image_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE trial_feedback ADD CONSTRAINT trial_feedback_image_ids_count CHECK (cardinality(image_ids) <= 9);
