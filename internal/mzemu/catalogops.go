package mzemu

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/mzsync/mzsync/internal/model"
)

// ddlTx is the context of catalog changes running inside one backing
// transaction under the server's DDL lock.
type ddlTx struct {
	ss      *session
	secrets map[string]string
	notices []*pgproto3.NoticeResponse
}

func (x *ddlTx) exec(ctx context.Context, sql string, args ...any) error {
	_, err := x.ss.q(ctx, sql, args...)
	return err
}

func (x *ddlTx) q(ctx context.Context, sql string, args ...any) ([][]string, error) {
	return x.ss.q(ctx, sql, args...)
}

func (x *ddlTx) notice(n *pgproto3.NoticeResponse) { x.notices = append(x.notices, n) }

func (x *ddlTx) secret(id string) string {
	if v, ok := x.secrets[id]; ok {
		return v
	}
	return x.ss.srv.secret(id)
}

// q runs a query on the session's backing connection with text parameters
// and returns its rows as text (NULL as ""). Identifiers of over 63 bytes
// in sql are mapped onto their backing names (and the mapping recorded).
func (ss *session) q(ctx context.Context, sql string, args ...any) ([][]string, error) {
	sql, used := toBackingSQL(sql)
	if used != nil {
		if err := ss.recordLongNames(ctx, used); err != nil {
			return nil, err
		}
	}
	return ss.qRaw(ctx, sql, args...)
}

// qRaw is q without the mapping of long identifiers.
func (ss *session) qRaw(ctx context.Context, sql string, args ...any) ([][]string, error) {
	vals := make([][]byte, len(args))
	oids := make([]uint32, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
		case string:
			vals[i] = []byte(v)
		case int:
			vals[i] = []byte(strconv.Itoa(v))
		case int64:
			vals[i] = []byte(strconv.FormatInt(v, 10))
		case bool:
			vals[i] = []byte(strconv.FormatBool(v))
		case []string:
			vals[i] = []byte(textArray(v))
			oids[i] = 1009
		default:
			return nil, fmt.Errorf("mzemu: unsupported query argument %T", a)
		}
	}
	res := ss.db.ExecParams(ctx, sql, vals, oids, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	out := make([][]string, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			out[i][j] = string(v)
		}
	}
	return out, nil
}

// textArray renders a PostgreSQL text[] literal.
func textArray(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	return "{" + strings.Join(q, ",") + "}"
}

// item is a user catalog item.
type item struct {
	id, kind, name, schemaID, schemaName, fqname string
	clusterID, sourceID, connectionID, onID, oid string
	owner                                        string
	minimal                                      string // name as Materialize's minimal qualification prints it
}

const itemCols = `id, kind, name, schema_id, schema_name, fqname, COALESCE(cluster_id, ''), COALESCE(source_id, ''),
 COALESCE(connection_id, ''), COALESCE(on_id, ''), oid::text, owner_id`

func scanItem(r []string) *item {
	return &item{id: r[0], kind: r[1], name: r[2], schemaID: r[3], schemaName: r[4], fqname: r[5],
		clusterID: r[6], sourceID: r[7], connectionID: r[8], onID: r[9], oid: r[10], owner: r[11]}
}

// mustBe checks an item's type against the one a statement names.
func (it *item) mustBe(kind string) error {
	if it.kind == kind {
		return nil
	}
	n := it.minimal
	if n == "" {
		n = it.fqname
	}
	return errf(codeInternal, "%s is %s %s not %s %s", n, article(it.kind), kindWord(it.kind), article(kind), kindWord(kind))
}

// article is the indefinite article Materialize uses before a type.
func article(kind string) string {
	if kind == "index" {
		return "an"
	}
	return "a"
}

// lookupItem finds an item by (possibly qualified) name through the
// session's search path; nil when there is none.
func (ss *session) lookupItem(ctx context.Context, parts []string) (*item, error) {
	var rows [][]string
	var err error
	switch len(parts) {
	case 3:
		if parts[0] != "materialize" {
			return nil, errf(codeInternal, "unknown database '%s'", parts[0])
		}
		parts = parts[1:]
		fallthrough
	case 2:
		rows, err = ss.q(ctx, `SELECT `+itemCols+` FROM mzemu_meta.items WHERE schema_name = $1 AND name = $2`, parts[0], parts[1])
	case 1:
		rows, err = ss.q(ctx, `SELECT `+itemCols+` FROM mzemu_meta.items
 WHERE name = $1 AND schema_name = ANY (mzemu_meta.search_schemas())
 ORDER BY array_position(mzemu_meta.search_schemas(), schema_name) LIMIT 1`, parts[0])
	}
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	it := scanItem(rows[0])
	it.minimal = it.name
	if len(parts) > 1 {
		// Materialize's minimal qualification: the bare name when the
		// search path resolves it to this item.
		if first, err := ss.lookupItem(ctx, parts[len(parts)-1:]); err != nil {
			return nil, err
		} else if first == nil || first.id != it.id {
			it.minimal = it.schemaName + "." + it.name
		}
	}
	return it, nil
}

