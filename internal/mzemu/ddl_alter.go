package mzemu

import (
	"context"
	"fmt"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

func parseDrop(p *parser) (*stmt, error) {
	p.next()
	kind, err := parseObjectKind(p)
	if err != nil {
		return nil, err
	}
	if kind == "role" {
		return parseDropRole(p)
	}
	switch kind {
	case "table", "view", "materialized-view", "source", "index", "connection", "secret", "schema", "cluster":
	default:
		return nil, errf(codeFeature, "DROP %s is not supported by mzemu", strings.ToUpper(kindWord(kind)))
	}
	ifExists := p.words("if", "exists")
	var names [][]string
	for {
		n, err := p.objName()
		if err != nil {
			return nil, err
		}
		names = append(names, n)
		if !p.op(",") {
			break
		}
	}
	cascade := false
	if p.words("cascade") {
		cascade = true
	} else {
		p.words("restrict")
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	tag := "DROP " + strings.ToUpper(kindWord(kind))
	return ddlStmt(clsDDLSingle, tag, func(ctx context.Context, x *ddlTx) (string, error) {
		switch kind {
		case "schema":
			return tag, x.dropSchemas(ctx, names, ifExists, cascade)
		case "cluster":
			return tag, x.dropClusters(ctx, names, ifExists, cascade)
		}
		var targets []*item
		for _, n := range names {
			it, err := x.ss.lookupItem(ctx, n)
			if err != nil {
				return "", err
			}
			if it == nil {
				if sch, sname, ok, err := x.ss.systemItem(ctx, n); err != nil {
					return "", err
				} else if ok {
					return "", errf(codeInternal, "cannot drop %s %s.%s because it is required by the database system", kindWord(kind), sch, sname)
				}
				if ifExists {
					x.notice(notice(codeUndefinedObj, "%s %q does not exist, skipping", kindWord(kind), strings.Join(n, ".")))
					continue
				}
				return "", errf(codeInternal, "unknown catalog item '%s'", strings.Join(n, "."))
			}
			if kind == "view" && it.kind == "materialized-view" {
				return "", errf(codeInternal, "%s is not a view", it.minimal)
			}
			if err := it.mustBe(kind); err != nil {
				return "", err
			}
			if err := x.requireItemOwner(ctx, it); err != nil {
				return "", err
			}
			if err := x.requireSchemaPrivilege(ctx, it.schemaID, it.schemaName, 'U'); err != nil {
				return "", err
			}
			targets = append(targets, it)
		}
		if len(targets) == 0 {
			return tag, nil
		}
		return tag, x.dropItems(ctx, targets, cascade)
	}), nil
}

// dropItems drops items with their indexes; with cascade also every
// transitive dependent in any schema, otherwise dependents are an error.
func (x *ddlTx) dropItems(ctx context.Context, targets []*item, cascade bool) error {
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.id
	}
	if !cascade {
		if err := x.restrictCheck(ctx, targets, ids); err != nil {
			return err
		}
	}
	return x.dropClosure(ctx, ids, cascade)
}

// restrictCheck fails when something other than an index depends on one of
// the targets from outside the set.
func (x *ddlTx) restrictCheck(ctx context.Context, targets []*item, ids []string) error {
	for _, t := range targets {
		// Materialize names the first dependent (by ID) only.
		rows, err := x.q(ctx, `SELECT i.kind, i.name, i.schema_name, i.schema_name = ANY (mzemu_meta.search_schemas())
  FROM mzemu_meta.deps d JOIN mzemu_meta.items i ON i.id = d.object_id
 WHERE d.referenced_id = $1 AND NOT d.object_id = ANY ($2) AND i.kind <> 'index'
 ORDER BY substr(i.id, 2)::int8 LIMIT 1`, t.id, ids)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			continue
		}
		var deps []string
		for _, r := range rows {
			n := r[1]
			if r[3] != "t" {
				n = r[2] + "." + r[1]
			}
			deps = append(deps, fmt.Sprintf("%s %q", kindWord(r[0]), n))
		}
		tn := t.name
		if ok, _ := x.inSearchPath(ctx, t.schemaName); !ok {
			tn = t.schemaName + "." + t.name
		}
		return errf(codeInternal, "cannot drop %s %q: still depended upon by %s", kindWord(t.kind), tn, strings.Join(deps, ", ")).
			withHint("Use DROP ... CASCADE to drop the dependent objects too.")
	}
	return nil
}

