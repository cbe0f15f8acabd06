package mzemu

import (
	"context"
	"fmt"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// stmtClass is how a statement takes part in Materialize's transaction
// rules.
type stmtClass int

const (
	clsEmpty stmtClass = iota
	clsRead
	clsWrite
	clsNeutral // SET and other session statements
	clsBegin
	clsCommit
	clsRollback
	clsDDLTxn    // may share a DDL transaction (rename, swap, create source, create table from source)
	clsDDLSingle // any other DDL: alone, or deferred as the single statement of a transaction
)

// stmt is one parsed client statement. Exactly one of query, ddl and local
// is set (none for transaction control and empty statements).
type stmt struct {
	text      string
	cls       stmtClass
	isolation string
	tag       string // command tag, when not the backing database's
	err       error  // a parse error, reported when the statement runs

	// query returns the SQL the backing database answers (rows forwarded).
	query func(ctx context.Context, ss *session) (string, error)
	// ddl changes the catalog inside the backing transaction runDDL opened.
	ddl func(ctx context.Context, x *ddlTx) (string, error)
	// local is answered by mzemu itself.
	local func(ctx context.Context, ss *session) (string, error)
	// control is a test control (SELECT mzemu_control(...)): its arguments.
	control []string
}

// parser walks the tokens of one statement.
type parser struct {
	text string
	toks []token
	pos  int
}

func newParser(text string) *parser { return &parser{text: text, toks: lex(text)} }

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: -1, start: len(p.text), end: len(p.text)}
}

func (p *parser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return token{kind: -1, start: len(p.text), end: len(p.text)}
}

func (p *parser) atEnd() bool { return p.pos >= len(p.toks) }

func (p *parser) next() token { t := p.peek(); p.pos++; return t }

// words accepts the keyword sequence ws, or consumes nothing.
func (p *parser) words(ws ...string) bool {
	for i, w := range ws {
		if !p.peekAt(i).isWord(w) {
			return false
		}
	}
	p.pos += len(ws)
	return true
}

func (p *parser) op(o string) bool {
	if p.peek().isOp(o) {
		p.pos++
		return true
	}
	return false
}

func describeTok(t token) string {
	switch t.kind {
	case -1:
		return "EOF"
	case tokWord:
		if keywords[t.val] {
			return strings.ToUpper(t.val)
		}
		return fmt.Sprintf("identifier %q", t.val)
	case tokIdent:
		return fmt.Sprintf("identifier %q", t.val)
	case tokString:
		return fmt.Sprintf("string literal %q", t.val)
	case tokNumber:
		return fmt.Sprintf("number %q", t.val)
	}
	switch t.val {
	case ".":
		return "dot"
	case ",":
		return "comma"
	case "(":
		return "left parenthesis"
	case ")":
		return "right parenthesis"
	case "=":
		return "equals sign"
	case ";":
		return "semicolon"
	}
	return fmt.Sprintf("operator %q", t.val)
}

var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`as alter begin by cascade cluster columns comment commit connection create database default drop
		exclude exists for from if in index is materialized not null on or postgres publication reference rename replace restrict
		rollback schema secret select show source swap table tables text to view views with`) {
		keywords[k] = true
	}
}

func (p *parser) errExpected(what string) error {
	return errf(codeSyntax, "Expected %s, found %s", what, describeTok(p.peek()))
}

func (p *parser) expect(ws ...string) error {
	if !p.words(ws...) {
		return p.errExpected(strings.ToUpper(strings.Join(ws, " ")))
	}
	return nil
}

func (p *parser) expectOp(o string) error {
	if !p.op(o) {
		return p.errExpected(describeTok(token{kind: tokOp, val: o}))
	}
	return nil
}

func (p *parser) expectEnd() error {
	if !p.atEnd() {
		return p.errExpected("end of statement")
	}
	return nil
}

// ident parses one identifier.
func (p *parser) ident() (string, error) {
	if n, ok := p.peek().name(); ok {
		p.pos++
		return n, nil
	}
	return "", p.errExpected("identifier")
}

// objName parses a possibly qualified name.
func (p *parser) objName() ([]string, error) {
	first, err := p.ident()
	if err != nil {
		return nil, err
	}
	parts := []string{first}
	for p.peek().isOp(".") {
		p.pos++
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
	}
	if len(parts) > 3 {
		return nil, errf(codeSyntax, "qualified name %q has too many parts", strings.Join(parts, "."))
	}
	return parts, nil
}

