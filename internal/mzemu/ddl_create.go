package mzemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

func parseCreate(p *parser) (*stmt, error) {
	p.next()
	orReplace := p.words("or", "replace")
	switch {
	case p.words("schema"):
		return parseCreateSchema(p)
	case p.words("secret"):
		return parseCreateSecret(p)
	case p.words("connection"):
		return parseCreateConnection(p)
	case p.words("source"):
		return parseCreateSource(p)
	case p.words("table"):
		return parseCreateTable(p)
	case p.words("materialized", "view"):
		return parseCreateView(p, true, orReplace)
	case p.words("view"):
		return parseCreateView(p, false, orReplace)
	case p.words("temp", "view"), p.words("temporary", "view"):
		return nil, errf(codeFeature, "CREATE TEMPORARY VIEW is not supported by mzemu")
	case p.words("default", "index"):
		return parseCreateIndex(p, true)
	case p.words("index"):
		return parseCreateIndex(p, false)
	case p.words("cluster"):
		return parseCreateCluster(p)
	case p.words("role"):
		return parseCreateRole(p)
	}
	return nil, errf(codeFeature, "%s is not supported by mzemu", normalizeStmt(p.text))
}

func ddlStmt(cls stmtClass, tag string, f func(ctx context.Context, x *ddlTx) (string, error)) *stmt {
	return &stmt{cls: cls, tag: tag, ddl: f}
}