func (x *ddlTx) inSearchPath(ctx context.Context, schema string) (bool, error) {
	rows, err := x.q(ctx, `SELECT $1::text = ANY (mzemu_meta.search_schemas())`, schema)
	if err != nil {
		return false, err
	}
	return rows[0][0] == "t", nil
}

// dropClosure drops ids plus their indexes (and, with all, every
// transitive dependent), relations first, then metadata.
func (x *ddlTx) dropClosure(ctx context.Context, ids []string, all bool) error {
	q := `WITH RECURSIVE d(id) AS (
  SELECT unnest($1::text[])
  UNION
  SELECT dp.object_id FROM mzemu_meta.deps dp JOIN d ON dp.referenced_id = d.id
   JOIN mzemu_meta.objects o ON o.id = dp.object_id WHERE $2 OR o.kind = 'index')
SELECT o.id, o.oid::text, o.kind, COALESCE(o.server_name, ''), COALESCE(o.data_table, '') FROM d JOIN mzemu_meta.objects o ON o.id = d.id`
	rows, err := x.q(ctx, q, ids, all)
	if err != nil {
		return err
	}
	var all_ []string
	for _, r := range rows {
		all_ = append(all_, r[0])
		rel, err := x.q(ctx, `SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`, r[1])
		if err != nil {
			return err
		}
		if len(rel) == 1 {
			what := "VIEW"
			switch rel[0][1] {
			case "r", "p":
				what = "TABLE"
			case "f":
				what = "FOREIGN TABLE"
			}
			if err := x.exec(ctx, "DROP "+what+" IF EXISTS "+rel[0][0]+" CASCADE"); err != nil {
				return err
			}
		}
		if r[4] != "" {
			if err := x.exec(ctx, "DROP FOREIGN TABLE IF EXISTS mzemu_data."+model.QuoteIdent(r[4])+" CASCADE"); err != nil {
				return err
			}
		}
		if r[3] != "" {
			if err := x.exec(ctx, "DROP SERVER IF EXISTS "+model.QuoteIdent(r[3])+" CASCADE"); err != nil {
				return err
			}
		}
	}
	for _, s := range []string{
		`DELETE FROM mzemu_meta.deps WHERE object_id = ANY ($1) OR referenced_id = ANY ($1)`,
		`DELETE FROM mzemu_meta.comments WHERE id = ANY ($1) AND object_type NOT IN ('schema', 'cluster', 'cluster-replica', 'database', 'role')`,
		`DELETE FROM mzemu_meta.source_refs WHERE source_id = ANY ($1)`,
		`DELETE FROM mzemu_meta.connections WHERE id = ANY ($1)`,
		`DELETE FROM mzemu_meta.objects WHERE id = ANY ($1)`,
	} {
		if err := x.exec(ctx, s, all_); err != nil {
			return err
		}
	}
	return nil
}

func (x *ddlTx) dropSchemas(ctx context.Context, names [][]string, ifExists, cascade bool) error {
	for _, n := range names {
		id, name, err := x.ss.lookupSchema(ctx, n)
		if err != nil {
			return err
		}
		if id == "" {
			if isAmbientSchema(name) {
				return errf(codeInternal, "cannot drop schema %s because it is required by the database system", name)
			}
			if ifExists {
				x.notice(notice(codeUndefinedObj, "schema %q does not exist, skipping", name))
				continue
			}
			return errf(codeInternal, "unknown schema '%s'", name)
		}
		if err := x.requireSchemaOwner(ctx, id, name); err != nil {
			return err
		}
		if err := x.requireDatabasePrivilege(ctx, 'U'); err != nil {
			return err
		}
		rows, err := x.q(ctx, `SELECT id FROM mzemu_meta.items WHERE schema_id = $1`, id)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			if !cascade {
				return errf(codeInternal, "schema 'materialize.%s' cannot be dropped without CASCADE while it contains objects", name)
			}
			var ids []string
			for _, r := range rows {
				ids = append(ids, r[0])
			}
			if err := x.dropClosure(ctx, ids, true); err != nil {
				return err
			}
		}
		if err := x.exec(ctx, "DROP SCHEMA "+model.QuoteIdent(name)+" CASCADE"); err != nil {
			return err
		}
		if err := x.exec(ctx, `DELETE FROM mzemu_meta.schemas WHERE id = $1`, id); err != nil {
			return err
		}
		if err := x.exec(ctx, `DELETE FROM mzemu_meta.comments WHERE id = $1 AND object_type = 'schema'`, id); err != nil {
			return err
		}
	}
	return nil
}

