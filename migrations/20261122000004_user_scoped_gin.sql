-- Search and tag filters scoped by user in the index itself: every list query has
-- `user_id = $1`, and a GIN index over all users makes a common term's posting list cover
-- every user's rows (docs/BENCHMARKS.md, "user-scoped GIN"). btree_gin lets user_id lead
-- a GIN index; it is a trusted extension (PostgreSQL 13+), so the owner of the database can
-- create it.
create extension if not exists btree_gin;
create index tasks_user_search on tasks using gin (user_id, search);
create index tasks_user_tags on tasks using gin (user_id, tags);
drop index tasks_search;
drop index tasks_tags;
