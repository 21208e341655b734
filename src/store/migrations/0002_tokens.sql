-- Gaffer schema, version 2: API tokens (R9). Only the sha256 of a secret is stored;
-- the secret itself is shown once, when the token is created.

create table api_tokens (
  id text primary key,
  name text not null,
  role text not null check (role in ('admin', 'producer', 'worker')),
  hash text not null unique,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_tokens_active on api_tokens (created_at) where revoked_at is null;

-- The token that registered a worker: a worker token may act only through workers it registered.
alter table workers add column token_id text;
