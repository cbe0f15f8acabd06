package observed

import (
	"slices"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// tableOptions is what the stored CREATE TABLE ... FROM SOURCE statement
// says about a source-fed table beyond the catalog columns.
type tableOptions struct {
	// Reference is the upstream table from REFERENCE [=] [db.]schema.table;
	// empty when the statement has none.
	Reference      model.UpstreamRef
	TextColumns    []string
	ExcludeColumns []string
	// Keys are the PRIMARY KEY and UNIQUE constraints of the purified
	// column definitions, each a sorted column list, sorted.
	Keys [][]string
	// Details is the DETAILS option's value (hex), "" when absent.
	Details string
}

// parseTableFromSource reads REFERENCE, TEXT COLUMNS and EXCLUDE COLUMNS
// (or its old alias IGNORE COLUMNS) out of a stored CREATE TABLE ... FROM
// SOURCE statement, e.g.
//
//	CREATE TABLE materialize.app_v2.t (a pg_catalog.int4 NOT NULL, ...)
//	  FROM SOURCE materialize.public.pg (REFERENCE = postgres.public.t)
//	  WITH (TEXT COLUMNS = (a), EXCLUDE COLUMNS = (b), DETAILS = '...')
//
// It tokenizes the statement, so string literals, quoted identifiers and
// column definitions never match by accident. Column lists come back
// sorted; unknown options are skipped.
func parseTableFromSource(createSQL string) tableOptions {
	var out tableOptions
	toks := tokenize(createSQL)
	// Everything of interest follows FROM SOURCE at the top level.
	start := -1
	depth := 0
	for i, t := range toks {
		switch {
		case t.punct('('):
			depth++
		case t.punct(')'):
			depth--
		case depth == 0 && t.word("FROM") && i+1 < len(toks) && toks[i+1].word("SOURCE"):
			start = i + 2
		}
	}
	if start < 0 {
		return out
	}
	out.Keys = parseKeys(toks[:start])
	depth = 0
	for i := start; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.punct('('):
			depth++
			// Option lists: "<source> (REFERENCE ...)" and "WITH (...)".
			if depth == 1 {
				i = parseOptionList(toks, i+1, &out)
				depth = 0
			}
		case t.punct(')'):
			depth--
		}
	}
	out.TextColumns = sortedUnique(out.TextColumns)
	out.ExcludeColumns = sortedUnique(out.ExcludeColumns)
	return out
}

// parseKeys finds "PRIMARY KEY (cols)" and "UNIQUE (cols)" inside the
// first parenthesised list (the column definitions Materialize fills in).
func parseKeys(toks []token) [][]string {
	var keys [][]string
	depth := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.punct('('):
			depth++
		case t.punct(')'):
			depth--
		case depth == 1 && (t.word("UNIQUE") || t.word("PRIMARY") && i+1 < len(toks) && toks[i+1].word("KEY")):
			j := i + 1
			if t.word("PRIMARY") {
				j++
			}
			if j < len(toks) && toks[j].punct('(') {
				cols, end := parseNameList(toks, j+1)
				slices.Sort(cols)
				if len(cols) > 0 {
					keys = append(keys, cols)
				}
				i = end
			}
		}
	}
	slices.SortFunc(keys, slices.Compare[[]string])
	return keys
}

