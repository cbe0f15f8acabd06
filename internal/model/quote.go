package model

import "strings"

// QuoteIdent quotes an identifier for Materialize SQL. Identifiers are
// always quoted, whatever they contain, so nothing from a manifest can
// change the meaning of a statement.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QuoteLiteral quotes a string literal for Materialize SQL.
func QuoteLiteral(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}

// QuoteIdents quotes each identifier and joins them with ", ".
func QuoteIdents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}
