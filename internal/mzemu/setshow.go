package mzemu

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/mzsync/mzsync/internal/model"
)

// parseSet handles SET [SESSION|LOCAL] name {TO|=} value and SET
// TRANSACTION ISOLATION LEVEL.
func parseSet(p *parser) (*stmt, error) {
	p.next()
	if !p.words("session") {
		p.words("local")
	}
	if p.words("transaction", "isolation", "level") || p.words("transaction_isolation") {
		return &stmt{cls: clsNeutral, local: func(_ context.Context, ss *session) (string, error) {
			if ss.tx.open && ss.tx.queries > 0 {
				return "", errf(codeActiveTxn, "SET TRANSACTION ISOLATION LEVEL must be called before any query")
			}
			return "SET", nil
		}}, nil
	}
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if !p.words("to") && !p.op("=") {
		return nil, p.errExpected("equals sign or TO")
	}
	var vals []string
	isDefault := false
	for !p.atEnd() {
		t := p.next()
		switch {
		case t.isOp(","):
		case t.isWord("default") && len(vals) == 0:
			isDefault = true
		case t.kind == tokWord || t.kind == tokIdent || t.kind == tokString || t.kind == tokNumber:
			vals = append(vals, t.val)
		default:
			return nil, errf(codeSyntax, "Expected variable value, found %s", describeTok(t))
		}
	}
	return setVar(name, vals, isDefault)
}

func parseReset(p *parser) (*stmt, error) {
	p.next()
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	return setVar(name, nil, true)
}

func setVar(name string, vals []string, isDefault bool) (*stmt, error) {
	switch name {
	case "cluster":
		return &stmt{cls: clsNeutral, local: func(_ context.Context, ss *session) (string, error) {
			if ss.tx.open && !ss.tx.implicit {
				return "", errf(codeActiveTxn, "SET cluster cannot be called in an active transaction")
			}
			if isDefault {
				ss.cluster = "quickstart"
			} else if len(vals) == 1 {
				ss.cluster = vals[0]
			} else {
				return "", errf(codeInternal, "parameter \"cluster\" requires a single value")
			}
			ss.be.Send(paramStatus("cluster", ss.cluster))
			return "SET", nil
		}}, nil
	case "search_path", "schema":
		return &stmt{cls: clsNeutral, local: func(ctx context.Context, ss *session) (string, error) {
			v := "public"
			if !isDefault {
				var q, kept []string
				for _, s := range vals {
					if s != "" {
						q = append(q, backingQuote(s))
						kept = append(kept, s)
					}
				}
				v, vals = strings.Join(q, ", "), kept
			}
			if _, err := ss.db.Exec(ctx, "SET search_path TO "+backingSearchPath(v)).ReadAll(); err != nil {
				return "", err
			}
			ss.backingPath = v
			if isDefault {
				ss.searchPath = "public"
			} else {
				ss.searchPath = strings.Join(vals, ", ")
			}
			ss.be.Send(paramStatus("search_path", ss.searchPath))
			return "SET", nil
		}}, nil
	case "database":
		return &stmt{cls: clsNeutral, local: func(context.Context, *session) (string, error) {
			if !isDefault && (len(vals) != 1 || vals[0] != "materialize") {
				return "", errf(codeFeature, "database %q is not supported by mzemu: the only database is \"materialize\"", strings.Join(vals, ","))
			}
			return "SET", nil
		}}, nil
	case "transaction_isolation", "cluster_replica", "emit_timestamp_notice", "emit_trace_id_notice", "enable_session_rbac_checks",
		"real_time_recency", "statement_logging_sample_rate", "welcome_message", "auto_route_catalog_queries", "current_object_missing_warnings":
		return &stmt{cls: clsNeutral, local: func(context.Context, *session) (string, error) { return "SET", nil }}, nil
	}
	// Anything else is a PostgreSQL setting as well.
	q := "SET " + model.QuoteIdent(name) + " TO DEFAULT"
	if !isDefault {
		lits := make([]string, len(vals))
		for i, v := range vals {
			lits[i] = model.QuoteLiteral(v)
		}
		q = "SET " + model.QuoteIdent(name) + " TO " + strings.Join(lits, ", ")
	}
	return &stmt{cls: clsNeutral, query: func(context.Context, *session) (string, error) { return q, nil }}, nil
}

