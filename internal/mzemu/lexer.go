package mzemu

import (
	"strings"
)

// tokKind classifies a lexical token of a SQL statement.
type tokKind int

const (
	tokWord   tokKind = iota // unquoted identifier or keyword (folded to lower case in val)
	tokIdent                 // quoted identifier (val unescaped)
	tokString                // string literal (val unescaped)
	tokNumber                // numeric literal
	tokParam                 // $n
	tokOp                    // punctuation or operator (val as written)
)

// token is one lexical token with its byte span in the statement text.
type token struct {
	kind       tokKind
	val        string
	start, end int
}

// isWord reports whether t is the unquoted keyword w (lower case).
func (t token) isWord(w string) bool { return t.kind == tokWord && t.val == w }

// isOp reports whether t is the punctuation op.
func (t token) isOp(op string) bool { return t.kind == tokOp && t.val == op }

// name reports whether t can be an identifier, and its folded value.
func (t token) name() (string, bool) {
	if t.kind == tokWord || t.kind == tokIdent {
		return t.val, true
	}
	return "", false
}

// lex splits one statement into tokens, skipping comments and whitespace.
// It never fails: an unterminated literal runs to the end of the text.
func lex(s string) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			i = skipBlockComment(s, i)
		case c == '\'' || ((c == 'e' || c == 'E') && i+1 < len(s) && s[i+1] == '\''):
			start := i
			esc := c != '\''
			if esc {
				i++
			}
			val, n := scanString(s, i, esc)
			i = n
			toks = append(toks, token{kind: tokString, val: val, start: start, end: i})
		case c == '"':
			start := i
			var b strings.Builder
			i++
			for i < len(s) {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{kind: tokIdent, val: b.String(), start: start, end: i})
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			start := i
			i++
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			toks = append(toks, token{kind: tokParam, val: s[start:i], start: start, end: i})
		case c == '$':
			if tag, ok := dollarTag(s, i); ok {
				start := i
				end := strings.Index(s[i+len(tag):], tag)
				if end < 0 {
					i = len(s)
				} else {
					i = i + len(tag) + end + len(tag)
				}
				body := s[start:i]
				val := ""
				if len(body) >= 2*len(tag) {
					val = body[len(tag) : len(body)-len(tag)]
				}
				toks = append(toks, token{kind: tokString, val: val, start: start, end: i})
			} else {
				toks = append(toks, token{kind: tokOp, val: "$", start: i, end: i + 1})
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(s) && isIdentPart(s[i]) {
				i++
			}
			toks = append(toks, token{kind: tokWord, val: strings.ToLower(s[start:i]), start: start, end: i})
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			start := i
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == 'e' || s[i] == 'E') {
				i++
			}
			toks = append(toks, token{kind: tokNumber, val: s[start:i], start: start, end: i})
		default:
			start := i
			// Two-character operators that matter for splitting and parsing.
			if i+1 < len(s) {
				two := s[i : i+2]
				if two == "::" || two == "<>" || two == "!=" || two == ">=" || two == "<=" || two == "=>" || two == "||" {
					toks = append(toks, token{kind: tokOp, val: two, start: start, end: i + 2})
					i += 2
					continue
				}
			}
			toks = append(toks, token{kind: tokOp, val: string(c), start: start, end: i + 1})
			i++
		}
	}
	return toks
}

func skipBlockComment(s string, i int) int {
	depth := 0
	for i < len(s) {
		if s[i] == '/' && i+1 < len(s) && s[i+1] == '*' {
			depth++
			i += 2
			continue
		}
		if s[i] == '*' && i+1 < len(s) && s[i+1] == '/' {
			depth--
			i += 2
			if depth == 0 {
				return i
			}
			continue
		}
		i++
	}
	return i
}

// scanString scans a quoted literal starting at the opening quote s[i].
func scanString(s string, i int, esc bool) (string, int) {
	var b strings.Builder
	i++
	for i < len(s) {
		c := s[i]
		if c == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			return b.String(), i + 1
		}
		if esc && c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i+1])
			}
			i += 2
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i
}

func dollarTag(s string, i int) (string, bool) {
	j := i + 1
	for j < len(s) && s[j] != '$' && isIdentPart(s[j]) && !(j == i+1 && s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j < len(s) && s[j] == '$' {
		return s[i : j+1], true
	}
	return "", false
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

// splitStatements splits a query string into statements at top-level
// semicolons, dropping empty ones. Quotes, quoted identifiers, dollar quoting
// and comments are respected.
func splitStatements(s string) []string {
	var out []string
	toks := lex(s)
	start := 0
	depth := 0
	for _, t := range toks {
		switch {
		case t.isOp("("):
			depth++
		case t.isOp(")"):
			if depth > 0 {
				depth--
			}
		case t.isOp(";") && depth == 0:
			if st := strings.TrimSpace(s[start:t.start]); hasTokens(st) {
				out = append(out, st)
			}
			start = t.end
		}
	}
	if st := strings.TrimSpace(s[start:]); hasTokens(st) {
		out = append(out, st)
	}
	return out
}

func hasTokens(s string) bool { return len(lex(s)) > 0 }
