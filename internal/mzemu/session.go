package mzemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

// txKind is the kind a Materialize transaction takes from its first
// statement (reference §1.11).
type txKind int

const (
	txNone txKind = iota
	txRead
	txWrite
	txDDL    // multi-statement DDL: renames, swaps, CREATE SOURCE, CREATE TABLE FROM SOURCE
	txSingle // one deferred DDL statement
)

// txState is a session's transaction, as the client sees it. The backing
// transaction is opened lazily for reads and writes; DDL is replayed under
// the server's DDL lock instead, so no backing locks are held between
// statements of a DDL transaction.
type txState struct {
	open        bool
	implicit    bool
	failed      bool
	kind        txKind
	backingOpen bool
	isolation   string
	queries     int
	ddl         []*stmt
	rev         int64
}

// session is one client connection and its backing PostgreSQL session.
type session struct {
	srv  *Server
	conn net.Conn
	be   *pgproto3.Backend
	db   *pgconn.PgConn
	key  uint64

	cluster    string
	searchPath string // as the client set it
	// backingPath is the client's search_path as backing names (quoted).
	backingPath string

	// The login role from the startup packet (roles.go).
	roleID, roleName string
	superuser        bool

	// pid is the backing connection's process ID; doomed is set when a
	// DDL statement of another session terminated the backing
	// connection (ddl_nowait.go).
	pid    atomic.Uint32
	doomed atomic.Pointer[doom]

	stmts   map[string]*prepared
	portals map[string]*portal
	tx      txState
	errSkip bool // extended protocol: skip to Sync after an error
	// mute drops the backing database's notices while mzemu runs its own
	// catalog statements (PostgreSQL's "drop cascades to ..." is not
	// Materialize's).
	mute bool
}

type prepared struct {
	st        *stmt
	query     string
	paramOIDs []uint32
	fields    []pgconn.FieldDescription
}

type portal struct {
	p             *prepared
	params        [][]byte
	paramFormats  []int16
	resultFormats []int16
}

var errTerminate = errors.New("terminate")

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	ss := &session{srv: s, conn: c, be: pgproto3.NewBackend(c, c), cluster: "quickstart", searchPath: "public", backingPath: "public",
		stmts: map[string]*prepared{}, portals: map[string]*portal{}}
	ok, err := ss.startup()
	if err != nil || !ok {
		if err != nil && !errors.Is(err, io.EOF) {
			s.log.Debug("startup", "err", err)
		}
		return
	}
	s.register(ss)
	defer s.unregister(ss)
	defer ss.db.Close(context.Background())
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	ss.sendStartupParams()
	if err := ss.loop(); err != nil && !errors.Is(err, errTerminate) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("session ended", "err", err)
	}
}

// startup handles SSL/GSS negotiation, cancel requests and the startup
// message; it reports whether a session should be served.
func (ss *session) startup() (bool, error) {
	for {
		msg, err := ss.be.ReceiveStartupMessage()
		if err != nil {
			return false, err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := ss.conn.Write([]byte{'N'}); err != nil {
				return false, err
			}
		case *pgproto3.CancelRequest:
			if len(m.SecretKey) == 4 {
				key := uint64(m.ProcessID)<<32 | uint64(uint32(m.SecretKey[0])<<24|uint32(m.SecretKey[1])<<16|uint32(m.SecretKey[2])<<8|uint32(m.SecretKey[3]))
				ss.srv.cancelSession(key)
			}
			return false, nil
		case *pgproto3.StartupMessage:
			return ss.accept(m)
		default:
			return false, fmt.Errorf("unexpected startup message %T", msg)
		}
	}
}

func (ss *session) fatal(code, msg string) {
	ss.be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	ss.be.Flush()
}