// parseShow handles SHOW CREATE ..., SHOW <objects> and SHOW <variable>.
func parseShow(p *parser) (*stmt, error) {
	p.next()
	if p.words("redacted") || true {
		if p.words("create") {
			return parseShowCreate(p)
		}
	}
	t := p.peek()
	switch {
	case p.words("schemas"):
		p.words("from", "materialize")
		f, err := p.showFilter()
		if err != nil {
			return nil, err
		}
		return f(showQuery(`SELECT s.name, COALESCE(c.comment, '') AS comment FROM mz_catalog.mz_schemas s
 LEFT JOIN mz_internal.mz_comments c ON c.id = s.id AND c.object_type = 'schema' AND c.object_sub_id IS NULL ORDER BY s.name`)), nil
	case p.words("tables"), p.words("views"), p.words("materialized", "views"), p.words("sources"), p.words("connections"), p.words("secrets"), p.words("indexes"):
		kind := map[string]string{"tables": "table", "views": "view", "materialized": "materialized-view", "sources": "source",
			"connections": "connection", "secrets": "secret", "indexes": "index"}[t.val]
		var schema []string
		var on []string
		var err error
		if p.words("from") || (!p.peekAt(1).isWord("cluster") && p.words("in")) {
			if schema, err = p.objName(); err != nil {
				return nil, err
			}
		}
		if p.words("on") {
			if on, err = p.objName(); err != nil {
				return nil, err
			}
		}
		cluster := ""
		if p.words("in", "cluster") {
			if cluster, err = p.ident(); err != nil {
				return nil, err
			}
		}
		f, err := p.showFilter()
		if err != nil {
			return nil, err
		}
		return f(showObjects(kind, schema, on, cluster)), nil
	case p.words("columns"):
		if !p.words("from") {
			p.words("in")
		}
		name, err := p.objName()
		if err != nil {
			return nil, err
		}
		f, err := p.showFilter()
		if err != nil {
			return nil, err
		}
		return f(&stmt{cls: clsRead, query: func(ctx context.Context, ss *session) (string, error) {
			it, err := ss.resolveItem(ctx, name)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf(`SELECT c.name, c.nullable, c.type, COALESCE(cm.comment, '') AS comment FROM mz_catalog.mz_columns c
 LEFT JOIN mz_internal.mz_comments cm ON cm.id = c.id AND cm.object_sub_id = c.position
 WHERE c.id = %s ORDER BY c.position`, model.QuoteLiteral(it.id)), nil
		}}), nil
	case p.words("clusters"):
		f, err := p.showFilter()
		if err != nil {
			return nil, err
		}
		return f(showQuery(`SELECT c.name, COALESCE(string_agg(r.name || ' (' || COALESCE(r.size, '') || ')', ', ' ORDER BY r.name), '') AS replicas,
 COALESCE(min(cm.comment), '') AS comment
 FROM mz_catalog.mz_clusters c LEFT JOIN mz_catalog.mz_cluster_replicas r ON r.cluster_id = c.id
 LEFT JOIN mz_internal.mz_comments cm ON cm.id = c.id AND cm.object_type = 'cluster'
 GROUP BY c.name ORDER BY c.name`)), nil
	case p.words("cluster", "replicas"):
		f, err := p.showFilter()
		if err != nil {
			return nil, err
		}
		return f(showQuery(`SELECT c.name AS cluster, r.name AS replica, r.size, true AS ready, '' AS comment
 FROM mz_catalog.mz_cluster_replicas r JOIN mz_catalog.mz_clusters c ON c.id = r.cluster_id ORDER BY 1, 2`)), nil
	case p.words("cluster"):
		return &stmt{cls: clsRead, query: func(_ context.Context, ss *session) (string, error) {
			return "SELECT " + model.QuoteLiteral(ss.cluster) + "::text AS cluster", nil
		}}, nil
	case p.words("search_path"), p.words("schema"):
		if t.val == "schema" {
			return showQuery(`SELECT pg_catalog.current_schema()::text AS schema`), nil
		}
		return &stmt{cls: clsRead, query: func(_ context.Context, ss *session) (string, error) {
			return "SELECT " + model.QuoteLiteral(ss.searchPath) + "::text AS search_path", nil
		}}, nil
	case p.words("database"):
		return showQuery(`SELECT 'materialize'::text AS database`), nil
	case p.words("is_superuser"):
		return &stmt{cls: clsRead, query: func(_ context.Context, ss *session) (string, error) {
			return "SELECT " + model.QuoteLiteral(map[bool]string{true: "on", false: "off"}[ss.superuser]) + "::text AS is_superuser", nil
		}}, nil
	case p.words("role"):
		return &stmt{cls: clsRead, query: func(_ context.Context, ss *session) (string, error) {
			return "SELECT " + model.QuoteLiteral(ss.roleName) + "::text AS role", nil
		}}, nil
	case p.words("roles"):
		f, err := p.showFilter()
		if err != nil {
			return nil, err
		}
		return f(showQuery(`SELECT r.name, COALESCE(c.comment, '') AS comment FROM mz_catalog.mz_roles r
 LEFT JOIN mz_internal.mz_comments c ON c.id = r.id AND c.object_type = 'role' WHERE r.id LIKE 'u%' ORDER BY r.name`)), nil
	case p.words("transaction", "isolation", "level"), p.words("transaction_isolation"):
		return showQuery(`SELECT 'strict serializable'::text AS transaction_isolation`), nil
	case p.words("server_version"):
		return showQuery(`SELECT '9.5.0'::text AS server_version`), nil
	case p.words("server_version_num"):
		return showQuery(`SELECT '90500'::text AS server_version_num`), nil
	}
	if t.kind == tokWord || t.kind == tokIdent {
		p.next()
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		return showQuery("SHOW " + model.QuoteIdent(t.val)), nil
	}
	return nil, p.errExpected("identifier")
}

