package observed

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
)

// The upstream queries. "wanted" is every table asked for plus every table
// the publication holds, so a reader learns both what left the publication
// and what it could ingest next. A wanted table that does not exist (any
// more) has no pg_class row: it comes back with no columns and an empty
// replica identity. These queries go to the upstream PostgreSQL, never to
// Materialize, so binding Go slices (binary arrays) is fine here.
const upstreamWanted = `WITH wanted AS (
  SELECT w.schema_name, w.table_name
    FROM unnest($2::text[], $3::text[]) AS w(schema_name, table_name)
  UNION
  SELECT pt.schemaname::text, pt.tablename::text
    FROM pg_catalog.pg_publication_tables pt WHERE pt.pubname = $1
), t AS (
  SELECT w.schema_name, w.table_name, c.oid AS relid, c.relreplident
    FROM wanted w
    LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema_name
    LEFT JOIN pg_catalog.pg_class c
      ON c.relnamespace = n.oid AND c.relname = w.table_name AND c.relkind IN ('r', 'p')
)
`

const (
	qUpPublication = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1)`

	qUpTables = upstreamWanted + `SELECT t.schema_name, t.table_name,
       CASE t.relreplident WHEN 'f' THEN 'full' WHEN 'd' THEN 'default'
                           WHEN 'n' THEN 'nothing' WHEN 'i' THEN 'index' ELSE '' END,
       EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables pt
                WHERE pt.pubname = $1 AND pt.schemaname = t.schema_name AND pt.tablename = t.table_name),
       COALESCE(t.relid, 0::oid)
  FROM t`

	qUpColumns = upstreamWanted + `SELECT t.schema_name, t.table_name, a.attname::text, a.attnum::int4,
       pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid::oid, a.atttypmod::int4, NOT a.attnotnull
  FROM t
  JOIN pg_catalog.pg_attribute a ON a.attrelid = t.relid AND a.attnum > 0 AND NOT a.attisdropped`

	qUpKeys = upstreamWanted + `SELECT t.schema_name, t.table_name,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey) ORDER BY a.attname)
  FROM t
  JOIN pg_catalog.pg_constraint con ON con.conrelid = t.relid AND con.contype IN ('p', 'u')`
)

// ReadUpstream inspects the upstream PostgreSQL database a source reads
// from, over q (a connection to that database, never to Materialize): does
// the publication exist; and, for every table in tables and every table
// the publication holds, its OID, publication membership, replica identity,
// columns (attnum, format_type, type OID, typmod, nullability) and its
// primary-key and unique constraints. It is one batch, one round trip.
//
// Tables come back sorted by schema and name, columns by attnum, keys
// sorted. A table that does not exist has an empty ReplicaIdentity and no
// columns.
func ReadUpstream(ctx context.Context, q Querier, publication string, tables []model.UpstreamRef) (model.UpstreamState, error) {
	st := model.UpstreamState{Publication: publication}
	schemas := make([]string, len(tables))
	names := make([]string, len(tables))
	for i, t := range tables {
		schemas[i], names[i] = t.Schema, t.Table
	}
	b := &pgx.Batch{}
	b.Queue(qUpPublication, publication)
	for _, sql := range []string{qUpTables, qUpColumns, qUpKeys} {
		b.Queue(sql, publication, schemas, names)
	}
	byRef := map[model.UpstreamRef]*model.UpstreamTable{}
	get := func(schema, table string) *model.UpstreamTable {
		ref := model.UpstreamRef{Schema: schema, Table: table}
		t, ok := byRef[ref]
		if !ok {
			t = &model.UpstreamTable{Ref: ref}
			byRef[ref] = t
		}
		return t
	}
	br := q.SendBatch(ctx, b)
	steps := []struct {
		what string
		scan func(pgx.Rows) error
	}{
		{"publication", func(r pgx.Rows) error { return r.Scan(&st.PublicationExists) }},
		{"tables", func(r pgx.Rows) error {
			var schema, table, ident string
			var in bool
			var oid uint32
			if err := r.Scan(&schema, &table, &ident, &in, &oid); err != nil {
				return err
			}
			t := get(schema, table)
			t.ReplicaIdentity, t.InPublication, t.OID = ident, in, oid
			return nil
		}},
		{"columns", func(r pgx.Rows) error {
			var schema, table string
			var c model.UpstreamColumn
			var attnum int32
			if err := r.Scan(&schema, &table, &c.Name, &attnum, &c.Type, &c.TypeOID, &c.TypeMod, &c.Nullable); err != nil {
				return err
			}
			c.Attnum = int(attnum)
			t := get(schema, table)
			t.Columns = append(t.Columns, c)
			return nil
		}},
		{"keys", func(r pgx.Rows) error {
			var schema, table string
			var key []string
			if err := r.Scan(&schema, &table, &key); err != nil {
				return err
			}
			t := get(schema, table)
			t.Keys = append(t.Keys, key)
			return nil
		}},
	}
	for _, s := range steps {
		if err := scanAll(br, s.scan); err != nil {
			br.Close()
			return st, fmt.Errorf("inspect upstream %s for publication %s: %w", s.what, publication, err)
		}
	}
	if err := br.Close(); err != nil {
		return st, fmt.Errorf("inspect upstream for publication %s: %w", publication, err)
	}
	for _, t := range byRef {
		slices.SortFunc(t.Columns, func(a, b model.UpstreamColumn) int { return cmp.Compare(a.Attnum, b.Attnum) })
		slices.SortFunc(t.Keys, slices.Compare[[]string])
		st.Tables = append(st.Tables, *t)
	}
	slices.SortFunc(st.Tables, func(a, b model.UpstreamTable) int {
		return cmp.Or(cmp.Compare(a.Ref.Schema, b.Ref.Schema), cmp.Compare(a.Ref.Table, b.Ref.Table))
	})
	return st, nil
}