// systemItem reports whether parts name a relation of a system schema
// (mz_catalog, mz_internal, pg_catalog, information_schema): the schema and
// name, ok false when not.
func (ss *session) systemItem(ctx context.Context, parts []string) (schema, name string, ok bool, err error) {
	if len(parts) == 3 {
		parts = parts[1:]
	}
	var rows [][]string
	if len(parts) == 2 {
		if !isAmbientSchema(parts[0]) {
			return "", "", false, nil
		}
		rows, err = ss.q(ctx, `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2`, parts[0], parts[1])
	} else {
		rows, err = ss.q(ctx, `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('mz_catalog', 'pg_catalog') AND c.relname = $1 ORDER BY n.nspname = 'pg_catalog' LIMIT 1`, parts[0])
	}
	if err != nil || len(rows) == 0 {
		return "", "", false, err
	}
	return rows[0][0], rows[0][1], true, nil
}

func (ss *session) resolveItem(ctx context.Context, parts []string) (*item, error) {
	it, err := ss.lookupItem(ctx, parts)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, errf(codeInternal, "unknown catalog item '%s'", strings.Join(parts, "."))
	}
	return it, nil
}

// lookupSchema finds a user schema; id is "" when there is none.
func (ss *session) lookupSchema(ctx context.Context, parts []string) (id, name string, err error) {
	if len(parts) == 2 {
		if parts[0] != "materialize" {
			return "", "", errf(codeInternal, "unknown database '%s'", parts[0])
		}
		parts = parts[1:]
	}
	if len(parts) != 1 {
		return "", "", errf(codeSyntax, "schema name %q has too many parts", strings.Join(parts, "."))
	}
	rows, err := ss.q(ctx, `SELECT s.id, mzemu_meta.mz_name(n.nspname) FROM mzemu_meta.schemas s JOIN pg_catalog.pg_namespace n ON n.oid = s.oid WHERE n.nspname = $1`, backingIdent(parts[0]))
	if err != nil || len(rows) == 0 {
		return "", parts[0], err
	}
	return rows[0][0], rows[0][1], nil
}

func (ss *session) resolveSchema(ctx context.Context, parts []string) (id, name string, err error) {
	id, name, err = ss.lookupSchema(ctx, parts)
	if err != nil {
		return "", "", err
	}
	if id == "" {
		if isSystemSchema(name) {
			return "", "", errf(codeInternal, "system schema '%s' cannot be modified", name)
		}
		return "", "", errf(codeInternal, "unknown schema '%s'", name)
	}
	return id, name, nil
}

func isSystemSchema(n string) bool {
	switch n {
	case "mz_catalog", "mz_internal", "pg_catalog", "information_schema", "mz_unsafe", "mz_introspection", "mzemu_meta", "mzemu_data":
		return true
	}
	return false
}

// currentSchemaID is the first user schema of the search path.
func (ss *session) currentSchemaID(ctx context.Context) (string, error) {
	id, _, err := ss.currentSchema(ctx)
	return id, err
}

func (ss *session) currentSchema(ctx context.Context) (id, name string, err error) {
	rows, err := ss.q(ctx, `SELECT s.id, mzemu_meta.mz_name(n.nspname) FROM unnest(current_schemas(false)) WITH ORDINALITY AS cs(name, ord)
 JOIN pg_catalog.pg_namespace n ON n.nspname = cs.name JOIN mzemu_meta.schemas s ON s.oid = n.oid ORDER BY cs.ord LIMIT 1`)
	if err != nil {
		return "", "", err
	}
	if len(rows) == 0 {
		return "", "", errf(codeInvalidSchema, "no schema has been selected to create in")
	}
	return rows[0][0], rows[0][1], nil
}

// newItemTarget resolves where a new item named by parts goes and checks
// that the name is free. exists is the kind of an existing item of that
// name ("" when free).
func (x *ddlTx) newItemTarget(ctx context.Context, parts []string) (schemaID, schemaName, name, exists string, err error) {
	name = parts[len(parts)-1]
	if len(parts) == 1 {
		schemaID, schemaName, err = x.ss.currentSchema(ctx)
	} else {
		schemaID, schemaName, err = x.ss.resolveSchema(ctx, parts[:len(parts)-1])
	}
	if err != nil {
		return "", "", "", "", err
	}
	if err := x.requireSchemaPrivilege(ctx, schemaID, schemaName, 'C'); err != nil {
		return "", "", "", "", err
	}
	exists, err = x.nameTaken(ctx, schemaID, name)
	return schemaID, schemaName, name, exists, err
}

