package model

import (
	"strings"
	"testing"
)

// FuzzQuote checks that a quoted identifier or literal always reads back
// as exactly its input and can never end early: whatever a manifest holds,
// it stays one token of the statement.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"t", `a"b`, `x"; DROP SCHEMA app CASCADE; --`, "it's", "", `""`, "'';"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, q := range []struct {
			quoted string
			mark   byte
		}{{QuoteIdent(s), '"'}, {QuoteLiteral(s), '\''}} {
			body, ok := unquote(q.quoted, q.mark)
			if !ok {
				t.Fatalf("%q: the quoted form %q ends before its last character", s, q.quoted)
			}
			if body != s {
				t.Fatalf("%q reads back as %q", s, body)
			}
		}
	})
}

// unquote reads a token quoted with mark as a SQL lexer would: doubled
// marks stand for one; a lone mark ends the token. ok is false when the
// token ends before the end of the string.
func unquote(q string, mark byte) (string, bool) {
	if len(q) < 2 || q[0] != mark || q[len(q)-1] != mark {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(q)-1; i++ {
		if q[i] == mark {
			if i+1 < len(q)-1 && q[i+1] == mark {
				b.WriteByte(mark)
				i++
				continue
			}
			return "", false
		}
		b.WriteByte(q[i])
	}
	return b.String(), true
}