func parseAlter(p *parser) (*stmt, error) {
	p.next()
	if p.words("default", "privileges") {
		return parseAlterDefaultPrivileges(p)
	}
	kind, err := parseObjectKind(p)
	if err != nil {
		return nil, err
	}
	if kind == "role" {
		return parseAlterRole(p)
	}
	ifExists := p.words("if", "exists")
	name, err := p.objName()
	if err != nil {
		return nil, err
	}
	switch {
	case p.words("owner", "to"):
		newOwner, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		tag := "ALTER " + strings.ToUpper(kindWord(kind))
		return ddlStmt(clsDDLSingle, tag, func(ctx context.Context, x *ddlTx) (string, error) {
			return tag, x.alterOwner(ctx, kind, name, newOwner, ifExists)
		}), nil
	case p.words("swap", "with"):
		other, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		switch kind {
		case "schema":
			return ddlStmt(clsDDLTxn, "ALTER SCHEMA", func(ctx context.Context, x *ddlTx) (string, error) {
				return "ALTER SCHEMA", x.swapSchemas(ctx, name, other)
			}), nil
		case "cluster":
			return ddlStmt(clsDDLTxn, "ALTER CLUSTER", func(ctx context.Context, x *ddlTx) (string, error) {
				return "ALTER CLUSTER", x.swapClusters(ctx, name[len(name)-1], other)
			}), nil
		}
		return nil, errf(codeInternal, "ALTER %s .. SWAP WITH ... not yet supported", strings.ToUpper(kindWord(kind)))
	case p.words("rename", "to"):
		newName, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		tag := "ALTER " + strings.ToUpper(kindWord(kind))
		return ddlStmt(clsDDLTxn, tag, func(ctx context.Context, x *ddlTx) (string, error) {
			return tag, x.rename(ctx, kind, name, newName, ifExists)
		}), nil
	case kind == "source" && p.words("refresh", "references"):
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		return ddlStmt(clsDDLSingle, "ALTER SOURCE", func(ctx context.Context, x *ddlTx) (string, error) {
			return "ALTER SOURCE", x.refreshReferences(ctx, name)
		}), nil
	case kind == "secret" && p.words("as"):
		expr := p.rest()
		return ddlStmt(clsDDLSingle, "ALTER SECRET", func(ctx context.Context, x *ddlTx) (string, error) {
			it, err := x.ss.lookupItem(ctx, name)
			if err != nil {
				return "", err
			}
			if it == nil {
				if ifExists {
					return "ALTER SECRET", nil
				}
				return "", errf(codeInternal, "unknown catalog item '%s'", strings.Join(name, "."))
			}
			if err := it.mustBe("secret"); err != nil {
				return "", err
			}
			if err := x.requireItemOwner(ctx, it); err != nil {
				return "", err
			}
			v, err := x.secretValue(ctx, expr)
			if err != nil {
				return "", err
			}
			x.secrets[it.id] = v
			return "ALTER SECRET", nil
		}), nil
	case kind == "source" && p.words("drop", "subsource"):
		return nil, errf(codeInternal, "ALTER SOURCE...DROP SUBSOURCE no longer supported; use DROP SOURCE")
	}
	return nil, errf(codeFeature, "%s is not supported by mzemu", normalizeStmt(p.text))
}

