package mzemu

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
)

// upstreamParams are how mzemu reaches an upstream PostgreSQL for a
// connection.
type upstreamParams struct {
	host, port, db, user, password, sslMode string
}

func connectUpstream(ctx context.Context, up upstreamParams) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Database, cfg.User, cfg.Password = up.host, up.db, up.user, up.password
	port, err := strconv.Atoi(up.port)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q", up.port)
	}
	cfg.Port = uint16(port)
	cfg.TLSConfig = nil
	cfg.Fallbacks = nil
	cfg.ConnectTimeout = 5 * time.Second
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, redactErr(err)
	}
	return conn, nil
}

func (x *ddlTx) upstreamParams(ctx context.Context, connID string) (upstreamParams, error) {
	rows, err := x.q(ctx, `SELECT host, port::text, dbname, COALESCE(username, ''), COALESCE(user_secret, ''), COALESCE(password_secret, '')
 FROM mzemu_meta.connections WHERE id = $1`, connID)
	if err != nil {
		return upstreamParams{}, err
	}
	if len(rows) == 0 {
		return upstreamParams{}, errf(codeInternal, "unknown connection '%s'", connID)
	}
	r := rows[0]
	up := upstreamParams{host: r[0], port: r[1], db: r[2], user: r[3]}
	if r[4] != "" {
		up.user = x.secret(r[4])
	}
	if r[5] != "" {
		up.password = x.secret(r[5])
	}
	return up, nil
}

type pubTable struct {
	schema, table string
	columns       []string
}