func (ss *session) accept(m *pgproto3.StartupMessage) (bool, error) {
	db := m.Parameters["database"]
	if db != "" && db != "materialize" {
		ss.fatal("3D000", fmt.Sprintf("database %q is not supported by mzemu: the only database is \"materialize\"", db))
		return false, nil
	}
	if opts := m.Parameters["options"]; opts != "" {
		for _, f := range strings.Fields(opts) {
			f = strings.TrimPrefix(strings.TrimPrefix(f, "-c"), "--")
			if k, v, ok := strings.Cut(f, "="); ok && (k == "cluster") {
				ss.cluster = v
			}
		}
	}
	ctx := ss.srv.ctx
	if err := ss.connectBacking(ctx); err != nil {
		ss.fatal("58000", "mzemu: cannot reach its backing database")
		return false, err
	}
	conn := ss.db
	if err := ss.login(ctx, m.Parameters["user"]); err != nil {
		var me *mzError
		if errors.As(err, &me) {
			ss.fatal(me.Code, me.Message)
			conn.Close(context.Background())
			return false, nil
		}
		conn.Close(context.Background())
		ss.fatal("58000", "mzemu: cannot read its catalog")
		return false, fmt.Errorf("login: %w", err)
	}
	return true, nil
}

func (ss *session) sendStartupParams() {
	ss.be.Send(&pgproto3.AuthenticationOk{})
	params := [][2]string{
		{"application_name", ""},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"integer_datetimes", "on"},
		{"server_version", "9.5.0"},
		{"server_version_num", "90500"},
		{"standard_conforming_strings", "on"},
		{"TimeZone", "UTC"},
		{"IntervalStyle", "postgres"},
		{"is_superuser", map[bool]string{true: "on", false: "off"}[ss.superuser]},
		{"cluster", ss.cluster},
		{"cluster_replica", ""},
		{"default_cluster_replication_factor", "1"},
		{"database", "materialize"},
		{"search_path", ss.searchPath},
		{"mz_version", mzVersion},
	}
	for _, p := range params {
		ss.be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	ss.be.Send(&pgproto3.BackendKeyData{ProcessID: uint32(ss.key >> 32), SecretKey: []byte{byte(ss.key >> 24), byte(ss.key >> 16), byte(ss.key >> 8), byte(ss.key)}})
	ss.be.Send(&pgproto3.ReadyForQuery{TxStatus: ss.txStatus()})
	ss.be.Flush()
}

// backingSearchPath is the backing session's search_path for a client
// value: mz_catalog is always searched (after the client's schemas) and
// pg_catalog last, so mzemu's functions shadow PostgreSQL's.
func backingSearchPath(client string) string {
	if strings.TrimSpace(client) == "" {
		return "mz_catalog, pg_catalog"
	}
	return client + ", mz_catalog, pg_catalog"
}

func (ss *session) txStatus() byte {
	switch {
	case !ss.tx.open || ss.tx.implicit:
		return 'I'
	case ss.tx.failed:
		return 'E'
	default:
		return 'T'
	}
}

func (ss *session) loop() error {
	ctx := ss.srv.ctx
	for {
		msg, err := ss.be.Receive()
		if err != nil {
			return err
		}
		if ss.errSkip {
			switch msg.(type) {
			case *pgproto3.Sync:
				ss.errSkip = false
			case *pgproto3.Terminate:
				return errTerminate
			default:
				continue
			}
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			err = ss.simpleQuery(ctx, m.String)
		case *pgproto3.Parse:
			err = ss.parse(ctx, m)
		case *pgproto3.Bind:
			err = ss.bind(m)
		case *pgproto3.Describe:
			err = ss.describe(m)
		case *pgproto3.Execute:
			err = ss.execute(ctx, m)
		case *pgproto3.Close:
			if m.ObjectType == 'S' {
				delete(ss.stmts, m.Name)
			} else {
				delete(ss.portals, m.Name)
			}
			ss.be.Send(&pgproto3.CloseComplete{})
		case *pgproto3.Sync:
			delete(ss.portals, "")
			if ss.tx.implicit {
				ss.endImplicit(ctx, true)
			}
			ss.be.Send(&pgproto3.ReadyForQuery{TxStatus: ss.txStatus()})
			err = ss.be.Flush()
		case *pgproto3.Flush:
			err = ss.be.Flush()
		case *pgproto3.Terminate:
			return errTerminate
		default:
			ss.be.Send(toErrorResponse(errf(codeFeature, "message %T is not supported by mzemu", msg)))
			ss.errSkip = true
		}
		if err != nil {
			var drop *dropConn
			if errors.As(err, &drop) {
				return err
			}
			err = ss.doomError(ctx, err)
			if ss.db.IsClosed() {
				ss.fatal("58000", "mzemu: lost its backing database session")
				return err
			}
			ss.be.Send(toErrorResponse(ss.translateErr(err)))
			if _, ok := msg.(*pgproto3.Query); ok {
				ss.be.Send(&pgproto3.ReadyForQuery{TxStatus: ss.txStatus()})
			} else {
				ss.errSkip = true
			}
			if ferr := ss.be.Flush(); ferr != nil {
				return ferr
			}
		}
	}
}