// parseOptionList reads "name [=] value, ..." up to the closing paren of
// the list that opened before i and returns the index of that paren.
func parseOptionList(toks []token, i int, out *tableOptions) int {
	for i < len(toks) {
		// The option name is the run of words before '=', '(', ',' or ')'.
		var name []string
		for i < len(toks) && toks[i].kind == tokWord {
			name = append(name, strings.ToUpper(toks[i].text))
			i++
			if len(name) == 1 && name[0] == "REFERENCE" {
				break // its value may be an unquoted name
			}
		}
		if i < len(toks) && toks[i].punct('=') {
			i++
		}
		key := strings.Join(name, " ")
		switch key {
		case "TEXT COLUMNS", "EXCLUDE COLUMNS", "IGNORE COLUMNS":
			var cols []string
			if i < len(toks) && toks[i].punct('(') {
				cols, i = parseNameList(toks, i+1)
				i++ // past the list's closing paren
			}
			if key == "TEXT COLUMNS" {
				out.TextColumns = append(out.TextColumns, cols...)
			} else {
				out.ExcludeColumns = append(out.ExcludeColumns, cols...)
			}
		case "DETAILS":
			if i < len(toks) && toks[i].kind == tokString {
				out.Details = toks[i].text
			}
		case "REFERENCE":
			var parts []string
			parts, i = parseQualifiedName(toks, i)
			switch n := len(parts); {
			case n >= 2:
				out.Reference = model.UpstreamRef{Schema: parts[n-2], Table: parts[n-1]}
			case n == 1:
				out.Reference = model.UpstreamRef{Table: parts[0]}
			}
		}
		// Skip the rest of this option's value, nested parens included.
		depth := 0
		for ; i < len(toks); i++ {
			t := toks[i]
			if t.punct('(') {
				depth++
			} else if t.punct(')') {
				if depth == 0 {
					return i
				}
				depth--
			} else if t.punct(',') && depth == 0 {
				i++
				break
			}
		}
	}
	return i
}

// parseNameList reads "a, "B", c.d)" starting after the opening paren and
// returns the last part of each name and the index of the closing paren.
func parseNameList(toks []token, i int) ([]string, int) {
	var names []string
	for i < len(toks) && !toks[i].punct(')') {
		var parts []string
		parts, i = parseQualifiedName(toks, i)
		if len(parts) > 0 {
			names = append(names, parts[len(parts)-1])
		}
		if i < len(toks) && toks[i].punct(',') {
			i++
		} else if len(parts) == 0 {
			i++ // not a name: skip it rather than loop
		}
	}
	return names, i
}

// parseQualifiedName reads a.b."c" starting at i.
func parseQualifiedName(toks []token, i int) ([]string, int) {
	var parts []string
	for i < len(toks) {
		t := toks[i]
		switch t.kind {
		case tokWord:
			parts = append(parts, strings.ToLower(t.text))
		case tokQuoted:
			parts = append(parts, t.text)
		default:
			return parts, i
		}
		i++
		if i < len(toks) && toks[i].punct('.') {
			i++
			continue
		}
		return parts, i
	}
	return parts, i
}

type tokKind int

const (
	tokWord   tokKind = iota // unquoted identifier or keyword
	tokQuoted                // "quoted identifier", unescaped
	tokString                // 'literal'
	tokPunct
	tokOther // numbers and operators
)

type token struct {
	kind tokKind
	text string
}

func (t token) punct(c byte) bool { return t.kind == tokPunct && t.text[0] == c }
func (t token) word(w string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, w)
}

// tokenize splits SQL into the tokens the parser above needs. It knows
// quoted identifiers, string literals (including E'...' escapes), and
// comments; everything else is a word, a punctuation mark or "other".
func tokenize(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += end + 4
		case c == '"':
			text, n := readQuoted(s[i:], '"', false)
			toks = append(toks, token{tokQuoted, text})
			i += n
		case c == '\'':
			text, n := readQuoted(s[i:], '\'', false)
			toks = append(toks, token{tokString, text})
			i += n
		case (c == 'E' || c == 'e') && i+1 < len(s) && s[i+1] == '\'':
			text, n := readQuoted(s[i+1:], '\'', true)
			toks = append(toks, token{tokString, text})
			i += n + 1
		case c == '(' || c == ')' || c == ',' || c == '.' || c == '=' || c == ';':
			toks = append(toks, token{tokPunct, string(c)})
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentPart(s[j]) {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j]})
			i = j
		default:
			toks = append(toks, token{tokOther, string(c)})
			i++
		}
	}
	return toks
}

// readQuoted reads a quoted token starting at s[0] == q, where a doubled
// quote stands for one; with backslash, \x escapes the next byte. It
// returns the unquoted text and the bytes consumed (to the end of s when
// unterminated).
func readQuoted(s string, q byte, backslash bool) (string, int) {
	var b strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case backslash && c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i += 2
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i += 2
		case c == q:
			return b.String(), i + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	slices.Sort(out)
	j := 0
	for i := range out {
		if i == 0 || out[i] != out[j-1] {
			out[j] = out[i]
			j++
		}
	}
	return out[:j]
}
