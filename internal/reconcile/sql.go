package reconcile

import (
	"fmt"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// The statements of the SQL contract. Every identifier goes through
// model.QuoteIdent and every literal through model.QuoteLiteral; the only
// text spliced in verbatim is a view's query, which the spec has checked is
// a single statement.

func sqlCreateSchema(name string) string {
	return "CREATE SCHEMA " + model.QuoteIdent(name)
}

func sqlCommentSchema(name string, m model.SchemaMarker) string {
	return "COMMENT ON SCHEMA " + model.QuoteIdent(name) + " IS " + model.QuoteLiteral(m.String())
}

func sqlCommentObject(kind model.Kind, ref model.Ref, digest string) string {
	return "COMMENT ON " + kind.SQLName() + " " + ref.Quoted() + " IS " + model.QuoteLiteral(model.ObjectMarker{Digest: digest}.String())
}

func sqlCreateTable(schema string, o *model.Object) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	b.WriteString(model.Ref{Schema: schema, Name: o.Name}.Quoted())
	b.WriteString(" FROM SOURCE ")
	b.WriteString(o.Source.Quoted())
	b.WriteString(" (REFERENCE ")
	b.WriteString(model.QuoteIdent(o.Reference.Schema) + "." + model.QuoteIdent(o.Reference.Table))
	b.WriteString(")")
	var opts []string
	if len(o.TextColumns) > 0 {
		opts = append(opts, "TEXT COLUMNS ("+model.QuoteIdents(o.TextColumns)+")")
	}
	if len(o.ExcludeColumns) > 0 {
		opts = append(opts, "EXCLUDE COLUMNS ("+model.QuoteIdents(o.ExcludeColumns)+")")
	}
	if len(opts) > 0 {
		b.WriteString(" WITH (" + strings.Join(opts, ", ") + ")")
	}
	return b.String()
}

func sqlCreateView(schema string, o *model.Object) string {
	ref := model.Ref{Schema: schema, Name: o.Name}.Quoted()
	query := strings.TrimRight(strings.TrimSpace(o.SQL), ";")
	if o.Kind == model.KindMaterializedView {
		s := "CREATE MATERIALIZED VIEW " + ref
		if o.Cluster != "" {
			s += " IN CLUSTER " + model.QuoteIdent(o.Cluster)
		}
		return s + " AS " + query
	}
	return "CREATE VIEW " + ref + " AS " + query
}

func sqlCreateIndex(schema string, o *model.Object) string {
	on := model.Ref{Schema: schema, Name: o.On}.Quoted()
	in := ""
	if o.Cluster != "" {
		in = " IN CLUSTER " + model.QuoteIdent(o.Cluster)
	}
	if len(o.Columns) == 0 {
		// Materialize names a default index <on>_primary_idx.
		return "CREATE DEFAULT INDEX" + in + " ON " + on
	}
	return "CREATE INDEX " + model.QuoteIdent(o.Name) + in + " ON " + on + " (" + model.QuoteIdents(o.Columns) + ")"
}

func sqlCreateSource(s *model.Source) string {
	conn := model.QuoteIdent(s.Schema) + "." + model.QuoteIdent(s.Connection)
	if sch, name, ok := strings.Cut(s.Connection, "."); ok {
		conn = model.QuoteIdent(sch) + "." + model.QuoteIdent(name)
	}
	in := ""
	if s.Cluster != "" {
		in = " IN CLUSTER " + model.QuoteIdent(s.Cluster)
	}
	return "CREATE SOURCE " + s.Ref().Quoted() + in + " FROM POSTGRES CONNECTION " + conn +
		" (PUBLICATION " + model.QuoteLiteral(s.Publication) + ")"
}

func sqlCommentSource(s *model.Source) string {
	return "COMMENT ON SOURCE " + s.Ref().Quoted() + " IS " + model.QuoteLiteral(model.ObjectMarker{Digest: s.Digest}.String())
}

func sqlSwapSchema(a, b string) string {
	return "ALTER SCHEMA " + model.QuoteIdent(a) + " SWAP WITH " + model.QuoteIdent(b)
}

func sqlRenameSchema(from, to string) string {
	return "ALTER SCHEMA " + model.QuoteIdent(from) + " RENAME TO " + model.QuoteIdent(to)
}

func sqlDropSchema(name string) string {
	return "DROP SCHEMA " + model.QuoteIdent(name) + " CASCADE"
}

// sqlDropObject drops one object with RESTRICT (Materialize's default), so
// it fails rather than take anything that depends on the object along.
func sqlDropObject(kind model.Kind, ref model.Ref) string {
	return "DROP " + kind.SQLName() + " " + ref.Quoted() + " RESTRICT"
}

// KindGrant is the kind of the change that gives a version's grants.
const KindGrant = "grant"

// grantChange gives the schema's declared grants on version v, built in
// locName: USAGE on the version schema, SELECT on each of its tables,
// views and materialized views. It runs as part of the build, before the
// version is recorded built and long before its cutover, so a consumer
// that can read the alias can read the version that replaces it at the
// swap. ok is false when the schema declares no grants.
func grantChange(s *model.Schema, v *model.Version, locName string) (Change, bool) {
	if len(s.Grants) == 0 {
		return Change{}, false
	}
	var sql []string
	var roles []string
	for _, g := range s.Grants {
		roles = append(roles, g.Role)
		for _, p := range g.Privileges {
			switch p {
			case "USAGE":
				sql = append(sql, "GRANT USAGE ON SCHEMA "+model.QuoteIdent(locName)+" TO "+model.QuoteIdent(g.Role))
			case "SELECT":
				for _, o := range v.Objects {
					if o.Kind == model.KindTable || o.Kind == model.KindView || o.Kind == model.KindMaterializedView {
						sql = append(sql, "GRANT SELECT ON TABLE "+model.Ref{Schema: locName, Name: o.Name}.Quoted()+" TO "+model.QuoteIdent(g.Role))
					}
				}
			}
		}
	}
	return Change{Op: OpCreate, Kind: KindGrant, Target: locName, Version: v.ID, SQL: sql,
		Reason: fmt.Sprintf("grants of schema %s on %s for %s, before its cutover", s.Name, v.ID, strings.Join(roles, ", "))}, true
}