// dropConn is returned when a fault drops the client connection.
type dropConn struct{}

func (*dropConn) Error() string { return "mzemu: injected fault: connection dropped" }

func (ss *session) simpleQuery(ctx context.Context, q string) error {
	texts := splitStatements(q)
	if len(texts) == 0 {
		ss.be.Send(&pgproto3.EmptyQueryResponse{})
		ss.be.Send(&pgproto3.ReadyForQuery{TxStatus: ss.txStatus()})
		return ss.be.Flush()
	}
	if len(texts) > 1 && !ss.tx.open {
		ss.tx = txState{open: true, implicit: true}
	}
	for _, text := range texts {
		if !ss.tx.open && len(texts) > 1 {
			ss.tx = txState{open: true, implicit: true}
		}
		st := parseStatement(text)
		var p *prepared
		lose, err := ss.checkFaults(st)
		if err == nil {
			p, err = ss.prepare(ctx, st)
		}
		if err == nil {
			err = ss.run(ctx, p, nil, nil, nil, true)
		}
		if err == nil && lose {
			if ss.tx.implicit {
				ss.endImplicit(ctx, true)
			}
			return &dropConn{}
		}
		if err != nil {
			var drop *dropConn
			if errors.As(err, &drop) {
				return err
			}
			err = ss.doomError(ctx, err)
			ss.be.Send(toErrorResponse(ss.translateErr(err)))
			if ss.tx.implicit {
				ss.endImplicit(ctx, false)
			}
			ss.be.Send(&pgproto3.ReadyForQuery{TxStatus: ss.txStatus()})
			return ss.be.Flush()
		}
	}
	if ss.tx.implicit {
		if err := ss.endImplicit(ctx, true); err != nil {
			ss.be.Send(toErrorResponse(ss.translateErr(err)))
		}
	}
	ss.be.Send(&pgproto3.ReadyForQuery{TxStatus: ss.txStatus()})
	return ss.be.Flush()
}

// endImplicit ends an implicit transaction: commit (applying queued DDL) or
// roll back.
func (ss *session) endImplicit(ctx context.Context, commit bool) error {
	_, err := ss.finishTx(ctx, commit)
	return err
}

func (ss *session) parse(ctx context.Context, m *pgproto3.Parse) error {
	texts := splitStatements(m.Query)
	if len(texts) > 1 {
		return errf(codeSyntax, "cannot insert multiple commands into a prepared statement")
	}
	text := ""
	if len(texts) == 1 {
		text = texts[0]
	}
	st := parseStatement(text)
	p, err := ss.prepare(ctx, st)
	if err != nil {
		return err
	}
	if p.query != "" && len(m.ParameterOIDs) > 0 {
		// The client's declared parameter types win; describe again with them.
		desc, err := ss.db.Prepare(ctx, "", p.query, m.ParameterOIDs)
		if err != nil {
			return err
		}
		p.paramOIDs, p.fields = desc.ParamOIDs, desc.Fields
	}
	ss.stmts[m.Name] = p
	ss.be.Send(&pgproto3.ParseComplete{})
	return nil
}

// prepare turns a parsed statement into something executable: for
// statements answered by the backing database, the rewritten SQL and its
// description.
func (ss *session) prepare(ctx context.Context, st *stmt) (*prepared, error) {
	if st.err != nil {
		return nil, st.err
	}
	p := &prepared{st: st}
	if st.control != nil {
		p.fields = controlFields
		return p, nil
	}
	if st.query == nil {
		for _, t := range lex(st.text) {
			if t.kind == tokParam {
				return nil, errf("42P02", "there is no parameter %s", t.val)
			}
		}
	}
	if st.query != nil {
		if err := ss.checkDoom(ctx); err != nil {
			return nil, err
		}
		if ss.tx.failed {
			return nil, errAborted()
		}
		q, err := st.query(ctx, ss)
		if err != nil {
			return nil, err
		}
		// Identifiers of over 63 bytes name backing objects by their
		// backing names (longnames.go).
		q, _ = toBackingSQL(q)
		p.query = q
		desc, err := ss.db.Prepare(ctx, "", q, nil)
		if err != nil {
			return nil, err
		}
		p.paramOIDs, p.fields = desc.ParamOIDs, desc.Fields
	}
	return p, nil
}