func parseCreateSchema(p *parser) (*stmt, error) {
	ine := p.words("if", "not", "exists")
	parts, err := p.objName()
	if err != nil {
		return nil, err
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	if len(parts) > 2 {
		return nil, errf(codeSyntax, "Expected end of statement, found dot")
	}
	return ddlStmt(clsDDLSingle, "CREATE SCHEMA", func(ctx context.Context, x *ddlTx) (string, error) {
		id, name, err := x.ss.lookupSchema(ctx, parts)
		if err != nil {
			return "", err
		}
		if err := x.requireDatabasePrivilege(ctx, 'C'); err != nil {
			return "", err
		}
		if id != "" || isSystemSchema(name) {
			if ine {
				x.notice(notice(codeDuplicateSchem, "schema %q already exists, skipping", name))
				return "CREATE SCHEMA", nil
			}
			return "", errf(codeInternal, "schema '%s' already exists", name)
		}
		if err := reservedSchemaName(name); err != nil {
			return "", err
		}
		if err := x.exec(ctx, "CREATE SCHEMA "+model.QuoteIdent(name)); err != nil {
			return "", err
		}
		return "CREATE SCHEMA", x.exec(ctx, `INSERT INTO mzemu_meta.schemas VALUES ('u' || nextval('mzemu_meta.schema_seq'), $1::regnamespace::oid)`, backingQuote(name))
	}), nil
}

func parseCreateSecret(p *parser) (*stmt, error) {
	ine := p.words("if", "not", "exists")
	parts, err := p.objName()
	if err != nil {
		return nil, err
	}
	if err := p.expect("as"); err != nil {
		return nil, err
	}
	expr := p.rest()
	if expr == "" {
		return nil, p.errExpected("expression")
	}
	return ddlStmt(clsDDLSingle, "CREATE SECRET", func(ctx context.Context, x *ddlTx) (string, error) {
		schema, name, skip, err := x.claimItemName(ctx, parts, "secret", ine)
		if err != nil || skip {
			return "CREATE SECRET", err
		}
		val, err := x.secretValue(ctx, expr)
		if err != nil {
			return "", err
		}
		id, err := x.nextID(ctx)
		if err != nil {
			return "", err
		}
		oid, err := x.placeholder(ctx, schema, name)
		if err != nil {
			return "", err
		}
		x.secrets[id] = val
		return "CREATE SECRET", x.exec(ctx, `INSERT INTO mzemu_meta.objects (id, oid, kind) VALUES ($1, $2::oid, 'secret')`, id, oid)
	}), nil
}

// secretValue evaluates a secret's expression (no relations) to text.
func (x *ddlTx) secretValue(ctx context.Context, expr string) (string, error) {
	rows, err := x.q(ctx, `SELECT CASE WHEN pg_typeof(v)::text = 'bytea' THEN convert_from(v::text::bytea, 'UTF8') ELSE v::text END FROM (SELECT (`+expr+`) AS v) s`)
	if err != nil {
		return "", err
	}
	return rows[0][0], nil
}

type pgConnOpts struct {
	host, port, db, user, userSecret, passwordSecret, sslMode string
	userSecretParts, passwordSecretParts                      []string
}

func parseCreateConnection(p *parser) (*stmt, error) {
	ine := p.words("if", "not", "exists")
	parts, err := p.objName()
	if err != nil {
		return nil, err
	}
	if !p.words("to") && !p.words("for") {
		return nil, p.errExpected("TO")
	}
	if !p.words("postgres") {
		return nil, errf(codeFeature, "CREATE CONNECTION ... TO %s is not supported by mzemu (only POSTGRES)", strings.ToUpper(p.peek().val))
	}
	opts, err := p.options()
	if err != nil {
		return nil, err
	}
	validate := true
	if p.words("with") {
		wopts, err := p.options()
		if err != nil {
			return nil, err
		}
		for _, o := range wopts {
			if o.name != "VALIDATE" {
				return nil, errf(codeInternal, "unexpected CONNECTION option %s", o.name)
			}
			validate = o.kind == "none" || o.str == "true"
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	co := pgConnOpts{port: "5432", sslMode: "disable"}
	for _, o := range opts {
		switch o.name {
		case "HOST":
			co.host = o.str
		case "PORT":
			co.port = o.str
		case "DATABASE":
			co.db = o.str
		case "USER":
			if o.kind == "secret" {
				co.userSecretParts = o.parts
			} else {
				co.user = o.str
			}
		case "PASSWORD":
			if o.kind != "secret" {
				return nil, errf(codeInternal, "invalid PASSWORD: must be a SECRET")
			}
			co.passwordSecretParts = o.parts
		case "SSL MODE":
			switch strings.ToLower(o.str) {
			case "disable", "require", "required", "verify_ca", "verify-ca", "verify_full", "verify-full":
				co.sslMode = strings.ToLower(o.str)
			default:
				return nil, errf(codeInternal, "invalid CONNECTION: unknown SSL MODE %q", o.str)
			}
		case "SSL CERTIFICATE AUTHORITY", "SSL CERTIFICATE", "SSL KEY", "SSH TUNNEL", "AWS PRIVATELINK":
			return nil, errf(codeFeature, "%s is not supported by mzemu", o.name)
		default:
			return nil, errf(codeInternal, "POSTGRES connections do not support %s values", o.name)
		}
	}
	switch {
	case co.host == "":
		return nil, errf(codeInternal, "HOST option is required")
	case co.db == "":
		return nil, errf(codeInternal, "DATABASE option is required")
	case co.user == "" && co.userSecretParts == nil:
		return nil, errf(codeInternal, "USER option is required")
	}
	return ddlStmt(clsDDLSingle, "CREATE CONNECTION", func(ctx context.Context, x *ddlTx) (string, error) {
		schema, name, skip, err := x.claimItemName(ctx, parts, "connection", ine)
		if err != nil || skip {
			return "CREATE CONNECTION", err
		}
		c := co
		var secretIDs []string
		tail := fmt.Sprintf(" TO POSTGRES (HOST = %s, PORT = %s, DATABASE = %s", model.QuoteLiteral(c.host), c.port, model.QuoteLiteral(c.db))
		upass := ""
		if c.userSecretParts != nil {
			s, err := x.secretItem(ctx, c.userSecretParts)
			if err != nil {
				return "", err
			}
			c.userSecret, c.user = s.id, x.secret(s.id)
			secretIDs = append(secretIDs, s.id)
			tail += ", USER = SECRET " + refItem(s.id)
		} else {
			tail += ", USER = " + model.QuoteLiteral(c.user)
		}
		if c.passwordSecretParts != nil {
			s, err := x.secretItem(ctx, c.passwordSecretParts)
			if err != nil {
				return "", err
			}
			c.passwordSecret, upass = s.id, x.secret(s.id)
			secretIDs = append(secretIDs, s.id)
			tail += ", PASSWORD = SECRET " + refItem(s.id)
		}
		if c.sslMode != "disable" {
			tail += ", SSL MODE = " + model.QuoteLiteral(c.sslMode)
		}
		tail += ")"
		up := upstreamParams{host: c.host, port: c.port, db: c.db, user: c.user, password: upass, sslMode: c.sslMode}
		if validate {
			conn, err := connectUpstream(ctx, up)
			if err != nil {
				return "", errf(codeSystem, "error connecting to server: %v", err)
			}
			conn.Close(context.Background())
		}
		id, err := x.nextID(ctx)
		if err != nil {
			return "", err
		}
		srv := "mzemu_srv_" + id
		if err := x.exec(ctx, fmt.Sprintf(`CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port %s, dbname %s, updatable 'false', fetch_size '10000')`,
			model.QuoteIdent(srv), model.QuoteLiteral(c.host), model.QuoteLiteral(c.port), model.QuoteLiteral(c.db))); err != nil {
			return "", err
		}
		um := fmt.Sprintf(`CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (user %s`, model.QuoteIdent(srv), model.QuoteLiteral(c.user))
		if upass != "" {
			um += ", password " + model.QuoteLiteral(upass)
		}
		if err := x.exec(ctx, um+")"); err != nil {
			return "", err
		}
		oid, err := x.placeholder(ctx, schema, name)
		if err != nil {
			return "", err
		}
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.objects (id, oid, kind, create_tail, server_name) VALUES ($1, $2::oid, 'connection', $3, $4)`, id, oid, tail, srv); err != nil {
			return "", err
		}
		port, _ := strconv.Atoi(c.port)
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.connections VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''))`,
			id, c.host, port, c.db, c.user, c.userSecret, c.passwordSecret); err != nil {
			return "", err
		}
		for _, sid := range secretIDs {
			if err := x.addDep(ctx, id, sid); err != nil {
				return "", err
			}
		}
		return "CREATE CONNECTION", nil
	}), nil
}

func (x *ddlTx) secretItem(ctx context.Context, parts []string) (*item, error) {
	it, err := x.ss.resolveItem(ctx, parts)
	if err != nil {
		return nil, err
	}
	if it.kind != "secret" {
		return nil, errf(codeInternal, "%s is not a secret", it.fqname)
	}
	return it, x.requireUsage(ctx, it)
}

func parseCreateSource(p *parser) (*stmt, error) {
	ine := p.words("if", "not", "exists")
	parts, err := p.objName()
	if err != nil {
		return nil, err
	}
	if p.peek().isOp("(") {
		return nil, errf(codeFeature, "mzemu supports only the new CREATE SOURCE syntax: no column list; use CREATE TABLE ... FROM SOURCE")
	}
	cluster := ""
	if p.words("in", "cluster") {
		if cluster, err = p.ident(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("from"); err != nil {
		return nil, err
	}
	if !p.words("postgres") {
		return nil, errf(codeFeature, "CREATE SOURCE ... FROM %s is not supported by mzemu (only POSTGRES)", strings.ToUpper(p.peek().val))
	}
	if err := p.expect("connection"); err != nil {
		return nil, err
	}
	connParts, err := p.objName()
	if err != nil {
		return nil, err
	}
	publication := ""
	if p.peek().isOp("(") {
		opts, err := p.options()
		if err != nil {
			return nil, err
		}
		for _, o := range opts {
			switch o.name {
			case "PUBLICATION":
				publication = o.str
			case "TEXT COLUMNS", "EXCLUDE COLUMNS", "IGNORE COLUMNS":
				return nil, errf(codeInternal, "%s option is unnecessary when no tables are added", o.name)
			case "DETAILS":
				return nil, errf(codeInternal, "CREATE SOURCE specifies DETAILS option")
			default:
				return nil, errf(codeInternal, "unexpected POSTGRES option %s", o.name)
			}
		}
	}
	if p.words("for") || p.words("key") || p.words("format") || p.words("envelope") || p.words("include") || p.words("expose") {
		return nil, errf(codeFeature, "mzemu supports only the new CREATE SOURCE syntax: the legacy FOR ALL TABLES / FOR TABLES / FOR SCHEMAS forms are refused; create the source without them and add tables with CREATE TABLE ... FROM SOURCE")
	}
	if p.words("with") {
		if _, err := p.options(); err != nil {
			return nil, err
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	if publication == "" {
		return nil, errf(codeInternal, "CONNECTION must specify PUBLICATION")
	}
	return ddlStmt(clsDDLTxn, "CREATE SOURCE", func(ctx context.Context, x *ddlTx) (string, error) {
		schema, name, skip, err := x.claimItemName(ctx, parts, "source", ine)
		if err != nil || skip {
			return "CREATE SOURCE", err
		}
		conn, err := x.ss.resolveItem(ctx, connParts)
		if err != nil {
			return "", err
		}
		if conn.kind != "connection" {
			return "", errf(codeInternal, "%s is not a POSTGRES CONNECTION", conn.fqname)
		}
		if err := x.requireUsage(ctx, conn); err != nil {
			return "", err
		}
		clusterID, clusterName, err := x.clusterID(ctx, cluster)
		if err != nil {
			return "", err
		}
		if err := x.requireClusterPrivilege(ctx, clusterID, clusterName, 'C'); err != nil {
			return "", err
		}
		up, err := x.upstreamParams(ctx, conn.id)
		if err != nil {
			return "", err
		}
		uc, err := connectUpstream(ctx, up)
		if err != nil {
			return "", errf(codeSystem, "error connecting to server: %v", err)
		}
		defer uc.Close(context.Background())
		refs, err := publicationTables(ctx, uc, publication)
		if err != nil {
			return "", err
		}
		if len(refs) == 0 {
			return "", errf(codeInternal, "PUBLICATION %s is empty", publication)
		}
		id, err := x.nextID(ctx)
		if err != nil {
			return "", err
		}
		if err := x.exec(ctx, `CREATE VIEW `+qname(schema, name)+` AS SELECT NULL::numeric(20,0) AS lsn WHERE false`); err != nil {
			return "", err
		}
		oid, err := x.relOID(ctx, schema, name)
		if err != nil {
			return "", err
		}
		var b [16]byte
		rand.Read(b[:])
		tail := fmt.Sprintf(" IN CLUSTER %s FROM POSTGRES CONNECTION %s (PUBLICATION = %s)", refCluster(clusterID), refItem(conn.id), model.QuoteLiteral(publication))
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.objects (id, oid, kind, cluster_id, connection_id, create_tail, publication, slot)
 VALUES ($1, $2::oid, 'source', $3, $4, $5, $6, $7)`, id, oid, clusterID, conn.id, tail, publication, "materialize_"+hex.EncodeToString(b[:])); err != nil {
			return "", err
		}
		if err := x.addDep(ctx, id, conn.id); err != nil {
			return "", err
		}
		return "CREATE SOURCE", x.storeReferences(ctx, id, refs)
	}), nil
}

func (x *ddlTx) storeReferences(ctx context.Context, sourceID string, refs []pubTable) error {
	if err := x.exec(ctx, `DELETE FROM mzemu_meta.source_refs WHERE source_id = $1`, sourceID); err != nil {
		return err
	}
	for _, r := range refs {
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.source_refs VALUES ($1, $2, $3, clock_timestamp(), $4)`, sourceID, r.schema, r.table, r.columns); err != nil {
			return err
		}
	}
	return nil
}

func parseCreateTable(p *parser) (*stmt, error) {
	ine := p.words("if", "not", "exists")
	parts, err := p.objName()
	if err != nil {
		return nil, err
	}
	// An ordinary table: CREATE TABLE t (col type, ...).
	if p.peek().isOp("(") {
		save := p.pos
		depth := 0
		for !p.atEnd() {
			t := p.next()
			if t.isOp("(") {
				depth++
			} else if t.isOp(")") {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if p.words("from", "source") {
			p.pos = save
			if _, err := p.identList(); err == nil {
				return nil, errf(codeInternal, "columns cannot be named for Postgres sources")
			}
			return nil, errf(codeInternal, "CREATE TABLE .. FROM SOURCE column definitions cannot be specified directly")
		}
		p.pos = save
		return parseCreateOrdinaryTable(p, parts, ine)
	}
	if !p.words("from", "source") {
		return nil, p.errExpected("left parenthesis or FROM SOURCE")
	}
	srcParts, err := p.objName()
	if err != nil {
		return nil, err
	}
	opts, err := p.options()
	if err != nil {
		return nil, err
	}
	var ref []string
	for _, o := range opts {
		if o.name != "REFERENCE" || o.kind != "ident" {
			return nil, errf(codeInternal, "unexpected option %s in CREATE TABLE .. FROM SOURCE", o.name)
		}
		ref = o.parts
	}
	if ref == nil {
		return nil, errf(codeInternal, "CREATE TABLE .. FROM SOURCE requires REFERENCE")
	}
	var textCols, excludeCols []string
	if p.words("with") {
		wopts, err := p.options()
		if err != nil {
			return nil, err
		}
		for _, o := range wopts {
			switch o.name {
			case "TEXT COLUMNS":
				textCols = append(textCols, o.list...)
			case "EXCLUDE COLUMNS", "IGNORE COLUMNS":
				excludeCols = append(excludeCols, o.list...)
			case "RETAIN HISTORY", "PARTITION BY":
			case "DETAILS":
				return nil, errf(codeInternal, "CREATE TABLE specifies DETAILS option")
			default:
				return nil, errf(codeInternal, "unexpected option %s in CREATE TABLE .. FROM SOURCE", o.name)
			}
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	for _, c := range textCols {
		for _, e := range excludeCols {
			if c == e {
				return nil, errf(codeInternal, "duplicated column name references: [%q]", c)
			}
		}
	}
	sort.Strings(textCols)
	sort.Strings(excludeCols)
	return ddlStmt(clsDDLTxn, "CREATE TABLE", func(ctx context.Context, x *ddlTx) (string, error) {
		return x.createSourceTable(ctx, parts, ine, srcParts, ref, textCols, excludeCols)
	}), nil
}

func parseCreateOrdinaryTable(p *parser, parts []string, ine bool) (*stmt, error) {
	body := p.rest()
	return ddlStmt(clsDDLSingle, "CREATE TABLE", func(ctx context.Context, x *ddlTx) (string, error) {
		schema, name, skip, err := x.claimItemName(ctx, parts, "table", ine)
		if err != nil || skip {
			return "CREATE TABLE", err
		}
		if err := x.exec(ctx, "CREATE TABLE "+qname(schema, name)+" "+stripDatabase(body)); err != nil {
			return "", err
		}
		oid, err := x.relOID(ctx, schema, name)
		if err != nil {
			return "", err
		}
		id, err := x.nextID(ctx)
		if err != nil {
			return "", err
		}
		return "CREATE TABLE", x.exec(ctx, `INSERT INTO mzemu_meta.objects (id, oid, kind, create_tail) VALUES ($1, $2::oid, 'table', $3)`, id, oid, " "+body)
	}), nil
}

func parseCreateView(p *parser, materialized, orReplace bool) (*stmt, error) {
	ine := p.words("if", "not", "exists")
	parts, err := p.objName()
	if err != nil {
		return nil, err
	}
	var cols []string
	if p.peek().isOp("(") {
		if cols, err = p.identList(); err != nil {
			return nil, err
		}
	}
	cluster := ""
	if materialized && p.words("in", "cluster") {
		if cluster, err = p.ident(); err != nil {
			return nil, err
		}
		if p.words("replica") {
			if _, err := p.ident(); err != nil {
				return nil, err
			}
		}
	}
	if materialized && p.words("with") {
		if _, err := p.options(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("as"); err != nil {
		return nil, err
	}
	query := p.rest()
	if query == "" {
		return nil, p.errExpected("SELECT, VALUES, or a subquery in the query body")
	}
	kind, tag := "view", "CREATE VIEW"
	if materialized {
		kind, tag = "materialized-view", "CREATE MATERIALIZED VIEW"
	}
	return ddlStmt(clsDDLSingle, tag, func(ctx context.Context, x *ddlTx) (string, error) {
		_, schema, name, exists, err := x.newItemTarget(ctx, parts)
		if err != nil {
			return "", err
		}
		if exists != "" {
			if orReplace && exists == kind {
				old, err := x.ss.resolveItem(ctx, []string{schema, name})
				if err != nil {
					return "", err
				}
				if err := x.requireItemOwner(ctx, old); err != nil {
					return "", err
				}
				if err := x.dropItems(ctx, []*item{old}, false); err != nil {
					return "", err
				}
			} else if ok, err := x.alreadyExists(kind, exists, schema, name, ine); ok || err != nil {
				return tag, err
			}
		}
		id, err := x.nextID(ctx)
		if err != nil {
			return "", err
		}
		colList := ""
		if cols != nil {
			colList = " (" + model.QuoteIdents(cols) + ")"
		}
		q := stripDatabase(query)
		clusterID, clusterName := "", ""
		var body string
		if materialized {
			if clusterID, clusterName, err = x.clusterID(ctx, cluster); err != nil {
				return "", err
			}
			if err := x.requireClusterPrivilege(ctx, clusterID, clusterName, 'C'); err != nil {
				return "", err
			}
			body = fmt.Sprintf("SELECT * FROM (%s\n) AS mzemu_q WHERE (SELECT mzemu_meta.await_ready(%s)) OFFSET 0", q, model.QuoteLiteral(id))
		} else {
			body = q
		}
		if err := x.exec(ctx, "CREATE VIEW "+qname(schema, name)+colList+" AS "+body); err != nil {
			return "", err
		}
		oid, err := x.relOID(ctx, schema, name)
		if err != nil {
			return "", err
		}
		if err := x.checkStableDeps(ctx, oid, kind); err != nil {
			return "", err
		}
		tail := colList
		if materialized {
			tail += " IN CLUSTER " + refCluster(clusterID)
		}
		tail += " AS " + query
		ready := "NULL"
		if materialized {
			ready = x.ss.srv.readyAt()
		}
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.objects (id, oid, kind, cluster_id, create_tail, definition, ready_at)
 VALUES ($1, $2::oid, $3, NULLIF($4, ''), $5, $6, `+ready+`)`, id, oid, kind, clusterID, tail, query+";"); err != nil {
			return "", err
		}
		return tag, x.viewDeps(ctx, id, oid)
	}), nil
}

// readyAt is the SQL expression for when an object created now finishes
// hydrating or snapshotting.
func (s *Server) readyAt() string {
	return fmt.Sprintf("clock_timestamp() + interval '%d microseconds'", s.opts.HydrationDelay.Microseconds())
}

func parseCreateIndex(p *parser, isDefault bool) (*stmt, error) {
	name := ""
	var err error
	if !isDefault && !p.peek().isWord("in") && !p.peek().isWord("on") {
		if name, err = p.ident(); err != nil {
			return nil, err
		}
	}
	cluster := ""
	if p.words("in", "cluster") {
		if cluster, err = p.ident(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("on"); err != nil {
		return nil, err
	}
	on, err := p.objName()
	if err != nil {
		return nil, err
	}
	p.words("using", "arrangement")
	var exprs []string
	if !isDefault {
		if !p.peek().isOp("(") {
			return nil, p.errExpected("left parenthesis")
		}
		start := p.next().end
		depth := 1
		last := start
		for depth > 0 && !p.atEnd() {
			t := p.next()
			switch {
			case t.isOp("("):
				depth++
			case t.isOp(")"):
				depth--
				if depth == 0 {
					exprs = append(exprs, strings.TrimSpace(p.text[last:t.start]))
				}
			case t.isOp(",") && depth == 1:
				exprs = append(exprs, strings.TrimSpace(p.text[last:t.start]))
				last = t.end
			}
		}
	}
	if p.words("with") {
		if _, err := p.options(); err != nil {
			return nil, err
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	return ddlStmt(clsDDLSingle, "CREATE INDEX", func(ctx context.Context, x *ddlTx) (string, error) {
		obj, err := x.ss.resolveItem(ctx, on)
		if err != nil {
			return "", err
		}
		switch obj.kind {
		case "table", "source", "view", "materialized-view":
		default:
			return "", errf(codeInternal, "index cannot be created on %s because it is a %s", obj.fqname, kindWord(obj.kind))
		}
		if err := x.requireItemOwner(ctx, obj); err != nil {
			return "", err
		}
		if err := x.requireSchemaPrivilege(ctx, obj.schemaID, obj.schemaName, 'C'); err != nil {
			return "", err
		}
		cols := exprs
		if isDefault {
			rows, err := x.q(ctx, `SELECT mzemu_meta.mz_name(attname) FROM pg_catalog.pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, obj.oid)
			if err != nil {
				return "", err
			}
			cols = nil
			for _, r := range rows {
				cols = append(cols, r[0])
			}
		}
		for i, c := range cols {
			if t := lex(c); len(t) == 1 {
				if n, ok := t[0].name(); ok {
					cols[i] = n
				}
			}
		}
		iname := name
		if iname == "" {
			if isDefault {
				iname = obj.name + "_primary_idx"
			} else {
				ps := []string{obj.name}
				for _, c := range cols {
					if t := lex(c); len(t) == 1 && (t[0].kind == tokWord || t[0].kind == tokIdent) {
						ps = append(ps, c)
					} else {
						ps = append(ps, "expr")
					}
				}
				iname = strings.Join(ps, "_") + "_idx"
			}
		}
		if exists, err := x.nameTaken(ctx, obj.schemaID, iname); err != nil {
			return "", err
		} else if exists != "" && name != "" {
			return "", errf(codeInternal, "%s %q already exists", kindWord(exists), "materialize."+obj.schemaName+"."+iname)
		} else if exists != "" {
			// A generated name that is taken gets a number, as Materialize's
			// find_available_name does: <obj>_primary_idx1, ...2, ...
			base := iname
			for i := 1; exists != ""; i++ {
				iname = base + strconv.Itoa(i)
				if exists, err = x.nameTaken(ctx, obj.schemaID, iname); err != nil {
					return "", err
				}
			}
		}
		clusterID, clusterName, err := x.clusterID(ctx, cluster)
		if err != nil {
			return "", err
		}
		if err := x.requireClusterPrivilege(ctx, clusterID, clusterName, 'C'); err != nil {
			return "", err
		}
		id, err := x.nextID(ctx)
		if err != nil {
			return "", err
		}
		oid, err := x.placeholder(ctx, obj.schemaName, iname)
		if err != nil {
			return "", err
		}
		rendered := make([]string, len(cols))
		for i, c := range cols {
			rendered[i] = c
			if t := lex(c); len(t) == 1 && (t[0].kind == tokWord || t[0].kind == tokIdent) {
				rendered[i] = quoteIdentMin(c)
			}
		}
		tail := fmt.Sprintf(" IN CLUSTER %s ON %s (%s)", refCluster(clusterID), refItem(obj.id), strings.Join(rendered, ", "))
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.objects (id, oid, kind, cluster_id, on_id, create_tail, index_cols, ready_at)
 VALUES ($1, $2::oid, 'index', $3, $4, $5, $6, `+x.ss.srv.readyAt()+`)`, id, oid, clusterID, obj.id, tail, cols); err != nil {
			return "", err
		}
		return "CREATE INDEX", x.addDep(ctx, id, obj.id)
	}), nil
}

// quoteIdentMin quotes an identifier only when it needs it, as
// Materialize prints names.
func quoteIdentMin(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')) {
			return model.QuoteIdent(s)
		}
	}
	if keywords[s] {
		return model.QuoteIdent(s)
	}
	return s
}

// checkStableDeps refuses a view or materialized view that reads an
// mz_internal (or mz_introspection) relation, as Materialize does.
func (x *ddlTx) checkStableDeps(ctx context.Context, oid, kind string) error {
	rows, err := x.q(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
   AND d.refclassid = 'pg_catalog.pg_class'::regclass
  JOIN pg_catalog.pg_class c ON c.oid = d.refobjid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE r.ev_class = $1::oid AND n.nspname IN ('mz_internal', 'mz_introspection'))`, oid)
	if err != nil {
		return err
	}
	if rows[0][0] == "t" {
		return errf(codeInternal, "cannot create %s with unstable dependencies", kindWord(kind))
	}
	return nil
}