func publicationTables(ctx context.Context, uc *pgx.Conn, publication string) ([]pubTable, error) {
	var exists bool
	if err := uc.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1)`, publication).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read publication: %w", err)
	}
	if !exists {
		return nil, errf(codeInternal, "publication %q does not exist", publication)
	}
	rows, err := uc.Query(ctx, `SELECT pt.schemaname::text, pt.tablename::text,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = format('%I.%I', pt.schemaname, pt.tablename)::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
  FROM pg_catalog.pg_publication_tables pt WHERE pt.pubname = $1 ORDER BY 1, 2`, publication)
	if err != nil {
		return nil, fmt.Errorf("read publication tables: %w", err)
	}
	var out []pubTable
	for rows.Next() {
		var t pubTable
		if err := rows.Scan(&t.schema, &t.table, &t.columns); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// tableDesc is the upstream description of a table that a source-fed
// table pins at creation (Materialize's PostgresTableDesc).
type tableDesc struct {
	OID     uint32    `json:"oid"`
	Schema  string    `json:"schema"`
	Table   string    `json:"table"`
	Columns []colDesc `json:"columns"`
	Keys    []keyDesc `json:"keys"`
}

type colDesc struct {
	Name     string `json:"name"`
	Num      int    `json:"attnum"`
	TypeOID  uint32 `json:"type_oid"`
	TypeMod  int32  `json:"type_mod"`
	Nullable bool   `json:"nullable"`
	TypeName string `json:"type_name"` // format_type, for the foreign table
	Typname  string `json:"typname"`
	Typtype  string `json:"typtype"`
}

type keyDesc struct {
	OID     uint32   `json:"oid"`
	Name    string   `json:"name"`
	Primary bool     `json:"primary"`
	Columns []string `json:"columns"`
}

// describeTable reads an upstream table; nil when it does not exist.
func describeTable(ctx context.Context, uc *pgx.Conn, schema, table string) (*tableDesc, string, error) {
	d := &tableDesc{Schema: schema, Table: table}
	var replident string
	err := uc.QueryRow(ctx, `SELECT c.oid, c.relreplident::text FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table).Scan(&d.OID, &replident)
	if err == pgx.ErrNoRows {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("describe upstream table %s.%s: %w", schema, table, err)
	}
	rows, err := uc.Query(ctx, `SELECT a.attname::text, a.attnum::int, a.atttypid, a.atttypmod, NOT a.attnotnull,
       pg_catalog.format_type(a.atttypid, a.atttypmod), t.typname::text, t.typtype::text
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, d.OID)
	if err != nil {
		return nil, "", fmt.Errorf("describe upstream columns of %s.%s: %w", schema, table, err)
	}
	for rows.Next() {
		var c colDesc
		if err := rows.Scan(&c.Name, &c.Num, &c.TypeOID, &c.TypeMod, &c.Nullable, &c.TypeName, &c.Typname, &c.Typtype); err != nil {
			return nil, "", err
		}
		d.Columns = append(d.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	rows, err = uc.Query(ctx, `SELECT con.oid, con.conname::text, con.contype = 'p',
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord)
  FROM pg_catalog.pg_constraint con WHERE con.conrelid = $1 AND con.contype IN ('p', 'u') ORDER BY con.conname`, d.OID)
	if err != nil {
		return nil, "", fmt.Errorf("describe upstream keys of %s.%s: %w", schema, table, err)
	}
	for rows.Next() {
		var k keyDesc
		if err := rows.Scan(&k.OID, &k.Name, &k.Primary, &k.Columns); err != nil {
			return nil, "", err
		}
		d.Keys = append(d.Keys, k)
	}
	return d, replident, rows.Err()
}

// incompatibility compares a pinned description with the current upstream
// one, as Materialize's determine_compatibility does, and returns the
// definite error that stalls the table ("" when it may keep running).
func incompatibility(pinned, cur *tableDesc, inPublication bool, textCols []string) string {
	altered := fmt.Sprintf("incompatible schema change: source table %s with oid %d has been altered", pinned.Table, pinned.OID)
	if cur == nil || !inPublication {
		return "table was dropped"
	}
	if cur.OID != pinned.OID {
		return altered
	}
	for _, pc := range pinned.Columns {
		i := slices.IndexFunc(cur.Columns, func(c colDesc) bool { return c.Name == pc.Name })
		if i < 0 {
			return altered
		}
		c := cur.Columns[i]
		if c.Num != pc.Num {
			return altered
		}
		if (c.TypeOID != pc.TypeOID || c.TypeMod != pc.TypeMod) && !slices.Contains(textCols, pc.Name) {
			return altered
		}
		if !pc.Nullable && c.Nullable {
			return altered
		}
	}
	for _, pk := range pinned.Keys {
		if !slices.ContainsFunc(cur.Keys, func(k keyDesc) bool { return k.OID == pk.OID }) {
			return altered
		}
	}
	return ""
}

func (x *ddlTx) createSourceTable(ctx context.Context, parts []string, ine bool, srcParts, ref, textCols, excludeCols []string) (string, error) {
	const tag = "CREATE TABLE"
	schema, name, skip, err := x.claimItemName(ctx, parts, "table", ine)
	if err != nil || skip {
		return tag, err
	}
	src, err := x.ss.resolveItem(ctx, srcParts)
	if err != nil {
		return "", err
	}
	if src.kind != "source" {
		return "", errf(codeInternal, "%s is not a source", src.fqname)
	}
	up, err := x.upstreamParams(ctx, src.connectionID)
	if err != nil {
		return "", err
	}
	rows, err := x.q(ctx, `SELECT o.publication, c.server_name FROM mzemu_meta.objects o
 JOIN mzemu_meta.objects c ON c.id = o.connection_id WHERE o.id = $1`, src.id)
	if err != nil {
		return "", err
	}
	publication, server := rows[0][0], rows[0][1]
	uc, err := connectUpstream(ctx, up)
	if err != nil {
		return "", errf(codeSystem, "error connecting to server: %v", err)
	}
	defer uc.Close(context.Background())
	pubs, err := publicationTables(ctx, uc, publication)
	if err != nil {
		return "", err
	}
	refText := strings.Join(ref, ".")
	var match []pubTable
	for _, t := range pubs {
		switch len(ref) {
		case 1:
			if t.table == ref[0] {
				match = append(match, t)
			}
		case 2:
			if t.schema == ref[0] && t.table == ref[1] {
				match = append(match, t)
			}
		case 3:
			if ref[0] == up.db && t.schema == ref[1] && t.table == ref[2] {
				match = append(match, t)
			}
		}
	}
	if len(match) == 0 {
		return "", errf(codeInternal, "reference to %s not found in source", refText)
	}
	if len(match) > 1 {
		return "", errf(codeInternal, "reference %s is ambiguous, consider specifying an additional layer of qualification", refText)
	}
	desc, replident, err := describeTable(ctx, uc, match[0].schema, match[0].table)
	if err != nil {
		return "", err
	}
	if desc == nil {
		return "", errf(codeInternal, "reference to %s not found in source", refText)
	}
	if replident != "f" {
		return "", errf(codeInternal, "referenced items not tables with REPLICA IDENTITY FULL").
			withDetail(fmt.Sprintf("referenced items: %s.%s.%s", up.db, desc.Schema, desc.Table))
	}
	for _, c := range append(append([]string{}, textCols...), excludeCols...) {
		if !slices.ContainsFunc(desc.Columns, func(d colDesc) bool { return d.Name == c }) {
			return "", errf(codeInternal, "invalid option: column %q does not exist in %s.%s", c, desc.Schema, desc.Table)
		}
	}
	pinned := &tableDesc{OID: desc.OID, Schema: desc.Schema, Table: desc.Table}
	var unsupported []string
	for _, c := range desc.Columns {
		if slices.Contains(excludeCols, c.Name) {
			continue
		}
		if !slices.Contains(textCols, c.Name) && (c.Typtype == "e" || c.TypeOID >= 16384) {
			unsupported = append(unsupported, fmt.Sprintf("%s.%s.%s: %s (oid %d)", up.db, desc.Table, c.Name, c.Typname, c.TypeOID))
		}
		pinned.Columns = append(pinned.Columns, c)
	}
	if len(unsupported) > 0 {
		return "", errf(codeInternal, "referenced tables use unsupported types").
			withDetail("Columns with unsupported types: " + strings.Join(unsupported, ", ")).
			withHint("Use the TEXT COLUMNS option naming the columns to ingest them as text.")
	}
	for _, k := range desc.Keys {
		if !slices.ContainsFunc(k.Columns, func(c string) bool { return slices.Contains(excludeCols, c) }) {
			pinned.Keys = append(pinned.Keys, k)
		}
	}
	id, err := x.nextID(ctx)
	if err != nil {
		return "", err
	}
	var ftCols, viewCols, defs []string
	for _, c := range pinned.Columns {
		typ, mzType := c.TypeName, "pg_catalog."+c.Typname
		if i := strings.Index(c.TypeName, "("); i >= 0 {
			mzType += c.TypeName[i:]
		}
		if slices.Contains(textCols, c.Name) {
			typ, mzType = "text", "pg_catalog.text"
		}
		ftCols = append(ftCols, model.QuoteIdent(c.Name)+" "+typ)
		viewCols = append(viewCols, model.QuoteIdent(c.Name))
		def := quoteIdentMin(c.Name) + " " + mzType
		if !c.Nullable {
			def += " NOT NULL"
		}
		defs = append(defs, def)
	}
	for _, k := range pinned.Keys {
		kc := make([]string, len(k.Columns))
		for i, c := range k.Columns {
			kc[i] = quoteIdentMin(c)
		}
		kind := "UNIQUE"
		if k.Primary {
			kind = "PRIMARY KEY"
		}
		defs = append(defs, fmt.Sprintf("CONSTRAINT %s %s (%s)", quoteIdentMin(k.Name), kind, strings.Join(kc, ", ")))
	}
	if err := x.exec(ctx, fmt.Sprintf(`CREATE FOREIGN TABLE mzemu_data.%s (%s) SERVER %s OPTIONS (schema_name %s, table_name %s)`,
		model.QuoteIdent(id), strings.Join(ftCols, ", "), model.QuoteIdent(server), model.QuoteLiteral(desc.Schema), model.QuoteLiteral(desc.Table))); err != nil {
		return "", err
	}
	if err := x.exec(ctx, fmt.Sprintf(`CREATE VIEW %s AS SELECT %s FROM mzemu_data.%s WHERE (SELECT mzemu_meta.await_ready(%s)) OFFSET 0`,
		qname(schema, name), strings.Join(viewCols, ", "), model.QuoteIdent(id), model.QuoteLiteral(id))); err != nil {
		return "", err
	}
	oid, err := x.relOID(ctx, schema, name)
	if err != nil {
		return "", err
	}
	var with []string
	if len(textCols) > 0 {
		with = append(with, "TEXT COLUMNS = ("+joinMin(textCols)+")")
	}
	if len(excludeCols) > 0 {
		with = append(with, "EXCLUDE COLUMNS = ("+joinMin(excludeCols)+")")
	}
	pj, err := json.Marshal(pinned)
	if err != nil {
		return "", err
	}
	with = append(with, "DETAILS = '"+exportDetails(pinned)+"'")
	tail := fmt.Sprintf(" (%s) FROM SOURCE %s (REFERENCE = %s.%s.%s) WITH (%s)", strings.Join(defs, ", "), refItem(src.id),
		quoteIdentMin(up.db), quoteIdentMin(desc.Schema), quoteIdentMin(desc.Table), strings.Join(with, ", "))
	if err := x.exec(ctx, `INSERT INTO mzemu_meta.objects (id, oid, kind, source_id, create_tail, up_schema, up_table, pinned,
 text_columns, exclude_columns, ready_at, status, data_table)
 VALUES ($1, $2::oid, 'table', $3, $4, $5, $6, $7::jsonb, $8, $9, `+x.ss.srv.readyAt()+`, 'running', $1)`,
		id, oid, src.id, tail, desc.Schema, desc.Table, string(pj), textCols, excludeCols); err != nil {
		return "", err
	}
	return tag, x.addDep(ctx, id, src.id)
}

func joinMin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdentMin(n)
	}
	return strings.Join(q, ", ")
}

// watchUpstreams re-validates the upstream of every running source-fed
// table on each tick, as Materialize's periodic schema validation does
// (every RevalidateInterval, and whenever Server.Revalidate asks).
func (s *Server) watchUpstreams() {
	defer close(s.done)
	interval := s.opts.RevalidateInterval
	if interval == 0 {
		interval = 15 * time.Second
	}
	var tick <-chan time.Time
	if interval > 0 {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	var db *pgx.Conn
	ups := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range ups {
			c.Close(context.Background())
		}
		if db != nil {
			db.Close(context.Background())
		}
	}()
	for {
		var reply chan error
		select {
		case <-s.ctx.Done():
			return
		case <-tick:
		case reply = <-s.tickReq:
		}
		err := func() error {
			if db == nil || db.IsClosed() {
				c, err := pgx.Connect(s.ctx, s.opts.BackingURL)
				if err != nil {
					return fmt.Errorf("connect to backing database: %w", redactErr(err))
				}
				db = c
			}
			return s.checkUpstreams(s.ctx, db, ups)
		}()
		if err != nil && s.ctx.Err() == nil {
			s.log.Debug("upstream check", "err", err)
		}
		if reply != nil {
			reply <- err
		}
	}
}

func (s *Server) checkUpstreams(ctx context.Context, db *pgx.Conn, ups map[string]*pgx.Conn) error {
	rows, err := db.Query(ctx, `SELECT t.id, src.id, t.pinned::text, COALESCE(t.text_columns, '{}'), src.publication,
       c.id, c.host, c.port::text, c.dbname, COALESCE(c.username, ''), COALESCE(c.user_secret, ''), COALESCE(c.password_secret, '')
  FROM mzemu_meta.objects t
  JOIN mzemu_meta.objects src ON src.id = t.source_id
  JOIN mzemu_meta.connections c ON c.id = src.connection_id
 WHERE t.kind = 'table' AND t.status = 'running' AND src.status IS DISTINCT FROM 'stalled'`)
	if err != nil {
		return err
	}
	type check struct {
		id, srcID, pinned, pub, connID string
		textCols                       []string
		up                             upstreamParams
	}
	var checks []check
	for rows.Next() {
		var c check
		var userSecret, passSecret string
		if err := rows.Scan(&c.id, &c.srcID, &c.pinned, &c.textCols, &c.pub, &c.connID, &c.up.host, &c.up.port, &c.up.db, &c.up.user, &userSecret, &passSecret); err != nil {
			rows.Close()
			return err
		}
		if userSecret != "" {
			c.up.user = s.secret(userSecret)
		}
		if passSecret != "" {
			c.up.password = s.secret(passSecret)
		}
		checks = append(checks, c)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	stalled := map[string]bool{}
	for _, c := range checks {
		if stalled[c.srcID] {
			continue
		}
		uc := ups[c.connID]
		if uc == nil || uc.IsClosed() {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			conn, err := connectUpstream(cctx, c.up)
			cancel()
			if err != nil {
				continue // an unreachable upstream is retried on the next tick
			}
			ups[c.connID], uc = conn, conn
		}
		var pinned tableDesc
		if err := json.Unmarshal([]byte(c.pinned), &pinned); err != nil {
			return fmt.Errorf("pinned description of %s: %w", c.id, err)
		}
		var pubExists bool
		if err := uc.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1)`, c.pub).Scan(&pubExists); err != nil {
			uc.Close(ctx)
			continue
		}
		if !pubExists {
			// The whole source stalls; its tables show its status and error.
			stalled[c.srcID] = true
			reason := fmt.Sprintf("publication %q does not exist", c.pub)
			if _, err := db.Exec(ctx, `UPDATE mzemu_meta.objects SET status = 'stalled', error = $2, status_changed_at = clock_timestamp()
 WHERE id = $1 AND status IS DISTINCT FROM 'stalled'`, c.srcID, reason); err != nil {
				return err
			}
			s.log.Info("source stalled", "id", c.srcID, "reason", reason)
			continue
		}
		cur, _, err := describeTable(ctx, uc, pinned.Schema, pinned.Table)
		if err != nil {
			uc.Close(ctx)
			continue
		}
		var inPub bool
		if err := uc.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)`,
			c.pub, pinned.Schema, pinned.Table).Scan(&inPub); err != nil {
			uc.Close(ctx)
			continue
		}
		reason := incompatibility(&pinned, cur, inPub, c.textCols)
		if reason == "" {
			continue
		}
		if _, err := db.Exec(ctx, `UPDATE mzemu_meta.objects SET status = 'stalled', error = $2, status_changed_at = clock_timestamp()
 WHERE id = $1 AND status = 'running'`, c.id, reason); err != nil {
			return err
		}
		s.log.Info("source table stalled", "id", c.id, "reason", reason)
	}
	return nil
}