func showQuery(q string) *stmt {
	return &stmt{cls: clsRead, query: func(context.Context, *session) (string, error) { return q, nil }}
}

func paramStatus(name, value string) *pgproto3.ParameterStatus {
	return &pgproto3.ParameterStatus{Name: name, Value: value}
}

// showObjects lists a kind of item in a schema (default: the first schema
// of the search path).
func showObjects(kind string, schema, on []string, cluster string) *stmt {
	return &stmt{cls: clsRead, query: func(ctx context.Context, ss *session) (string, error) {
		var schemaID string
		clusterWhere := ""
		if cluster != "" {
			rows, err := ss.q(ctx, `SELECT id FROM mzemu_meta.clusters WHERE name = $1`, cluster)
			if err != nil {
				return "", err
			}
			if len(rows) == 0 {
				return "", errf(codeInternal, "unknown cluster '%s'", cluster)
			}
			clusterWhere = " AND i.cluster_id = " + model.QuoteLiteral(rows[0][0])
		}
		if schema != nil {
			sid, _, err := ss.resolveSchema(ctx, schema)
			if err != nil {
				return "", err
			}
			schemaID = sid
		} else if cluster == "" || on != nil {
			sid, err := ss.currentSchemaID(ctx)
			if err != nil {
				return "", err
			}
			schemaID = sid
		}
		// IN CLUSTER without FROM lists the cluster's objects of every schema.
		where := "i.kind = " + model.QuoteLiteral(kind) + clusterWhere
		if schemaID != "" {
			where += " AND i.schema_id = " + model.QuoteLiteral(schemaID)
		}
		if on != nil {
			it, err := ss.resolveItem(ctx, on)
			if err != nil {
				return "", err
			}
			if kind == "table" {
				where = "i.kind = 'table' AND i.source_id = " + model.QuoteLiteral(it.id)
			} else {
				where += " AND i.on_id = " + model.QuoteLiteral(it.id)
			}
		}
		cols := "i.name"
		switch kind {
		case "source":
			cols += ", 'postgres'::text AS type, cl.name AS cluster"
		case "materialized-view":
			cols += ", cl.name AS cluster"
		case "index":
			cols += ", o.name AS on, cl.name AS cluster, array_to_string(i.index_cols, ', ') AS key"
		case "connection":
			cols += ", 'postgres'::text AS type"
		}
		cols += ", COALESCE(c.comment, '') AS comment"
		return `SELECT ` + cols + ` FROM mzemu_meta.items i
 LEFT JOIN mzemu_meta.clusters cl ON cl.id = i.cluster_id
 LEFT JOIN mzemu_meta.items o ON o.id = i.on_id
 LEFT JOIN mzemu_meta.comments c ON c.id = i.id AND c.object_type = i.kind AND c.sub_id IS NULL
 WHERE ` + where + ` ORDER BY i.name`, nil
	}}
}