func (ss *session) bind(m *pgproto3.Bind) error {
	p, ok := ss.stmts[m.PreparedStatement]
	if !ok {
		return errf("26000", "prepared statement %q does not exist", m.PreparedStatement)
	}
	if p.query == "" && len(m.Parameters) > 0 {
		return errf("42P02", "there is no parameter $1")
	}
	if len(m.Parameters) != len(p.paramOIDs) && p.query != "" {
		return errf("08P01", "bind message supplies %d parameters, but prepared statement %q requires %d", len(m.Parameters), m.PreparedStatement, len(p.paramOIDs))
	}
	if err := checkParamFormats(p.paramOIDs, m.ParameterFormatCodes); err != nil {
		return err
	}
	params := make([][]byte, len(m.Parameters))
	for i, v := range m.Parameters {
		if v != nil {
			params[i] = append([]byte{}, v...)
		}
	}
	ss.portals[m.DestinationPortal] = &portal{p: p, params: params,
		paramFormats: append([]int16{}, m.ParameterFormatCodes...), resultFormats: append([]int16{}, m.ResultFormatCodes...)}
	ss.be.Send(&pgproto3.BindComplete{})
	return nil
}

func (ss *session) describe(m *pgproto3.Describe) error {
	if m.ObjectType == 'S' {
		p, ok := ss.stmts[m.Name]
		if !ok {
			return errf("26000", "prepared statement %q does not exist", m.Name)
		}
		ss.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: p.paramOIDs})
		ss.sendRowDescription(p.fields, nil)
		return nil
	}
	pt, ok := ss.portals[m.Name]
	if !ok {
		return errf("34000", "portal %q does not exist", m.Name)
	}
	ss.sendRowDescription(pt.p.fields, pt.resultFormats)
	return nil
}

func (ss *session) sendRowDescription(fields []pgconn.FieldDescription, formats []int16) {
	if fields == nil {
		ss.be.Send(&pgproto3.NoData{})
		return
	}
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(fields))}
	for i, f := range fields {
		rd.Fields[i] = pgproto3.FieldDescription{Name: []byte(fromBackingText(f.Name)), TableOID: f.TableOID, TableAttributeNumber: f.TableAttributeNumber,
			DataTypeOID: f.DataTypeOID, DataTypeSize: f.DataTypeSize, TypeModifier: f.TypeModifier, Format: formatFor(formats, i)}
	}
	ss.be.Send(rd)
}

func formatFor(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	default:
		if i < len(formats) {
			return formats[i]
		}
		return 0
	}
}

func (ss *session) execute(ctx context.Context, m *pgproto3.Execute) error {
	pt, ok := ss.portals[m.Portal]
	if !ok {
		return errf("34000", "portal %q does not exist", m.Portal)
	}
	lose, err := ss.checkFaults(pt.p.st)
	if err != nil {
		return err
	}
	if err := ss.run(ctx, pt.p, pt.params, pt.paramFormats, pt.resultFormats, false); err != nil || !lose {
		return err
	}
	return &dropConn{}
}

func errAborted() error {
	return errf(codeAborted, "current transaction is aborted, commands ignored until end of transaction block")
}

