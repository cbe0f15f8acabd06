package mzemu

// catalogVersion changes whenever bootstrapSQL changes, so a backing
// database built by an older mzemu is rebuilt.
const catalogVersion = "mzemu-catalog-11-emu10-replicawait-privfuncs"

// bootstrapSQL builds mzemu's hidden metadata schema (mzemu_meta), the
// schema of pinned upstream foreign tables (mzemu_data) and the
// Materialize catalog relations as real views (mz_catalog, mz_internal).
// Names of items and schemas are never stored: they are read from
// pg_class/pg_namespace by oid, so renames and swaps are followed for free
// and IDs stay stable.
const bootstrapSQL = `
DROP SCHEMA IF EXISTS mz_internal CASCADE;
DROP SCHEMA IF EXISTS mz_catalog CASCADE;
DROP SCHEMA IF EXISTS mzemu_meta CASCADE;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SCHEMA IF NOT EXISTS mzemu_data;
CREATE SCHEMA mzemu_meta;
CREATE SCHEMA mz_catalog;
CREATE SCHEMA mz_internal;
CREATE SCHEMA IF NOT EXISTS public;

CREATE TABLE mzemu_meta.info (key text PRIMARY KEY, value text NOT NULL);
-- Backing names of identifiers over 63 bytes (see longnames.go):
-- mz_name gives an object's Materialize name from its backing name.
CREATE TABLE mzemu_meta.long_names (backing text PRIMARY KEY, name text NOT NULL);
CREATE FUNCTION mzemu_meta.mz_name(n name) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT CASE WHEN n::text ~ '_[0-9a-f]{16}$'
              THEN COALESCE((SELECT l.name FROM mzemu_meta.long_names l WHERE l.backing = n::text), n::text)
              ELSE n::text END
$f$;
-- search_schemas is current_schemas(false) by Materialize name.
CREATE FUNCTION mzemu_meta.search_schemas() RETURNS text[] LANGUAGE sql STABLE AS $f$
  SELECT COALESCE(array_agg(mzemu_meta.mz_name(x.s) ORDER BY x.o), '{}'::text[])
    FROM unnest(current_schemas(false)) WITH ORDINALITY AS x(s, o)
$f$;
-- revision counts committed catalog changes of every mzemu over this
-- database: a DDL transaction fails with 40001 when it moved since its
-- first statement.
CREATE TABLE mzemu_meta.revision (rev int8 NOT NULL);
INSERT INTO mzemu_meta.revision VALUES (0);
CREATE SEQUENCE mzemu_meta.item_seq START 1;
CREATE SEQUENCE mzemu_meta.schema_seq START 4;
CREATE SEQUENCE mzemu_meta.cluster_seq START 2;
CREATE SEQUENCE mzemu_meta.replica_seq START 2;

CREATE TABLE mzemu_meta.schemas (id text PRIMARY KEY, oid oid UNIQUE NOT NULL, owner_id text NOT NULL DEFAULT 'u1');
INSERT INTO mzemu_meta.schemas VALUES ('u3', 'public'::regnamespace::oid);

CREATE TABLE mzemu_meta.clusters (
  id text PRIMARY KEY, name text UNIQUE NOT NULL, managed bool NOT NULL DEFAULT true,
  size text, replication_factor int4, owner_id text NOT NULL DEFAULT 'u1');
INSERT INTO mzemu_meta.clusters VALUES ('u1', 'quickstart', true, '25cc', 1);
CREATE TABLE mzemu_meta.replicas (
  id text PRIMARY KEY, name text NOT NULL, cluster_id text NOT NULL REFERENCES mzemu_meta.clusters ON DELETE CASCADE, size text,
  owner_id text NOT NULL DEFAULT 'u1',
  status text NOT NULL DEFAULT 'online', status_changed_at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO mzemu_meta.replicas VALUES ('u1', 'r1', 'u1', '25cc');
-- Replica status changes (test controls replica_status, oom_kill).
CREATE TABLE mzemu_meta.replica_events (
  replica_id text NOT NULL, status text NOT NULL, reason text, occurred_at timestamptz NOT NULL DEFAULT clock_timestamp());

-- Lag buckets (Materialize: one minute): on each close, every object gets
-- the maximum lag seen in the bucket (lag_seconds, set by the lag control;
-- 0 otherwise), or NULL when it was unreadable at any point of it.
CREATE TABLE mzemu_meta.lag_state (closed_at timestamptz NOT NULL);
INSERT INTO mzemu_meta.lag_state VALUES (clock_timestamp());
CREATE TABLE mzemu_meta.lag_history (object_id text NOT NULL, lag interval, occurred_at timestamptz NOT NULL);
CREATE INDEX ON mzemu_meta.lag_history (object_id, occurred_at DESC);
CREATE TABLE mzemu_meta.lag_settings (pattern text PRIMARY KEY, seconds int8 NOT NULL);
` + rolesBootstrapSQL + `

-- kind: table, source, view, materialized-view, index, connection, secret.
CREATE TABLE mzemu_meta.objects (
  id text PRIMARY KEY,
  oid oid NOT NULL,
  kind text NOT NULL,
  owner_id text NOT NULL DEFAULT 'u1',
  cluster_id text,
  create_tail text,
  definition text,
  source_id text,
  on_id text,
  connection_id text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ready_at timestamptz,
  status text,
  error text,
  status_changed_at timestamptz,
  up_schema text,
  up_table text,
  pinned jsonb,
  text_columns text[],
  exclude_columns text[],
  index_cols text[],
  publication text,
  slot text,
  server_name text,
  data_table text,
  held text
);

-- Test controls (Server.Hold/Release): objects whose name matches a hold
-- of their class are created held, i.e. not ready until released.
CREATE TABLE mzemu_meta.holds (kind text NOT NULL, pattern text NOT NULL, PRIMARY KEY (kind, pattern));
CREATE FUNCTION mzemu_meta.hold_applies(hold text, kind text, source_id text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN kind = 'table' AND source_id IS NOT NULL THEN hold IN ('ingestion', 'snapshot')
              WHEN kind IN ('materialized-view', 'index') THEN hold = 'hydration'
              ELSE false END
$f$;
CREATE FUNCTION mzemu_meta.hold_matches(pattern text, schema_name text, name text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $f$
  SELECT name LIKE p OR schema_name || '.' || name LIKE p
    FROM (SELECT replace(replace(replace(replace(pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%') AS p) x
$f$;
CREATE FUNCTION mzemu_meta.apply_holds() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  SELECT h.kind INTO NEW.held FROM mzemu_meta.holds h
    JOIN pg_catalog.pg_class c ON c.oid = NEW.oid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE mzemu_meta.hold_applies(h.kind, NEW.kind, NEW.source_id)
     AND mzemu_meta.hold_matches(h.pattern, mzemu_meta.mz_name(n.nspname), mzemu_meta.mz_name(c.relname))
   ORDER BY h.kind = 'ingestion' DESC LIMIT 1;
  RETURN NEW;
END
$f$;
CREATE TRIGGER apply_holds BEFORE INSERT ON mzemu_meta.objects FOR EACH ROW EXECUTE FUNCTION mzemu_meta.apply_holds();
CREATE TABLE mzemu_meta.comments (
  id text NOT NULL, object_type text NOT NULL, sub_id int4, comment text NOT NULL);
CREATE UNIQUE INDEX ON mzemu_meta.comments (id, object_type, COALESCE(sub_id, -1));
CREATE TABLE mzemu_meta.deps (object_id text NOT NULL, referenced_id text NOT NULL, PRIMARY KEY (object_id, referenced_id));
CREATE TABLE mzemu_meta.source_refs (
  source_id text NOT NULL, namespace text, name text NOT NULL, updated_at timestamptz NOT NULL, columns text[]);
CREATE TABLE mzemu_meta.connections (
  id text PRIMARY KEY, host text NOT NULL, port int4 NOT NULL, dbname text NOT NULL,
  username text, user_secret text, password_secret text);

CREATE FUNCTION mzemu_meta.await_ready(obj text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
DECLARE r record;
BEGIN
  LOOP
    SELECT o.ready_at, o.held,
           CASE WHEN src.status = 'stalled' THEN src.error WHEN o.status = 'stalled' THEN o.error END AS failure
      INTO r FROM mzemu_meta.objects o LEFT JOIN mzemu_meta.objects src ON src.id = o.source_id WHERE o.id = obj;
    IF NOT FOUND THEN RETURN true; END IF;
    IF r.failure IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'source must be dropped and recreated due to failure: ' || r.failure;
    END IF;
    EXIT WHEN r.held IS NULL AND (r.ready_at IS NULL OR r.ready_at <= clock_timestamp());
    PERFORM pg_sleep(0.005);
  END LOOP;
  RETURN true;
END
$f$;

-- await_replica waits while a cluster that has replicas has none online
-- (a read on it waits, as Materialize's peeks do; replicawait.go).
CREATE FUNCTION mzemu_meta.await_replica(cluster text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
  WHILE EXISTS (SELECT 1 FROM mzemu_meta.replicas WHERE cluster_id = cluster)
    AND NOT EXISTS (SELECT 1 FROM mzemu_meta.replicas WHERE cluster_id = cluster AND status = 'online') LOOP
    PERFORM pg_sleep(0.005);
  END LOOP;
  RETURN true;
END
$f$;

-- mz_type_name is Materialize's name of a type (mz_pgrepr Type::name()):
-- PostgreSQL's SQL-standard names for some types, the catalog name for
-- the others (time, timestamp, timetz, char, _json, ...).
CREATE FUNCTION mzemu_meta.mz_type_name(typ oid) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT CASE f
           WHEN 'time without time zone' THEN 'time'
           WHEN 'timestamp without time zone' THEN 'timestamp'
           WHEN 'time without time zone[]' THEN 'time[]'
           WHEN 'timestamp without time zone[]' THEN 'timestamp[]'
           ELSE CASE WHEN f IN ('boolean', 'character', 'real', 'double precision', 'smallint', 'integer', 'bigint',
                                'timestamp with time zone', 'character varying', 'int2vector', 'boolean[]', 'bytea[]',
                                'character[]', 'date[]', 'real[]', 'double precision[]', 'smallint[]', 'integer[]',
                                'bigint[]', 'interval[]', 'jsonb[]', 'numeric[]', 'oid[]', 'record[]', 'text[]', 'uuid[]',
                                'timestamp with time zone[]', 'character varying[]', 'regclass[]', 'regproc[]', 'regtype[]')
                     THEN f ELSE t.typname::text END
         END
    FROM pg_catalog.pg_type t, pg_catalog.format_type(t.oid, NULL) f WHERE t.oid = typ
$f$;

CREATE VIEW mzemu_meta.items AS
SELECT o.*, mzemu_meta.mz_name(c.relname) AS name, s.id AS schema_id, mzemu_meta.mz_name(n.nspname) AS schema_name,
       'materialize.' || quote_ident(mzemu_meta.mz_name(n.nspname)) || '.' || quote_ident(mzemu_meta.mz_name(c.relname)) AS fqname,
       o.held IS NULL AND (o.ready_at IS NULL OR o.ready_at <= clock_timestamp()) AS ready
  FROM mzemu_meta.objects o
  JOIN pg_catalog.pg_class c ON c.oid = o.oid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN mzemu_meta.schemas s ON s.oid = n.oid;

-- create_tail holds references by ID (chr(31) item chr(31), chr(30)
-- cluster chr(30)), rendered with the current names: create_sql follows
-- renames of the objects it references, as Materialize rewrites it.
CREATE FUNCTION mzemu_meta.render_refs(t text) RETURNS text LANGUAGE plpgsql STABLE AS $f$
DECLARE
  m text[];
  r text := t;
BEGIN
  IF t IS NULL OR (strpos(t, chr(31)) = 0 AND strpos(t, chr(30)) = 0) THEN
    RETURN t;
  END IF;
  FOR m IN SELECT regexp_matches(t, chr(31) || '([a-z][0-9]+)' || chr(31), 'g') LOOP
    r := replace(r, chr(31) || m[1] || chr(31), COALESCE((SELECT fqname FROM mzemu_meta.items WHERE id = m[1]), m[1]));
  END LOOP;
  FOR m IN SELECT regexp_matches(t, chr(30) || '([a-z][0-9]+)' || chr(30), 'g') LOOP
    r := replace(r, chr(30) || m[1] || chr(30), COALESCE((SELECT '"' || replace(name, '"', '""') || '"' FROM mzemu_meta.clusters WHERE id = m[1]), m[1]));
  END LOOP;
  RETURN r;
END
$f$;

CREATE VIEW mzemu_meta.create_sqls AS
SELECT i.id, i.kind, i.fqname,
       CASE i.kind
         WHEN 'table' THEN 'CREATE TABLE ' || i.fqname || mzemu_meta.render_refs(i.create_tail)
         WHEN 'source' THEN 'CREATE SOURCE ' || i.fqname || mzemu_meta.render_refs(i.create_tail)
         WHEN 'view' THEN 'CREATE VIEW ' || i.fqname || mzemu_meta.render_refs(i.create_tail)
         WHEN 'materialized-view' THEN 'CREATE MATERIALIZED VIEW ' || i.fqname || mzemu_meta.render_refs(i.create_tail)
         WHEN 'connection' THEN 'CREATE CONNECTION ' || i.fqname || mzemu_meta.render_refs(i.create_tail)
         WHEN 'index' THEN 'CREATE INDEX ' || quote_ident(i.name) || mzemu_meta.render_refs(i.create_tail)
         ELSE NULL
       END AS create_sql
  FROM mzemu_meta.items i;

-- Functions clients call unqualified; mz_catalog precedes pg_catalog on
-- every session's search path, so these shadow PostgreSQL's.
CREATE FUNCTION mz_catalog.mz_version() RETURNS text LANGUAGE sql IMMUTABLE AS $f$ SELECT '` + mzVersion + `'::text $f$;
CREATE FUNCTION mz_catalog.mz_version_num() RETURNS int4 LANGUAGE sql IMMUTABLE AS $f$ SELECT ` + mzVersionNum + `::int4 $f$;
CREATE FUNCTION mz_catalog.current_database() RETURNS text LANGUAGE sql IMMUTABLE AS $f$ SELECT 'materialize'::text $f$;
CREATE FUNCTION mz_catalog.version() RETURNS text LANGUAGE sql IMMUTABLE AS $f$ SELECT 'PostgreSQL 9.5 on x86_64-unknown-linux-gnu (Materialize ` + mzVersion + `)'::text $f$;
CREATE FUNCTION mz_catalog.mz_now() RETURNS timestamptz LANGUAGE sql STABLE AS $f$ SELECT now() $f$;

CREATE VIEW mz_catalog.mz_databases AS
SELECT 'u1'::text AS id, 20000::oid AS oid, 'materialize'::text AS name, 'u1'::text AS owner_id, mzemu_meta.acl('database', 'u1') AS privileges;

CREATE VIEW mz_catalog.mz_schemas AS
SELECT s.id, n.oid, 'u1'::text AS database_id, mzemu_meta.mz_name(n.nspname) AS name, s.owner_id, mzemu_meta.acl('schema', s.id) AS privileges
  FROM mzemu_meta.schemas s JOIN pg_catalog.pg_namespace n ON n.oid = s.oid
UNION ALL
SELECT v.id, n.oid, NULL::text, v.name, 's1'::text, ARRAY['=U/s1']::text[]
  FROM (VALUES ('s1', 'mz_catalog'), ('s2', 'pg_catalog'), ('s3', 'mz_internal'), ('s4', 'information_schema')) v(id, name)
  JOIN pg_catalog.pg_namespace n ON n.nspname = v.name;

CREATE VIEW mz_catalog.mz_sources AS
SELECT i.id, i.oid, i.schema_id, i.name, 'postgres'::text AS type, i.connection_id,
       NULL::text AS size, 'none'::text AS envelope_type, NULL::text AS key_format, NULL::text AS value_format,
       i.cluster_id, i.owner_id, mzemu_meta.acl('item', i.id) AS privileges,
       cs.create_sql, cs.create_sql AS redacted_create_sql
  FROM mzemu_meta.items i JOIN mzemu_meta.create_sqls cs ON cs.id = i.id
 WHERE i.kind = 'source';

CREATE VIEW mz_catalog.mz_tables AS
SELECT i.id, i.oid, i.schema_id, i.name, i.owner_id, mzemu_meta.acl('item', i.id) AS privileges,
       cs.create_sql, cs.create_sql AS redacted_create_sql, i.source_id
  FROM mzemu_meta.items i JOIN mzemu_meta.create_sqls cs ON cs.id = i.id
 WHERE i.kind = 'table';

CREATE VIEW mz_catalog.mz_views AS
SELECT i.id, i.oid, i.schema_id, i.name, i.definition, i.owner_id, mzemu_meta.acl('item', i.id) AS privileges,
       cs.create_sql, cs.create_sql AS redacted_create_sql
  FROM mzemu_meta.items i JOIN mzemu_meta.create_sqls cs ON cs.id = i.id
 WHERE i.kind = 'view';

CREATE VIEW mz_catalog.mz_materialized_views AS
SELECT i.id, i.oid, i.schema_id, i.name, i.cluster_id, i.definition, i.owner_id, mzemu_meta.acl('item', i.id) AS privileges,
       cs.create_sql, cs.create_sql AS redacted_create_sql
  FROM mzemu_meta.items i JOIN mzemu_meta.create_sqls cs ON cs.id = i.id
 WHERE i.kind = 'materialized-view';

CREATE VIEW mz_catalog.mz_indexes AS
SELECT i.id, i.oid, i.name, i.on_id, i.cluster_id, i.owner_id,
       cs.create_sql, cs.create_sql AS redacted_create_sql
  FROM mzemu_meta.items i JOIN mzemu_meta.create_sqls cs ON cs.id = i.id
 WHERE i.kind = 'index';

CREATE VIEW mz_catalog.mz_index_columns AS
SELECT i.id AS index_id, k.ord::int8 AS index_position, a.attnum::int8 AS on_position,
       CASE WHEN a.attnum IS NULL THEN k.col END AS on_expression, COALESCE(NOT a.attnotnull, true) AS nullable
  FROM mzemu_meta.items i
  CROSS JOIN LATERAL unnest(i.index_cols) WITH ORDINALITY AS k(col, ord)
  JOIN mzemu_meta.objects t ON t.id = i.on_id
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND mzemu_meta.mz_name(a.attname) = k.col AND NOT a.attisdropped
 WHERE i.kind = 'index';

CREATE VIEW mz_catalog.mz_columns AS
SELECT i.id, mzemu_meta.mz_name(a.attname) AS name, a.attnum::int8 AS position,
       COALESCE(p.nullable, NOT a.attnotnull) AS nullable,
       CASE WHEN i.kind = 'source' THEN 'uint8' ELSE mzemu_meta.mz_type_name(a.atttypid) END AS type,
       NULL::text AS "default",
       CASE WHEN i.kind = 'source' THEN 16464::oid ELSE a.atttypid END AS type_oid,
       a.atttypmod AS type_mod
  FROM mzemu_meta.items i
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN LATERAL (
    SELECT (c->>'nullable')::bool AS nullable FROM jsonb_array_elements(i.pinned->'columns') c
     WHERE c->>'name' = a.attname::text LIMIT 1) p ON true
 WHERE i.kind IN ('table', 'source', 'view', 'materialized-view');

CREATE VIEW mz_catalog.mz_connections AS
SELECT i.id, i.oid, i.schema_id, i.name, 'postgres'::text AS type, i.owner_id, mzemu_meta.acl('item', i.id) AS privileges,
       cs.create_sql, cs.create_sql AS redacted_create_sql
  FROM mzemu_meta.items i JOIN mzemu_meta.create_sqls cs ON cs.id = i.id
 WHERE i.kind = 'connection';

CREATE VIEW mz_catalog.mz_secrets AS
SELECT i.id, i.oid, i.schema_id, i.name, i.owner_id, mzemu_meta.acl('item', i.id) AS privileges
  FROM mzemu_meta.items i WHERE i.kind = 'secret';

CREATE VIEW mz_catalog.mz_clusters AS
SELECT c.id, c.name, c.owner_id, mzemu_meta.acl('cluster', c.id) AS privileges, c.managed, c.size,
       c.replication_factor, false AS disk, '{}'::text[] AS availability_zones,
       false AS introspection_debugging, interval '1 second' AS introspection_interval
  FROM mzemu_meta.clusters c;

CREATE VIEW mz_catalog.mz_cluster_replicas AS
SELECT r.id, r.name, r.cluster_id, r.size, NULL::text AS availability_zone, r.owner_id, false AS disk
  FROM mzemu_meta.replicas r;

CREATE VIEW mz_catalog.mz_objects AS
SELECT i.id, i.oid, i.schema_id, i.name, i.kind AS type, i.owner_id,
       CASE WHEN i.kind IN ('source', 'materialized-view', 'index') THEN i.cluster_id END AS cluster_id,
       mzemu_meta.acl('item', i.id) AS privileges
  FROM mzemu_meta.items i;

CREATE VIEW mz_internal.mz_object_fully_qualified_names AS
SELECT o.id, o.name, o.type AS object_type, o.schema_id, s.name AS schema_name,
       s.database_id, 'materialize'::text AS database_name, o.cluster_id
  FROM mz_catalog.mz_objects o JOIN mz_catalog.mz_schemas s ON s.id = o.schema_id;

CREATE VIEW mz_internal.mz_object_dependencies AS
SELECT d.object_id, d.referenced_id AS referenced_object_id FROM mzemu_meta.deps d;

CREATE VIEW mz_internal.mz_comments AS
SELECT c.id, c.object_type, c.sub_id AS object_sub_id, c.comment FROM mzemu_meta.comments c;

CREATE VIEW mz_internal.mz_postgres_sources AS
SELECT i.id, i.slot AS replication_slot, 1::int8 AS timeline_id FROM mzemu_meta.items i WHERE i.kind = 'source';

CREATE VIEW mz_internal.mz_postgres_source_tables AS
SELECT i.id, i.up_schema AS schema_name, i.up_table AS table_name
  FROM mzemu_meta.items i WHERE i.kind = 'table' AND i.source_id IS NOT NULL;

CREATE VIEW mz_internal.mz_source_references AS
SELECT r.source_id, r.namespace, r.name, r.updated_at, r.columns FROM mzemu_meta.source_refs r;

-- source_state: the status of every source and source-fed table, as
-- Materialize derives it: a source is paused without a replica and stalled
-- with its own error; a table shows its source's stall (and error), its own
-- stall (incompatible schema change), starting until ingestion starts
-- (held 'ingestion'), and running from then on, before its snapshot
-- completes.
CREATE VIEW mzemu_meta.source_state AS
SELECT i.id, i.name, i.kind, i.created_at, i.ready, i.ready_at, i.held,
       CASE WHEN src.status = 'stalled' THEN 'stalled'
            WHEN i.status = 'stalled' THEN 'stalled'
            WHEN NOT EXISTS (SELECT 1 FROM mzemu_meta.replicas r WHERE r.cluster_id = src.cluster_id) THEN 'paused'
            WHEN i.held = 'ingestion' THEN 'starting'
            ELSE 'running' END AS status,
       CASE WHEN src.status = 'stalled' THEN src.error WHEN i.status = 'stalled' THEN i.error END AS error,
       CASE WHEN src.status = 'stalled' THEN src.status_changed_at WHEN i.status = 'stalled' THEN i.status_changed_at END AS stalled_at
  FROM mzemu_meta.items i JOIN mzemu_meta.objects src ON src.id = COALESCE(i.source_id, i.id)
 WHERE i.kind = 'source' OR (i.kind = 'table' AND i.source_id IS NOT NULL);

CREATE VIEW mz_internal.mz_source_statuses AS
SELECT s.id, s.name, CASE WHEN s.kind = 'source' THEN 'postgres' ELSE 'table' END AS type,
       COALESCE(s.stalled_at, s.created_at) AS last_status_change_at, s.status, s.error,
       CASE WHEN s.error IS NOT NULL THEN jsonb_build_object('hints', '[]'::jsonb) END AS details
  FROM mzemu_meta.source_state s;

CREATE VIEW mz_internal.mz_source_status_history AS
SELECT s.created_at AS occurred_at, s.id AS source_id, h.status, NULL::text AS error, NULL::jsonb AS details, NULL::text AS replica_id
  FROM mzemu_meta.source_state s CROSS JOIN (VALUES ('starting'), ('running')) h(status)
 WHERE s.status IN ('running', 'stalled') OR h.status = 'starting'
UNION ALL
SELECT s.stalled_at, s.id, s.status, s.error, jsonb_build_object('hints', '[]'::jsonb), NULL::text
  FROM mzemu_meta.source_state s WHERE s.status = 'stalled';

-- No row until ingestion starts; snapshot_committed false until the
-- snapshot is done, then true.
CREATE VIEW mz_internal.mz_source_statistics AS
SELECT i.id, r.id AS replica_id,
       0::int8 AS messages_received, 0::int8 AS bytes_received, 0::int8 AS updates_staged,
       0::int8 AS updates_committed, 0::int8 AS records_indexed, 0::int8 AS bytes_indexed,
       CASE WHEN i.ready THEN i.ready_at - i.created_at END AS rehydration_latency,
       0::int8 AS snapshot_records_known, 0::int8 AS snapshot_records_staged,
       i.ready AS snapshot_committed, 0::int8 AS offset_known, 0::int8 AS offset_committed
  FROM mzemu_meta.items i
  JOIN mzemu_meta.objects src ON src.id = COALESCE(i.source_id, i.id)
  JOIN mzemu_meta.replicas r ON r.cluster_id = src.cluster_id
 WHERE (i.kind = 'source' OR (i.kind = 'table' AND i.source_id IS NOT NULL)) AND i.held IS DISTINCT FROM 'ingestion';

CREATE VIEW mz_internal.mz_compute_hydration_statuses AS
SELECT i.id AS object_id, r.id AS replica_id, i.ready AND r.status = 'online' AS hydrated,
       CASE WHEN i.ready THEN i.ready_at - i.created_at END AS hydration_time
  FROM mzemu_meta.items i JOIN mzemu_meta.replicas r ON r.cluster_id = i.cluster_id
 WHERE i.kind IN ('materialized-view', 'index');

CREATE VIEW mz_internal.mz_hydration_statuses AS
SELECT object_id, replica_id, hydrated FROM mz_internal.mz_compute_hydration_statuses
UNION ALL
SELECT i.id, r.id, true FROM mzemu_meta.items i JOIN mzemu_meta.replicas r ON r.cluster_id = i.cluster_id
 WHERE i.kind = 'source';

-- readable_since: since when an object has been readable without a break
-- ('infinity' when it is not readable now): hydrated or snapshotted, not
-- stalled, and (for materialized views and indexes) on an online replica.
CREATE FUNCTION mzemu_meta.readable_since(obj text) RETURNS timestamptz LANGUAGE sql STABLE AS $f$
  SELECT CASE
           WHEN NOT i.ready THEN 'infinity'::timestamptz
           WHEN i.kind = 'table' AND i.source_id IS NULL THEN i.created_at
           WHEN i.kind IN ('table', 'source') THEN
             CASE WHEN ss.status IN ('running', 'starting') THEN COALESCE(i.ready_at, i.created_at) ELSE 'infinity'::timestamptz END
           ELSE GREATEST(COALESCE(i.ready_at, i.created_at),
                         COALESCE((SELECT min(r.status_changed_at) FROM mzemu_meta.replicas r
                                    WHERE r.cluster_id = i.cluster_id AND r.status = 'online'), 'infinity'::timestamptz))
         END
    FROM mzemu_meta.items i LEFT JOIN mzemu_meta.source_state ss ON ss.id = i.id
   WHERE i.id = obj
$f$;

-- held_back_since: while a table of a source snapshots (its snapshot or
-- ingestion held or not yet done), the source's ingestion of its other
-- tables is held back (Materialize: "data ingestion for the other tables
-- associated with the source is temporarily blocked"): since when the
-- source and its other tables are held back, NULL when they are not.
CREATE FUNCTION mzemu_meta.held_back_since(obj text) RETURNS timestamptz LANGUAGE sql STABLE AS $f$
  SELECT min(t.created_at)
    FROM mzemu_meta.objects o
    JOIN mzemu_meta.objects t ON t.source_id = COALESCE(o.source_id, o.id) AND t.kind = 'table' AND t.id <> o.id
   WHERE o.id = obj AND (o.kind = 'source' OR (o.kind = 'table' AND o.source_id IS NOT NULL))
     AND t.status IS DISTINCT FROM 'stalled'
     AND NOT (t.held IS NULL AND (t.ready_at IS NULL OR t.ready_at <= clock_timestamp()))
$f$;

CREATE FUNCTION mzemu_meta.close_lag_bucket() RETURNS int LANGUAGE plpgsql AS $f$
DECLARE
  started timestamptz;
  closing timestamptz := clock_timestamp();
  n int;
BEGIN
  SELECT closed_at INTO started FROM mzemu_meta.lag_state FOR UPDATE;
  INSERT INTO mzemu_meta.lag_history (object_id, lag, occurred_at)
  SELECT i.id,
         CASE WHEN mzemu_meta.readable_since(i.id) <= started THEN
           make_interval(secs => GREATEST(
             COALESCE((SELECT max(l.seconds) FROM mzemu_meta.lag_settings l
                        WHERE mzemu_meta.hold_matches(l.pattern, i.schema_name, i.name)), 0),
             -- Held back by a sibling's snapshot: the lag at the bucket's
             -- close, in whole seconds rounded up.
             COALESCE(ceil(extract(epoch FROM closing - mzemu_meta.held_back_since(i.id)))::int8, 0)))
         END,
         closing
    FROM mzemu_meta.items i WHERE i.kind IN ('table', 'source', 'materialized-view', 'index');
  GET DIAGNOSTICS n = ROW_COUNT;
  UPDATE mzemu_meta.lag_state SET closed_at = closing;
  DELETE FROM mzemu_meta.lag_history WHERE occurred_at < closing - interval '1 day';
  RETURN n;
END
$f$;

-- The latest closed bucket of the last 5 minutes; NULL until one closed.
CREATE VIEW mz_internal.mz_wallclock_global_lag AS
SELECT i.id AS object_id,
       (SELECT h.lag FROM mzemu_meta.lag_history h
         WHERE h.object_id = i.id AND h.occurred_at > clock_timestamp() - interval '5 minutes'
         ORDER BY h.occurred_at DESC LIMIT 1) AS lag
  FROM mzemu_meta.items i
 WHERE i.kind IN ('table', 'source', 'materialized-view', 'index');

CREATE VIEW mz_internal.mz_wallclock_global_lag_recent_history AS
SELECT h.object_id, h.lag, h.occurred_at FROM mzemu_meta.lag_history h;

CREATE VIEW mz_internal.mz_materialization_lag AS
SELECT l.object_id, l.lag AS local_lag, l.lag AS global_lag, l.object_id AS slowest_local_input_id, l.object_id AS slowest_global_input_id
  FROM mz_internal.mz_wallclock_global_lag l JOIN mzemu_meta.objects o ON o.id = l.object_id
 WHERE o.kind IN ('materialized-view', 'index');

CREATE VIEW mz_internal.mz_frontiers AS
SELECT i.id AS object_id,
       CASE WHEN i.ready THEN (extract(epoch FROM i.ready_at) * 1000)::int8 ELSE 0 END::numeric AS read_frontier,
       CASE WHEN i.ready THEN (extract(epoch FROM LEAST(clock_timestamp(), mzemu_meta.held_back_since(i.id))) * 1000)::int8
            ELSE 0 END::numeric AS write_frontier
  FROM mzemu_meta.items i WHERE i.kind IN ('table', 'source', 'materialized-view', 'index');

CREATE VIEW mz_internal.mz_cluster_replica_statuses AS
SELECT r.id AS replica_id, 0::int8 AS process_id, r.status, NULL::text AS reason,
       r.status_changed_at AS updated_at
  FROM mzemu_meta.replicas r;

CREATE VIEW mz_internal.mz_cluster_replica_status_history AS
SELECT e.replica_id, 0::int8 AS process_id, e.status, e.reason, e.occurred_at
  FROM mzemu_meta.replica_events e;

` + rolesTriggersSQL + `
` + privFuncsSQL + `
INSERT INTO mzemu_meta.info VALUES ('version', '` + catalogVersion + `');
`

const (
	mzVersion    = "v26.7.0 (mzemu)"
	mzVersionNum = "2600700"
)