func parseShowCreate(p *parser) (*stmt, error) {
	kind, err := parseObjectKind(p)
	if err != nil {
		return nil, err
	}
	if kind == "schema" || kind == "secret" {
		return nil, errf(codeSyntax, "Expected one of TABLE or VIEW or MATERIALIZED VIEW or SOURCE or CONNECTION or INDEX, found %s", strings.ToUpper(kind))
	}
	name, err := p.objName()
	if err != nil {
		return nil, err
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	return &stmt{cls: clsRead, query: func(ctx context.Context, ss *session) (string, error) {
		if kind == "cluster" {
			return fmt.Sprintf(`SELECT c.name, 'CREATE CLUSTER ' || quote_ident(c.name) || ' (SIZE = ' || quote_literal(COALESCE(c.size, '')) || ', REPLICATION FACTOR = ' || COALESCE(c.replication_factor, 1) || ')' AS create_sql
 FROM mzemu_meta.clusters c WHERE c.name = %s`, model.QuoteLiteral(name[len(name)-1])), nil
		}
		it, err := ss.resolveItem(ctx, name)
		if err != nil {
			return "", err
		}
		if err := it.mustBe(kind); err != nil {
			return "", err
		}
		return fmt.Sprintf(`SELECT fqname AS name, create_sql FROM mzemu_meta.create_sqls WHERE id = %s`, model.QuoteLiteral(it.id)), nil
	}}, nil
}

// parseObjectKind parses an object type keyword (TABLE, MATERIALIZED VIEW,
// ...) into Materialize's kebab-case type.
func parseObjectKind(p *parser) (string, error) {
	switch {
	case p.words("table"):
		return "table", nil
	case p.words("materialized", "view"):
		return "materialized-view", nil
	case p.words("view"):
		return "view", nil
	case p.words("source"):
		return "source", nil
	case p.words("index"):
		return "index", nil
	case p.words("connection"):
		return "connection", nil
	case p.words("secret"):
		return "secret", nil
	case p.words("schema"):
		return "schema", nil
	case p.words("cluster", "replica"):
		return "cluster-replica", nil
	case p.words("cluster"):
		return "cluster", nil
	case p.words("database"):
		return "database", nil
	case p.words("sink"):
		return "sink", nil
	case p.words("type"):
		return "type", nil
	case p.words("column"):
		return "column", nil
	case p.words("role"), p.words("user"):
		return "role", nil
	}
	return "", p.errExpected("object type")
}

// kindWord renders a kebab-case type as Materialize writes it in messages.
func kindWord(kind string) string { return strings.ReplaceAll(kind, "-", " ") }

// showFilter parses the optional LIKE 'pattern' or WHERE expression that
// ends a SHOW, and returns what wraps the SHOW's query with it (LIKE
// matches the first column, name).
func (p *parser) showFilter() (func(*stmt) *stmt, error) {
	var cond string
	switch {
	case p.words("like"):
		t := p.next()
		if t.kind != tokString {
			return nil, errf(codeSyntax, "Expected literal string, found %s", describeTok(t))
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		cond = "name LIKE " + model.QuoteLiteral(t.val)
	case p.words("where"):
		cond = stripDatabase(p.rest())
		if cond == "" {
			return nil, p.errExpected("expression")
		}
	default:
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		return func(st *stmt) *stmt { return st }, nil
	}
	return func(st *stmt) *stmt {
		inner := st.query
		st.query = func(ctx context.Context, ss *session) (string, error) {
			q, err := inner(ctx, ss)
			if err != nil {
				return "", err
			}
			return "SELECT * FROM (" + q + "\n) AS mzemu_show WHERE " + cond, nil
		}
		return st
	}, nil
}