// nameTaken returns the kind of the relation named name in a schema, or
// "" when the name is free.
func (x *ddlTx) nameTaken(ctx context.Context, schemaID, name string) (string, error) {
	rows, err := x.q(ctx, `SELECT COALESCE(o.kind, 'table') FROM pg_catalog.pg_class c
 LEFT JOIN mzemu_meta.objects o ON o.oid = c.oid
 WHERE c.relnamespace = (SELECT oid FROM mzemu_meta.schemas WHERE id = $1) AND c.relname = $2
 UNION ALL
 SELECT 'type' FROM pg_catalog.pg_type t
 WHERE t.typnamespace = (SELECT oid FROM mzemu_meta.schemas WHERE id = $1) AND t.typname = $2 AND t.typrelid = 0`, schemaID, backingIdent(name))
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return rows[0][0], nil
}

// alreadyExists reports a name clash, or a NOTICE with IF NOT EXISTS (ok
// true: the statement succeeds doing nothing).
func (x *ddlTx) alreadyExists(kind, existing, schema, name string, ifNotExists bool) (bool, error) {
	fq := "materialize." + schema + "." + name
	if ifNotExists {
		code := codeDuplicateObj
		if kind == "table" {
			code = codeDuplicateRel
		}
		x.notice(notice(code, "%s %q already exists, skipping", kindWord(existing), fq))
		return true, nil
	}
	return false, errf(codeInternal, "%s %q already exists", kindWord(existing), fq)
}

func (x *ddlTx) nextID(ctx context.Context) (string, error) {
	rows, err := x.q(ctx, `SELECT 'u' || nextval('mzemu_meta.item_seq')`)
	if err != nil {
		return "", err
	}
	return rows[0][0], nil
}

// relOID returns the oid of a relation just created.
func (x *ddlTx) relOID(ctx context.Context, schema, name string) (string, error) {
	rows, err := x.q(ctx, `SELECT $1::regclass::oid::text`, backingQuote(schema)+"."+backingQuote(name))
	if err != nil {
		return "", err
	}
	return rows[0][0], nil
}

// placeholder creates the zero-column relation that gives an item without
// PostgreSQL data (index, connection, secret) a name, an oid and a schema.
func (x *ddlTx) placeholder(ctx context.Context, schema, name string) (string, error) {
	if err := x.exec(ctx, `CREATE VIEW `+qname(schema, name)+` AS SELECT WHERE false`); err != nil {
		return "", err
	}
	return x.relOID(ctx, schema, name)
}

func qname(schema, name string) string {
	return model.QuoteIdent(schema) + "." + model.QuoteIdent(name)
}

// clusterID resolves a cluster name ("" means the session's cluster).
func (x *ddlTx) clusterID(ctx context.Context, name string) (id, cname string, err error) {
	if name == "" {
		name = x.ss.cluster
	}
	rows, err := x.q(ctx, `SELECT id, name FROM mzemu_meta.clusters WHERE name = $1`, name)
	if err != nil {
		return "", "", err
	}
	if len(rows) == 0 {
		return "", "", errf(codeInternal, "unknown cluster '%s'", name)
	}
	return rows[0][0], rows[0][1], nil
}

// viewDeps records the dependencies of a view-backed item on the items its
// query reads, from PostgreSQL's own dependency tracking.
func (x *ddlTx) viewDeps(ctx context.Context, id, oid string) error {
	return x.exec(ctx, `INSERT INTO mzemu_meta.deps (object_id, referenced_id)
SELECT DISTINCT $1, o.id FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
   AND d.refclassid = 'pg_catalog.pg_class'::regclass
  JOIN mzemu_meta.objects o ON o.oid = d.refobjid
 WHERE r.ev_class = $2::oid AND d.refobjid <> $2::oid AND o.id <> $1
ON CONFLICT DO NOTHING`, id, oid)
}

