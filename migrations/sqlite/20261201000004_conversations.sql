-- The chat's conversations (PostgreSQL's migration 8), in this schema's encodings: the
-- document is JSON TEXT, times are microseconds since the Unix epoch, the id its 16 bytes.
-- `version` is the optimistic-concurrency version (the etag); the listing's columns are a
-- copy of the document's summary.
create table conversations (
    id            blob not null primary key check (length(id) = 16),
    user_id       text not null check (length(user_id) between 1 and 255),
    document      text not null check (json_valid(document) and json_type(document) = 'object'),
    version       integer not null check (version >= 1),
    title         text not null,
    message_count integer not null check (message_count >= 0),
    created_at    integer not null,
    updated_at    integer not null
) strict;
-- A user's conversations, most recently changed first (ties by id).
create index conversations_user_updated on conversations (user_id, updated_at desc, id);
