-- Gaffer schema, version 7: worker tokens may be scoped to queues and task types (issue 17, item 10).
-- null: no scope (every queue, every type). A scoped token's workers claim, and so read and complete,
-- only tasks inside both lists.
alter table api_tokens add column queues text[];
alter table api_tokens add column types text[];