func (x *ddlTx) swapSchemas(ctx context.Context, a []string, b string) error {
	if len(a) > 1 {
		return errf(codeSyntax, "Expected end of statement, found dot")
	}
	aid, aname, err := x.ss.lookupSchema(ctx, a)
	if err != nil {
		return err
	}
	bid, bname, err := x.ss.lookupSchema(ctx, []string{b})
	if err != nil {
		return err
	}
	for _, s := range [][2]string{{aid, aname}, {bid, bname}} {
		if s[0] == "" {
			if isSystemSchema(s[1]) {
				return errf(codeInternal, "cannot swap schemas that are in the ambient database")
			}
			return errf(codeInternal, "unknown schema '%s'", s[1])
		}
	}
	if err := x.requireSchemaOwner(ctx, aid, aname); err != nil {
		return err
	}
	if err := x.requireSchemaOwner(ctx, bid, bname); err != nil {
		return err
	}
	if err := x.requireDatabasePrivilege(ctx, 'C'); err != nil {
		return err
	}
	if aid == bid {
		return nil
	}
	tmp := fmt.Sprintf("mz_schema_swap_%s_%s", aid, bid)
	for _, r := range [][2]string{{aname, tmp}, {bname, aname}, {tmp, bname}} {
		if err := x.exec(ctx, "ALTER SCHEMA "+model.QuoteIdent(r[0])+" RENAME TO "+model.QuoteIdent(r[1])); err != nil {
			return err
		}
	}
	return nil
}

func (x *ddlTx) rename(ctx context.Context, kind string, name []string, newName string, ifExists bool) error {
	switch kind {
	case "schema":
		id, old, err := x.ss.lookupSchema(ctx, name)
		if err != nil {
			return err
		}
		if id == "" {
			if ifExists {
				return nil
			}
			return errf(codeInternal, "unknown schema '%s'", old)
		}
		if err := x.requireSchemaOwner(ctx, id, old); err != nil {
			return err
		}
		if err := x.requireDatabasePrivilege(ctx, 'C'); err != nil {
			return err
		}
		if err := reservedSchemaName(newName); err != nil {
			return err
		}
		if oid, n, err := x.ss.lookupSchema(ctx, []string{newName}); err != nil {
			return err
		} else if oid != "" || isSystemSchema(n) {
			return errf(codeInternal, "schema '%s' already exists", newName)
		}
		return x.exec(ctx, "ALTER SCHEMA "+model.QuoteIdent(old)+" RENAME TO "+model.QuoteIdent(newName))
	case "cluster":
		return x.renameCluster(ctx, name[len(name)-1], newName, ifExists)
	case "table", "view", "materialized-view", "source", "index", "connection", "secret":
	default:
		return errf(codeFeature, "ALTER %s ... RENAME is not supported by mzemu", strings.ToUpper(kindWord(kind)))
	}
	it, err := x.ss.lookupItem(ctx, name)
	if err != nil {
		return err
	}
	if it == nil {
		if sch, _, ok, err := x.ss.systemItem(ctx, name); err != nil {
			return err
		} else if ok {
			return errf(codeInternal, "system schema '%s' cannot be modified", sch)
		}
		if ifExists {
			return nil
		}
		return errf(codeInternal, "unknown catalog item '%s'", strings.Join(name, "."))
	}
	if err := it.mustBe(kind); err != nil {
		return err
	}
	if err := x.requireItemOwner(ctx, it); err != nil {
		return err
	}
	if exists, err := x.nameTaken(ctx, it.schemaID, newName); err != nil {
		return err
	} else if exists != "" {
		return errf(codeInternal, "catalog item '%s' already exists", newName)
	}
	return x.exec(ctx, "ALTER TABLE "+qname(it.schemaName, it.name)+" RENAME TO "+model.QuoteIdent(newName))
}

func (x *ddlTx) refreshReferences(ctx context.Context, name []string) error {
	src, err := x.ss.resolveItem(ctx, name)
	if err != nil {
		return err
	}
	if err := src.mustBe("source"); err != nil {
		return err
	}
	if err := x.requireItemOwner(ctx, src); err != nil {
		return err
	}
	up, err := x.upstreamParams(ctx, src.connectionID)
	if err != nil {
		return err
	}
	rows, err := x.q(ctx, `SELECT publication FROM mzemu_meta.objects WHERE id = $1`, src.id)
	if err != nil {
		return err
	}
	uc, err := connectUpstream(ctx, up)
	if err != nil {
		return errf(codeSystem, "error connecting to server: %v", err)
	}
	defer uc.Close(context.Background())
	refs, err := publicationTables(ctx, uc, rows[0][0])
	if err != nil {
		return err
	}
	return x.storeReferences(ctx, src.id, refs)
}

