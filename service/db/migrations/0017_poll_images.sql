-- A poll's product pictures are its admin's uploads (imageIds), like posts' photos: members see each once WeChat's
-- image check approved it, the poll's admins all of them. The URLs of polls made before stay in image_urls.
ALTER TABLE polls ADD COLUMN image_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE polls ADD CONSTRAINT polls_image_ids_count CHECK (cardinality(image_ids) <= 9);

-- Deleting a post or comment deletes its uploads unless something else alive shows them (service/core/media.py,
-- release_images): these find the other rows that show an upload.
CREATE INDEX posts_image_ids ON posts USING gin (image_ids) WHERE image_ids <> '{}';
CREATE INDEX comments_image_id ON comments (image_id) WHERE image_id IS NOT NULL;
CREATE INDEX trial_feedback_image_ids ON trial_feedback USING gin (image_ids) WHERE image_ids <> '{}';
CREATE INDEX polls_image_ids ON polls USING gin (image_ids) WHERE image_ids <> '{}';
