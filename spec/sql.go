package spec

import (
	"errors"
	"fmt"
	"strings"
)

// TokenKind classifies a lexical token of Materialize SQL.
type TokenKind int

// Token kinds.
const (
	TokIdent       TokenKind = iota // unquoted identifier or keyword; Value is folded to lower case
	TokQuotedIdent                  // "quoted identifier"; Value is unescaped
	TokString                       // '...', E'...', X'...', $tag$...$tag$
	TokNumber                       // 42, 3.14, 1e10
	TokParam                        // $1
	TokComment                      // -- line or /* block */
	TokPunct                        // operators and punctuation, one character each
	TokSemicolon                    // ;
)

// Token is one lexical token.
type Token struct {
	Kind TokenKind
	// Text is the token exactly as written.
	Text string
	// Value is the identifier a TokIdent or TokQuotedIdent names.
	Value string
	// Pos is the byte offset of the token in the input.
	Pos int
	// Space reports whether whitespace precedes the token.
	Space bool
}

// ErrUnterminated is returned for a literal, quoted identifier or comment
// that is not closed.
var ErrUnterminated = errors.New("unterminated")

// LexSQL splits sql into tokens, skipping whitespace. It follows the lexical
// rules Materialize shares with PostgreSQL: ” inside string literals,
// backslash escapes in E” literals, "" inside quoted identifiers, dollar
// quoting and nested block comments.
func LexSQL(sql string) ([]Token, error) {
	var toks []Token
	i, space := 0, false
	for i < len(sql) {
		c := sql[i]
		if isSQLSpace(c) {
			i++
			space = true
			continue
		}
		start := i
		kind := TokPunct
		var value string
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			kind = TokComment
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(sql)
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			kind = TokComment
			depth := 0
			for i < len(sql) {
				if strings.HasPrefix(sql[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(sql[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth != 0 {
				return toks, fmt.Errorf("%w block comment starting at offset %d", ErrUnterminated, start)
			}
		case c == '\'':
			kind = TokString
			end, ok := scanQuoted(sql, i, '\'', false)
			if !ok {
				return toks, fmt.Errorf("%w string literal starting at offset %d", ErrUnterminated, start)
			}
			i = end
		case (c == 'e' || c == 'E') && i+1 < len(sql) && sql[i+1] == '\'':
			kind = TokString
			end, ok := scanQuoted(sql, i+1, '\'', true)
			if !ok {
				return toks, fmt.Errorf("%w string literal starting at offset %d", ErrUnterminated, start)
			}
			i = end
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'n' || c == 'N') && i+1 < len(sql) && sql[i+1] == '\'':
			kind = TokString
			end, ok := scanQuoted(sql, i+1, '\'', false)
			if !ok {
				return toks, fmt.Errorf("%w string literal starting at offset %d", ErrUnterminated, start)
			}
			i = end
		case c == '"':
			kind = TokQuotedIdent
			end, ok := scanQuoted(sql, i, '"', false)
			if !ok {
				return toks, fmt.Errorf("%w quoted identifier starting at offset %d", ErrUnterminated, start)
			}
			i = end
			value = strings.ReplaceAll(sql[start+1:end-1], `""`, `"`)
		case c == '$':
			if i+1 < len(sql) && isDigit(sql[i+1]) {
				kind = TokParam
				i++
				for i < len(sql) && isDigit(sql[i]) {
					i++
				}
				break
			}
			j := i + 1
			for j < len(sql) && isIdentPart(sql[j]) && sql[j] != '$' {
				j++
			}
			if j < len(sql) && sql[j] == '$' && (j == i+1 || isIdentStart(sql[i+1])) {
				tag := sql[i : j+1]
				end := strings.Index(sql[j+1:], tag)
				if end < 0 {
					return toks, fmt.Errorf("%w dollar-quoted string starting at offset %d", ErrUnterminated, start)
				}
				kind = TokString
				i = j + 1 + end + len(tag)
				break
			}
			i++
		case isDigit(c) || (c == '.' && i+1 < len(sql) && isDigit(sql[i+1])):
			kind = TokNumber
			i = scanNumber(sql, i)
		case isIdentStart(c):
			kind = TokIdent
			for i < len(sql) && isIdentPart(sql[i]) {
				i++
			}
			value = strings.ToLower(sql[start:i])
		case c == ';':
			kind = TokSemicolon
			i++
		default:
			i++
		}
		toks = append(toks, Token{Kind: kind, Text: sql[start:i], Value: value, Pos: start, Space: space})
		space = false
	}
	return toks, nil
}

// scanQuoted scans a literal opened by q at sql[i]; a doubled q is an
// escaped q, and with backslash a backslash escapes the next byte. It
// returns the offset after the closing quote.
func scanQuoted(sql string, i int, q byte, backslash bool) (int, bool) {
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return 0, false
}

func scanNumber(sql string, i int) int {
	for i < len(sql) && (isDigit(sql[i]) || sql[i] == '_') {
		i++
	}
	if i < len(sql) && sql[i] == '.' {
		i++
		for i < len(sql) && isDigit(sql[i]) {
			i++
		}
	}
	if i < len(sql) && (sql[i] == 'e' || sql[i] == 'E') {
		j := i + 1
		if j < len(sql) && (sql[j] == '+' || sql[j] == '-') {
			j++
		}
		if j < len(sql) && isDigit(sql[j]) {
			i = j
			for i < len(sql) && isDigit(sql[i]) {
				i++
			}
		}
	}
	return i
}

func isSQLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '$' }

// queryKeywords start a query.
var queryKeywords = map[string]bool{"select": true, "with": true, "values": true, "table": true}

// CheckQuery reports whether sql is exactly one query: a SELECT, WITH,
// VALUES or TABLE statement (possibly parenthesized), optionally followed by
// one ';'. A ';' followed by anything but comments is a second statement.
// Semicolons inside literals, quoted identifiers, dollar quotes and comments
// do not count.
func CheckQuery(sql string) error {
	toks, err := LexSQL(sql)
	if err != nil {
		return err
	}
	code := toks[:0:0]
	for _, t := range toks {
		if t.Kind != TokComment {
			code = append(code, t)
		}
	}
	if len(code) == 0 {
		return errors.New("empty query")
	}
	for i, t := range code {
		if t.Kind == TokSemicolon {
			if i == 0 {
				return errors.New("empty statement before ';'")
			}
			if i < len(code)-1 {
				return fmt.Errorf("more than one statement (a second statement starts at offset %d)", code[i+1].Pos)
			}
		}
	}
	first := code[0]
	for _, t := range code {
		if t.Kind != TokPunct || t.Text != "(" {
			first = t
			break
		}
	}
	if first.Kind != TokIdent || !queryKeywords[first.Value] {
		return fmt.Errorf("not a query: starts with %q; a view is one SELECT, WITH, VALUES or TABLE query", clip(first.Text))
	}
	return nil
}

// CanonicalSQL returns sql with every run of whitespace outside literals,
// quoted identifiers and comments collapsed to one space, leading and
// trailing whitespace and a final ';' removed. Two queries that differ only
// in layout have the same canonical form. Input that does not lex is
// returned trimmed.
func CanonicalSQL(sql string) string {
	toks, err := LexSQL(sql)
	if err != nil {
		return strings.TrimSpace(sql)
	}
	// Drop the final ';' (comments after it are kept), unless another ';'
	// precedes it: dropping one of two would change the verdict of
	// CheckQuery and make the form depend on how often it is applied.
	if i := lastCode(toks, len(toks)); i >= 0 && toks[i].Kind == TokSemicolon {
		if j := lastCode(toks, i); j < 0 || toks[j].Kind != TokSemicolon {
			toks = append(toks[:i:i], toks[i+1:]...)
		}
	}
	var b strings.Builder
	b.Grow(len(sql))
	afterLineComment := false
	for i, t := range toks {
		switch {
		case afterLineComment:
			b.WriteByte('\n')
		case i > 0 && t.Space:
			b.WriteByte(' ')
		}
		b.WriteString(t.Text)
		afterLineComment = t.Kind == TokComment && strings.HasPrefix(t.Text, "--")
	}
	if afterLineComment {
		// A line comment must stay ended, whatever follows the query.
		b.WriteByte('\n')
	}
	return b.String()
}

// Relations returns the unqualified relation names a query reads: the names
// after FROM, JOIN and the commas of a FROM list, excluding names the query
// defines itself in WITH, table functions and schema-qualified names.
// Names are folded as Materialize folds them. The result is sorted and
// without duplicates. It is a lexical approximation that errs toward
// finding names, good for dependency order and for spotting unknown
// relations; it does not parse SQL.
func Relations(sql string) []string {
	toks, err := LexSQL(sql)
	if err != nil {
		return nil
	}
	code := make([]Token, 0, len(toks))
	for _, t := range toks {
		if t.Kind != TokComment {
			code = append(code, t)
		}
	}
	isPunct := func(i int, s string) bool {
		return i >= 0 && i < len(code) && code[i].Kind == TokPunct && code[i].Text == s
	}
	isKw := func(i int, s string) bool {
		return i >= 0 && i < len(code) && code[i].Kind == TokIdent && code[i].Value == s
	}
	name := func(t Token) (string, bool) {
		if t.Kind == TokIdent || t.Kind == TokQuotedIdent {
			return t.Value, true
		}
		return "", false
	}
	// CTE names: an identifier followed by AS [NOT] [MATERIALIZED] ( or by a
	// column list and AS.
	ctes := map[string]bool{}
	for i := range code {
		n, ok := name(code[i])
		if !ok {
			continue
		}
		j := i + 1
		if isPunct(j, "(") {
			depth := 0
			for ; j < len(code); j++ {
				if isPunct(j, "(") {
					depth++
				} else if isPunct(j, ")") {
					depth--
					if depth == 0 {
						j++
						break
					}
				}
			}
		}
		if !isKw(j, "as") {
			continue
		}
		j++
		if isKw(j, "not") {
			j++
		}
		if isKw(j, "materialized") {
			j++
		}
		if isPunct(j, "(") {
			ctes[n] = true
		}
	}
	// Per parenthesis level: whether it holds a SELECT (so FROM there is a
	// FROM clause, not EXTRACT(x FROM y)) and whether a FROM list is open.
	type level struct{ query, from bool }
	levels := []level{{query: true}}
	found := map[string]bool{}
	expect := false
	for i := 0; i < len(code); i++ {
		t := code[i]
		top := &levels[len(levels)-1]
		switch {
		case isPunct(i, "("):
			levels = append(levels, level{})
			expect = false
			continue
		case isPunct(i, ")"):
			if len(levels) > 1 {
				levels = levels[:len(levels)-1]
			}
			expect = false
			continue
		case t.Kind == TokIdent:
			switch t.Value {
			case "select", "values", "table":
				top.query = true
				if t.Value == "table" && !isPunct(i+1, "(") {
					expect = true
					continue
				}
			case "from":
				if top.query {
					top.from = true
					expect = true
					continue
				}
			case "join":
				expect = true
				continue
			case "lateral", "only":
				if expect {
					continue
				}
			case "where", "group", "having", "order", "limit", "offset", "union", "except",
				"intersect", "window", "fetch", "on", "using", "options":
				top.from = false
			}
		case isPunct(i, ",") && top.from:
			expect = true
			continue
		}
		if expect {
			expect = false
			n, ok := name(t)
			if !ok || isPunct(i+1, ".") || isPunct(i+1, "(") || ctes[n] {
				continue
			}
			found[n] = true
		}
	}
	out := make([]string, 0, len(found))
	for n := range found {
		out = append(out, n)
	}
	sortStrings(out)
	return out
}

// lastCode returns the index of the last non-comment token before end, or -1.
func lastCode(toks []Token, end int) int {
	for i := end - 1; i >= 0; i-- {
		if toks[i].Kind != TokComment {
			return i
		}
	}
	return -1
}