// run executes one prepared statement under Materialize's transaction
// rules and writes its results. simple selects the simple protocol's
// RowDescription.
func (ss *session) run(ctx context.Context, p *prepared, params [][]byte, paramFormats, resultFormats []int16, simple bool) (err error) {
	st := p.st
	if st.cls == clsEmpty {
		ss.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	defer func() {
		if err != nil && ss.tx.open && !ss.tx.implicit {
			ss.tx.failed = true
		}
	}()
	if derr := ss.checkDoom(ctx); derr != nil {
		switch st.cls {
		case clsCommit:
			// COMMIT of a doomed transaction fails and ends it.
			ss.tx = txState{}
			return derr
		case clsRollback:
		default:
			return derr
		}
	}
	switch st.cls {
	case clsBegin:
		if ss.tx.open && !ss.tx.implicit {
			ss.be.Send(notice("25001", "there is already a transaction in progress"))
		} else if ss.tx.open {
			ss.tx.implicit = false
		} else {
			ss.tx = txState{open: true}
		}
		if st.isolation != "" {
			ss.tx.isolation = st.isolation
		}
		return ss.complete("BEGIN")
	case clsCommit, clsRollback:
		if !ss.tx.open {
			ss.be.Send(notice("25P01", "there is no transaction in progress"))
			return ss.complete(strings.ToUpper(map[stmtClass]string{clsCommit: "COMMIT", clsRollback: "ROLLBACK"}[st.cls]))
		}
		wasImplicit := ss.tx.implicit
		tag, err := ss.finishTx(ctx, st.cls == clsCommit)
		if err != nil {
			return err
		}
		if wasImplicit {
			// A COMMIT inside a multi-statement string ends the implicit block.
			ss.tx = txState{}
		}
		return ss.complete(tag)
	}
	if ss.tx.failed {
		return errAborted()
	}
	if err := ss.admit(ctx, st); err != nil {
		return err
	}
	switch {
	case st.ddl != nil:
		if !ss.tx.open {
			tag, err := ss.srv.runDDL(ctx, ss, []*stmt{st}, false, 0, true)
			if err != nil {
				return err
			}
			return ss.complete(tag)
		}
		if st.cls == clsDDLSingle {
			ss.tx.ddl = append(ss.tx.ddl, st)
			return ss.complete(st.tag)
		}
		// A multi-statement DDL transaction: check the statement against
		// everything queued so far, then queue it.
		list := append(append([]*stmt{}, ss.tx.ddl...), st)
		tag, err := ss.srv.runDDL(ctx, ss, list, true, ss.tx.rev, false)
		if err != nil {
			return err
		}
		ss.tx.ddl = list
		return ss.complete(tag)
	case st.control != nil:
		return ss.runControl(ctx, st, resultFormats, simple)
	case st.local != nil:
		tag, err := st.local(ctx, ss)
		if err != nil {
			return err
		}
		return ss.complete(tag)
	default:
		// Only writes and cursors need a backing transaction: reads hold
		// no backing locks between statements, so DDL never waits on them.
		if ss.tx.open && !ss.tx.backingOpen && (st.cls == clsWrite || isCursorStmt(st.text)) {
			begin := "BEGIN"
			if ss.tx.isolation != "" {
				begin += " ISOLATION LEVEL " + ss.tx.isolation
			}
			if _, err := ss.db.Exec(ctx, begin).ReadAll(); err != nil {
				return err
			}
			ss.tx.backingOpen = true
		}
		if st.cls == clsRead || st.cls == clsWrite {
			if err := ss.checkStatementPrivileges(ctx, st.text); err != nil {
				return err
			}
		}
		if st.cls == clsRead {
			if err := ss.awaitClusterReplica(ctx, st.text); err != nil {
				return err
			}
		}
		ss.tx.queries++
		return ss.passthrough(ctx, p, params, paramFormats, resultFormats, simple)
	}
}

// admit applies the transaction-kind rules of reference §1.11.
func (ss *session) admit(ctx context.Context, st *stmt) error {
	if !ss.tx.open {
		return nil
	}
	t := &ss.tx
	switch st.cls {
	case clsDDLTxn:
		switch t.kind {
		case txNone:
			t.kind = txDDL
			rev, err := ss.currentRevision(ctx)
			if err != nil {
				return err
			}
			t.rev = rev
		case txDDL:
		case txSingle:
			return errf(codeInvalidTxn, "this transaction can only execute a single statement")
		case txRead:
			return errf(codeReadOnly, "transaction in read-only mode")
		case txWrite:
			return errf(codeInvalidTxn, "transaction in write-only mode")
		}
	case clsDDLSingle:
		if t.implicit {
			return errf(codeActiveTxn, "%s cannot be run inside a transaction block", normalizeStmt(st.text))
		}
		switch t.kind {
		case txNone:
			t.kind = txSingle
		case txDDL:
			return errf(codeInvalidTxn, "transactions which modify objects are restricted to just modifying objects")
		case txSingle:
			return errf(codeInvalidTxn, "this transaction can only execute a single statement")
		case txRead:
			return errf(codeReadOnly, "transaction in read-only mode")
		case txWrite:
			return errf(codeInvalidTxn, "transaction in write-only mode")
		}
	case clsRead, clsWrite:
		switch t.kind {
		case txNone:
			if st.cls == clsRead {
				t.kind = txRead
			} else {
				t.kind = txWrite
			}
		case txDDL:
			return errf(codeInvalidTxn, "transactions which modify objects are restricted to just modifying objects")
		case txSingle:
			return errf(codeInvalidTxn, "this transaction can only execute a single statement")
		case txRead:
			if st.cls == clsWrite {
				return errf(codeReadOnly, "transaction in read-only mode")
			}
		case txWrite:
			if st.cls == clsRead {
				return errf(codeInvalidTxn, "transaction in write-only mode")
			}
		}
	}
	return nil
}

// finishTx ends the open transaction and returns the command tag.
func (ss *session) finishTx(ctx context.Context, commit bool) (string, error) {
	t := ss.tx
	ss.tx = txState{}
	if t.failed || !commit {
		if t.backingOpen {
			if _, err := ss.db.Exec(ctx, "ROLLBACK").ReadAll(); err != nil {
				return "", err
			}
		}
		return "ROLLBACK", nil
	}
	if len(t.ddl) > 0 {
		if _, err := ss.srv.runDDL(ctx, ss, t.ddl, t.kind == txDDL, t.rev, true); err != nil {
			return "", err
		}
	}
	if t.backingOpen {
		if _, err := ss.db.Exec(ctx, "COMMIT").ReadAll(); err != nil {
			return "", err
		}
	}
	return "COMMIT", nil
}

func (ss *session) complete(tag string) error {
	ss.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// passthrough runs a statement on the backing session and forwards its
// results.
func (ss *session) passthrough(ctx context.Context, p *prepared, params [][]byte, paramFormats, resultFormats []int16, simple bool) error {
	rr := ss.db.ExecParams(ctx, p.query, params, p.paramOIDs, paramFormats, resultFormats)
	fields := rr.FieldDescriptions()
	if !simple && !sameFields(fields, p.fields) {
		rr.Close()
		return errf(codeFeature, "cached plan must not change result type")
	}
	if simple && fields != nil {
		ss.sendRowDescription(fields, nil)
	}
	n := 0
	for rr.NextRow() {
		ss.be.Send(&pgproto3.DataRow{Values: rr.Values()})
		if n++; n%500 == 0 {
			if err := ss.be.Flush(); err != nil {
				rr.Close()
				return err
			}
		}
	}
	tag, err := rr.Close()
	if err != nil {
		return err
	}
	if p.st.tag != "" {
		return ss.complete(p.st.tag)
	}
	return ss.complete(tag.String())
}

func sameFields(a, b []pgconn.FieldDescription) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].DataTypeOID != b[i].DataTypeOID {
			return false
		}
	}
	return true
}

// normalizeStmt renders a statement for error messages: one line, single
// spaces.
func normalizeStmt(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// typeMap knows PostgreSQL's built-in types, to tell array types apart.
var typeMap = pgtype.NewMap()

// checkParamFormats rejects what Materialize cannot decode at Bind: a
// parameter of an array type sent in binary format (pgx sends Go slices
// so). Text-format parameters are accepted.
func checkParamFormats(oids []uint32, formats []int16) error {
	for i, oid := range oids {
		if formatFor(formats, i) != pgtype.BinaryFormatCode {
			continue
		}
		if t, ok := typeMap.TypeForOID(oid); ok {
			if _, isArray := t.Codec.(*pgtype.ArrayCodec); isArray {
				return errf("22023", "unable to decode parameter: input of array types is not implemented")
			}
		}
	}
	return nil
}

// isCursorStmt reports DECLARE/FETCH/CLOSE/MOVE, which need a backing
// transaction.
func isCursorStmt(text string) bool {
	toks := lex(text)
	return len(toks) > 0 && (toks[0].isWord("declare") || toks[0].isWord("fetch") || toks[0].isWord("close") || toks[0].isWord("move"))
}
