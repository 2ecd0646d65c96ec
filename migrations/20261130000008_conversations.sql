-- The chat's conversations (shared/src/domain/conversation.rs) when they are kept in the
-- project's database (todo-local; in production they live in the Dapr state store). One row
-- per conversation: the whole conversation as a JSON document, written as the domain built
-- it, and `version`, its optimistic-concurrency version (the etag): a save names the
-- version it read and fails when another save moved it first. The listing's columns are a
-- copy of the document's summary (`Conversation::summary`), so a list reads no document.
create table conversations (
    id            uuid primary key,
    user_id       text not null check (length(user_id) between 1 and 255),
    document      jsonb not null check (jsonb_typeof(document) = 'object'),
    version       bigint not null check (version >= 1),
    title         text not null,
    message_count integer not null check (message_count >= 0),
    created_at    timestamptz not null,
    updated_at    timestamptz not null
);
-- A user's conversations, most recently changed first (ties by id).
create index conversations_user_updated on conversations (user_id, updated_at desc, id);
