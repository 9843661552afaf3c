-- interests.extract reads each source only up to an id under which no transaction still in flight can add a row:
-- ids are taken at insert and rows seen at commit, so a text whose transaction committed after a later id's was
-- passed over for good (service/interests/extraction.py).
ALTER TABLE interest_progress
    ADD COLUMN final_id         bigint NOT NULL DEFAULT 0,  -- every row at or below it is committed or never will be
    ADD COLUMN horizon_id       bigint,  -- the highest id when horizon_writers were writing: final once they ended
    ADD COLUMN horizon_writers  text[];  -- their virtual transaction ids (pg_locks.virtualtransaction)

UPDATE interest_progress SET final_id = last_id;
