-- `points_refunded` inbox items stored `points` as a number, while the API's schema (and every other item's `data`)
-- has text values: the items written so far get it as text too, so old and new answer alike.
UPDATE inbox_items SET data = data || jsonb_build_object('points', data ->> 'points')
WHERE kind = 'points_refunded' AND jsonb_typeof(data -> 'points') = 'number';
