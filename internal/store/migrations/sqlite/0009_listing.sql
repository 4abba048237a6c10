-- Listing connections pages by keyset (created_at, id), newest first, under
-- every filter: each filter has an index that ends with the order's columns,
-- so a page is a range read of one index, at any depth.
DROP INDEX connections_end_user;
CREATE INDEX connections_env_end_user ON connections (environment_id, end_user_id, created_at DESC, id DESC);
CREATE INDEX connections_env_org ON connections (environment_id, end_user_org_id, created_at DESC, id DESC);
CREATE INDEX connections_integration_created ON connections (integration_id, created_at DESC, id DESC);
CREATE INDEX connections_env_connection_id ON connections (environment_id, connection_id, created_at DESC, id DESC);
-- A tag filter reads the connections having a (key, value) pair from the
-- index alone.
DROP INDEX connection_tags_kv;
CREATE INDEX connection_tags_kv ON connection_tags (key, value, connection_pk);