func parseComment(p *parser) (*stmt, error) {
	p.next()
	if err := p.expect("on"); err != nil {
		return nil, err
	}
	kind, err := parseObjectKind(p)
	if err != nil {
		return nil, err
	}
	name, err := p.objName()
	if err != nil {
		return nil, err
	}
	if err := p.expect("is"); err != nil {
		return nil, err
	}
	var text *string
	t := p.next()
	switch {
	case t.kind == tokString:
		text = &t.val
	case t.isWord("null"):
	default:
		return nil, errf(codeSyntax, "Expected string literal or NULL, found %s", describeTok(t))
	}
	if text != nil && len(*text) > maxCommentBytes {
		// PlanError::CommentTooLong (src/sql/src/plan/error.rs), XX000.
		return nil, errf(codeInternal, "provided comment was %d bytes long, max size is %d bytes", len(*text), maxCommentBytes)
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	return ddlStmt(clsDDLSingle, "COMMENT", func(ctx context.Context, x *ddlTx) (string, error) {
		var id, objType string
		var sub any
		switch kind {
		case "schema":
			sid, sname, err := x.ss.lookupSchema(ctx, name)
			if err != nil {
				return "", err
			}
			if sid == "" {
				return "", errf(codeInternal, "unknown schema '%s'", sname)
			}
			if err := x.requireSchemaOwner(ctx, sid, sname); err != nil {
				return "", err
			}
			id, objType = sid, "schema"
		case "cluster":
			cid, owner, err := x.clusterByName(ctx, name[len(name)-1])
			if err != nil {
				return "", err
			}
			if cid == "" {
				return "", errf(codeInternal, "unknown cluster '%s'", name[len(name)-1])
			}
			if err := x.requireOwner(ctx, owner, "CLUSTER", name[len(name)-1]); err != nil {
				return "", err
			}
			id, objType = cid, "cluster"
		case "database":
			if name[0] != "materialize" {
				return "", errf(codeInternal, "unknown database '%s'", name[0])
			}
			if err := x.requireOwner(ctx, "u1", "DATABASE", "materialize"); err != nil {
				return "", err
			}
			id, objType = "u1", "database"
		case "column":
			if len(name) < 2 {
				return "", errf(codeInternal, "column name %q must be qualified by its relation", name[0])
			}
			it, err := x.ss.resolveItem(ctx, name[:len(name)-1])
			if err != nil {
				return "", err
			}
			if err := x.requireItemOwner(ctx, it); err != nil {
				return "", err
			}
			rows, err := x.q(ctx, `SELECT attnum::text FROM pg_catalog.pg_attribute WHERE attrelid = $1::oid AND attname = $2 AND NOT attisdropped`, it.oid, backingIdent(name[len(name)-1]))
			if err != nil {
				return "", err
			}
			if len(rows) == 0 {
				return "", errf(codeInternal, "column %q does not exist", name[len(name)-1])
			}
			id, objType, sub = it.id, it.kind, rows[0][0]
		case "table", "view", "materialized-view", "source", "index", "connection", "secret":
			it, err := x.ss.resolveItem(ctx, name)
			if err != nil {
				return "", err
			}
			if err := it.mustBe(kind); err != nil {
				return "", err
			}
			if err := x.requireItemOwner(ctx, it); err != nil {
				return "", err
			}
			id, objType = it.id, it.kind
		default:
			return "", errf(codeFeature, "COMMENT ON %s is not supported by mzemu", strings.ToUpper(kindWord(kind)))
		}
		if text == nil {
			return "COMMENT", x.exec(ctx, `DELETE FROM mzemu_meta.comments WHERE id = $1 AND object_type = $2 AND COALESCE(sub_id, -1) = COALESCE($3::int4, -1)`, id, objType, sub)
		}
		return "COMMENT", x.exec(ctx, `INSERT INTO mzemu_meta.comments VALUES ($1, $2, $3::int4, $4)
 ON CONFLICT (id, object_type, COALESCE(sub_id, -1)) DO UPDATE SET comment = EXCLUDED.comment`, id, objType, sub, *text)
	}), nil
}

// maxCommentBytes is Materialize's limit on a COMMENT's text.
const maxCommentBytes = 1024