// identList parses ( a, b, ... ).
func (p *parser) identList() ([]string, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []string
	if p.op(")") {
		return out, nil
	}
	for {
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if p.op(")") {
			return out, nil
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
}

// rest returns the statement text from the current token on.
func (p *parser) rest() string {
	return strings.TrimSpace(p.text[p.peek().start:])
}

// parseStatement parses one statement (no trailing semicolon).
func parseStatement(text string) *stmt {
	st, err := parseStmt(text)
	if err != nil {
		return &stmt{text: text, cls: clsNeutral, err: err}
	}
	st.text = text
	return st
}

func parseStmt(text string) (*stmt, error) {
	p := newParser(text)
	for _, t := range p.toks {
		// Materialize's lexer refuses longer identifiers (MAX_IDENTIFIER_LENGTH).
		if (t.kind == tokWord || t.kind == tokIdent) && len(t.val) > maxIdentBytes {
			return nil, errf(codeSyntax, "identifier length exceeds %d bytes", maxIdentBytes)
		}
	}
	if p.atEnd() {
		return &stmt{cls: clsEmpty}, nil
	}
	first := p.peek()
	if first.kind != tokWord {
		if first.isOp("(") {
			return passRead(text), nil
		}
		return nil, errf(codeSyntax, "Expected a keyword at the beginning of a statement, found %s", describeTok(first))
	}
	switch first.val {
	case "select", "with", "values", "table", "explain", "fetch", "declare", "close":
		if first.val == "select" && p.peekAt(1).isWord("mzemu_control") {
			return parseControl(p)
		}
		if bad := advisoryLock(p.toks); bad != "" {
			return nil, errf("42883", "function %s() does not exist", bad)
		}
		if q, ok, err := showSubqueries(text, p.toks); err != nil {
			return nil, err
		} else if ok {
			return &stmt{cls: clsRead, query: q}, nil
		}
		return passRead(text), nil
	case "insert", "update", "delete":
		return &stmt{cls: clsWrite, query: rewriteQuery(text)}, nil
	case "copy":
		return nil, errf(codeFeature, "COPY is not supported by mzemu")
	case "subscribe":
		return nil, errf(codeFeature, "SUBSCRIBE is not supported by mzemu")
	case "begin", "start":
		return parseBegin(p)
	case "commit", "end":
		p.next()
		p.words("work")
		p.words("transaction")
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		return &stmt{cls: clsCommit}, nil
	case "rollback", "abort":
		p.next()
		p.words("work")
		p.words("transaction")
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		return &stmt{cls: clsRollback}, nil
	case "set":
		return parseSet(p)
	case "reset":
		return parseReset(p)
	case "show":
		return parseShow(p)
	case "create":
		return parseCreate(p)
	case "drop":
		return parseDrop(p)
	case "alter":
		return parseAlter(p)
	case "comment":
		return parseComment(p)
	case "grant", "revoke":
		return parseGrant(p)
	case "discard", "deallocate", "prepare", "execute":
		return &stmt{cls: clsNeutral, query: rewriteQuery(text)}, nil
	}
	if keywords[first.val] || isMZKeyword(first.val) {
		return nil, errf(codeFeature, "%s is not supported by mzemu", strings.ToUpper(first.val))
	}
	return nil, errf(codeSyntax, "Expected a keyword at the beginning of a statement, found identifier %q", first.val)
}

// isMZKeyword reports statement-leading keywords Materialize knows but
// mzemu does not emulate.
func isMZKeyword(w string) bool {
	switch w {
	case "validate", "truncate", "prepare", "raise", "inspect":
		return true
	}
	return false
}

func passRead(text string) *stmt {
	return &stmt{cls: clsRead, query: rewriteQuery(text)}
}

// advisoryLock returns the name of an advisory-lock function the statement
// calls: Materialize has none.
func advisoryLock(toks []token) string {
	for i, t := range toks {
		if t.kind == tokWord && (strings.HasPrefix(t.val, "pg_advisory") || strings.HasPrefix(t.val, "pg_try_advisory")) &&
			i+1 < len(toks) && toks[i+1].isOp("(") {
			return t.val
		}
	}
	return ""
}

// rewriteQuery prepares client SQL for the backing database: three-part
// names in the emulated database lose their database part.
func rewriteQuery(text string) func(context.Context, *session) (string, error) {
	q := stripDatabase(text)
	if !mentionsRoleFunction(q) {
		return func(context.Context, *session) (string, error) { return q, nil }
	}
	return func(_ context.Context, ss *session) (string, error) { return withRoleFunctions(q, ss.roleName), nil }
}

// mentionsRoleFunction reports current_user, current_role or session_user,
// which are the session's Materialize role, not the backing user.
func mentionsRoleFunction(q string) bool {
	for _, t := range lex(q) {
		if t.isWord("current_user") || t.isWord("current_role") || t.isWord("session_user") {
			return true
		}
	}
	return false
}

// withRoleFunctions replaces current_user, current_role and session_user
// with the session's role name.
func withRoleFunctions(q, role string) string {
	var b strings.Builder
	last := 0
	for _, t := range lex(q) {
		if t.isWord("current_user") || t.isWord("current_role") || t.isWord("session_user") {
			b.WriteString(q[last:t.start])
			b.WriteString("(" + model.QuoteLiteral(role) + "::pg_catalog.name)")
			last = t.end
		}
	}
	b.WriteString(q[last:])
	return b.String()
}

// stripDatabase removes "materialize." where it qualifies a schema-qualified
// name (materialize.schema.item), which PostgreSQL would take for a
// cross-database reference.
func stripDatabase(text string) string {
	toks := lex(text)
	var b strings.Builder
	last := 0
	for i := 0; i+3 < len(toks); i++ {
		t := toks[i]
		if n, ok := t.name(); ok && n == "materialize" && toks[i+1].isOp(".") && toks[i+1].start == t.end {
			if _, ok := toks[i+2].name(); ok && toks[i+3].isOp(".") && (i == 0 || !toks[i-1].isOp(".")) {
				b.WriteString(text[last:t.start])
				last = toks[i+1].end
			}
		}
	}
	b.WriteString(text[last:])
	return b.String()
}

func parseBegin(p *parser) (*stmt, error) {
	if p.words("start") {
		if err := p.expect("transaction"); err != nil {
			return nil, err
		}
	} else {
		p.next()
		if !p.words("work") {
			p.words("transaction")
		}
	}
	st := &stmt{cls: clsBegin}
	for !p.atEnd() {
		switch {
		case p.words("isolation", "level"):
			var lv []string
			for p.peek().kind == tokWord && !p.peek().isWord("read") {
				lv = append(lv, p.next().val)
			}
			st.isolation = backingIsolation(strings.Join(lv, " "))
		case p.words("read", "only"), p.words("read", "write"):
		case p.op(","):
		default:
			return nil, p.errExpected("end of statement")
		}
	}
	return st, nil
}

// backingIsolation maps a Materialize isolation level to the backing
// session's.
func backingIsolation(level string) string {
	// Materialize's catalog always shows the latest state, even inside a
	// read transaction, so the backing session stays READ COMMITTED.
	_ = level
	return ""
}

// parseGrant dispatches GRANT/REVOKE: privileges on objects (a privilege
// list followed by ON) or role membership.
func parseGrant(p *parser) (*stmt, error) {
	grant := p.next().isWord("grant")
	for i := p.pos; i < len(p.toks); i++ {
		t := p.toks[i]
		if t.isWord("on") {
			return parseGrantPrivileges(p, grant)
		}
		if t.isWord("to") || t.isWord("from") {
			break
		}
	}
	return parseGrantRole(p, grant)
}

// showSubqueries rewrites (SHOW ...) subqueries, which Materialize accepts
// where a subquery may stand, into the SHOW's query. ok is false when the
// statement has none.
func showSubqueries(text string, toks []token) (func(context.Context, *session) (string, error), bool, error) {
	type span struct {
		start, end int // byte offsets of the SHOW text and of the closing parenthesis's end
		st         *stmt
		alias      string // added where PostgreSQL needs an alias
	}
	var spans []span
	for i := 0; i+1 < len(toks); i++ {
		if !toks[i].isOp("(") || !toks[i+1].isWord("show") {
			continue
		}
		depth, j := 0, i
		for ; j < len(toks); j++ {
			if toks[j].isOp("(") {
				depth++
			} else if toks[j].isOp(")") {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if j == len(toks) {
			return nil, false, errf(codeSyntax, "Expected right parenthesis, found EOF")
		}
		inner := text[toks[i+1].start:toks[j].start]
		st := parseStatement(inner)
		if st.err != nil {
			return nil, false, st.err
		}
		if st.query == nil {
			return nil, false, errf(codeSyntax, "Expected a SHOW statement that returns rows, found %s", normalizeStmt(inner))
		}
		alias := fmt.Sprintf(" AS mzemu_show%d", len(spans))
		if j+1 < len(toks) {
			if n := toks[j+1]; n.isWord("as") || n.kind == tokIdent || (n.kind == tokWord && !keywords[n.val] && !sqlClauseWord(n.val)) {
				alias = ""
			}
		}
		spans = append(spans, span{toks[i+1].start, toks[j].end, st, alias})
		i = j
	}
	if len(spans) == 0 {
		return nil, false, nil
	}
	return func(ctx context.Context, ss *session) (string, error) {
		var b strings.Builder
		last := 0
		for _, sp := range spans {
			b.WriteString(stripDatabase(text[last:sp.start]))
			q, err := sp.st.query(ctx, ss)
			if err != nil {
				return "", err
			}
			b.WriteString(q + "\n)" + sp.alias)
			last = sp.end
		}
		b.WriteString(stripDatabase(text[last:]))
		return b.String(), nil
	}, true, nil
}

// maxIdentBytes is Materialize's identifier length limit.
const maxIdentBytes = 255
