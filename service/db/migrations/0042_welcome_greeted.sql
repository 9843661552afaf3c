-- A welcome post records whom it greeted (greeted_id) and its text split where their nickname went (greeting), so
-- the erasure puts 已注销用户 in every greeting of the member (docs/privacy.md): the one of an earlier join too
-- (memberships.welcome_post_id names only the latest) and one naming a nickname since changed
-- (communities/privacy.py). Written by the admission (communities/logic.py admit).
ALTER TABLE posts
    ADD COLUMN greeted_id  bigint REFERENCES users (id),
    ADD COLUMN greeting    text[];
CREATE INDEX posts_greeted ON posts (greeted_id) WHERE greeted_id IS NOT NULL;

-- The greetings written before: the one a membership points to, and an earlier one found by its admission's audit
-- entry (written in the same transaction: the same created_at, the same community; skipped where two admissions
-- shared a transaction). The nickname as it was is not on record: the text is split at the current nickname, as
-- the erasure used to replace it (a greeting of a nickname since changed stays as it is).
UPDATE posts p SET greeted_id = m.user_id
FROM memberships m
WHERE p.community_id = m.community_id AND p.id = m.welcome_post_id AND p.kind = 'welcome';

UPDATE posts p SET greeted_id = a.subject_id
FROM (SELECT p.community_id, p.id, min(a.subject_id) AS subject_id
      FROM posts p JOIN community_audit_log a
           ON a.community_id = p.community_id AND a.created_at = p.created_at AND a.action = 'member.joined'
      WHERE p.kind = 'welcome' AND p.greeted_id IS NULL
      GROUP BY p.community_id, p.id HAVING count(*) = 1) a
WHERE p.community_id = a.community_id AND p.id = a.id;

UPDATE posts p SET greeting = string_to_array(p.text, u.nickname)
FROM users u
WHERE u.id = p.greeted_id AND u.nickname <> '';