func (x *ddlTx) addDep(ctx context.Context, id, ref string) error {
	return x.exec(ctx, `INSERT INTO mzemu_meta.deps VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, ref)
}

// currentRevision reads the catalog revision from the backing database,
// where every mzemu over it counts committed catalog changes.
func (ss *session) currentRevision(ctx context.Context) (int64, error) {
	rows, err := ss.q(ctx, `SELECT rev FROM mzemu_meta.revision`)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(rows[0][0], 10, 64)
}

// ddlLockKey is the advisory lock that serializes catalog changes of every
// mzemu over one backing database, as Materialize's coordinator does.
const ddlLockKey = 7395022

func errConcurrentDDL() error {
	return errf(codeSerialization, "another session modified the catalog while this DDL transaction was open").
		withHint("Currently, DDL transactions fail when any other DDL happens concurrently, even on unrelated schemas/clusters.")
}

// runDDL runs catalog changes in one backing transaction under the DDL
// lock. With commit false it only checks them (and rolls back). With
// checkRev, the catalog must not have changed since revision rev.
func (s *Server) runDDL(ctx context.Context, ss *session, list []*stmt, checkRev bool, rev int64, commit bool) (string, error) {
	s.ddlMu.Lock()
	defer s.ddlMu.Unlock()
	ss.mute = true
	defer func() { ss.mute = false }()
	if commit && checkRev && s.faults.ddlConflict() {
		return "", errConcurrentDDL()
	}
	if _, err := ss.db.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		return "", err
	}
	stop := s.watchBlockers(ss)
	defer stop()
	x := &ddlTx{ss: ss, secrets: map[string]string{}}
	// The DDL lock and the revision live in the backing database, so two
	// mzemu processes over it behave like one Materialize.
	rows, err := x.q(ctx, `SELECT pg_advisory_xact_lock($1), (SELECT rev FROM mzemu_meta.revision)`, ddlLockKey)
	if err != nil {
		ss.db.Exec(ctx, "ROLLBACK").ReadAll()
		return "", err
	}
	if checkRev && rows[0][1] != strconv.FormatInt(rev, 10) {
		ss.db.Exec(ctx, "ROLLBACK").ReadAll()
		return "", errConcurrentDDL()
	}
	if err := x.exec(ctx, `SELECT set_config('mzemu.role', $1, true)`, ss.roleID); err != nil {
		ss.db.Exec(ctx, "ROLLBACK").ReadAll()
		return "", err
	}
	var tag string
	for _, st := range list {
		x.notices = nil
		var err error
		tag, err = st.ddl(ctx, x)
		if err != nil {
			ss.db.Exec(ctx, "ROLLBACK").ReadAll()
			return "", err
		}
	}
	if !commit {
		if _, err := ss.db.Exec(ctx, "ROLLBACK").ReadAll(); err != nil {
			return "", err
		}
	} else {
		if err := x.exec(ctx, `UPDATE mzemu_meta.revision SET rev = rev + 1`); err != nil {
			ss.db.Exec(ctx, "ROLLBACK").ReadAll()
			return "", err
		}
		if _, err := ss.db.Exec(ctx, "COMMIT").ReadAll(); err != nil {
			return "", err
		}
		if prev, err := strconv.ParseInt(rows[0][1], 10, 64); err == nil {
			s.catalogLog.committed(prev+1, ss.key, list)
		}
		s.refreshSchemaNames(ctx, ss)
		s.setSecrets(x.secrets)
	}
	if !(commit && checkRev) {
		for _, n := range x.notices {
			ss.be.Send(n)
		}
	}
	return tag, nil
}

// claimItemName resolves the schema a new item named parts goes into and
// checks that the name is free. skip is true when the name is taken and
// IF NOT EXISTS was given (the notice is sent); a taken name is otherwise
// Materialize's "already exists" error.
func (x *ddlTx) claimItemName(ctx context.Context, parts []string, kind string, ifNotExists bool) (schema, name string, skip bool, err error) {
	_, schema, name, exists, err := x.newItemTarget(ctx, parts)
	if err != nil || exists == "" {
		return schema, name, false, err
	}
	skip, err = x.alreadyExists(kind, exists, schema, name, ifNotExists)
	return schema, name, skip && err == nil, err
}

// reservedSchemaName is Materialize's error for a schema name with a
// system prefix (catalog error, XX000).
func reservedSchemaName(name string) error {
	if strings.HasPrefix(name, "mz_") || strings.HasPrefix(name, "pg_") {
		return errf(codeInternal, "unacceptable schema name '%s'", name).
			withDetail(`The prefixes "mz_" and "pg_" are reserved for system schemas.`)
	}
	return nil
}

// isAmbientSchema reports Materialize's system schemas (those without a
// database).
func isAmbientSchema(n string) bool {
	switch n {
	case "mz_catalog", "mz_internal", "pg_catalog", "information_schema", "mz_unsafe", "mz_introspection":
		return true
	}
	return false
}

// refItem is a reference to an item by ID inside create_tail, rendered
// with the item's current fully qualified name (mzemu_meta.render_refs).
func refItem(id string) string { return "\x1f" + id + "\x1f" }

// refCluster is a reference to a cluster by ID inside create_tail,
// rendered with the cluster's current (quoted) name.
func refCluster(id string) string { return "\x1e" + id + "\x1e" }
