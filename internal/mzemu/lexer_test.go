package mzemu

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"plain", "SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"empty statements dropped", " ; ;SELECT 1;;", []string{"SELECT 1"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 2", []string{"SELECT 'a;b'", "SELECT 2"}},
		{"semicolon in quoted identifier", `SELECT 1 AS "x;y"`, []string{`SELECT 1 AS "x;y"`}},
		{"dollar quoting", "SELECT $f$ ; $f$; SELECT $$;$$", []string{"SELECT $f$ ; $f$", "SELECT $$;$$"}},
		{"comments", "SELECT 1 -- ; not here\n; /* ; */ SELECT 2", []string{"SELECT 1 -- ; not here", "/* ; */ SELECT 2"}},
		{"only comments", "-- nothing\n/* at all */", nil},
		{"escape string", `SELECT E'\';'; SELECT 2`, []string{`SELECT E'\';'`, "SELECT 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, splitStatements(tc.in)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestStripDatabase(t *testing.T) {
	cases := map[string]string{
		"SELECT * FROM materialize.public.t":            "SELECT * FROM public.t",
		`SELECT * FROM "materialize"."v1"."T"`:          `SELECT * FROM "v1"."T"`,
		"SELECT materialize.x FROM materialize":         "SELECT materialize.x FROM materialize",
		"SELECT 'materialize.public.t'":                 "SELECT 'materialize.public.t'",
		"SELECT a.materialize.b.c FROM materialize.s.t": "SELECT a.materialize.b.c FROM s.t",
	}
	for in, want := range cases {
		if got := stripDatabase(in); got != want {
			t.Errorf("stripDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"SAVEPOINT x":                  `Expected a keyword at the beginning of a statement, found identifier "savepoint"`,
		"ALTER SCHEMA a SWAP WITH b.c": "Expected end of statement, found dot",
		"CREATE SCHEMA":                "Expected identifier, found EOF",
		"COMMENT ON TABLE t IS 5":      "Expected string literal or NULL",
		"CREATE SOURCE s FROM POSTGRES CONNECTION c (PUBLICATION 'p') FOR ALL TABLES": "legacy",
	}
	for in, want := range cases {
		st := parseStatement(in)
		if st.err == nil || !strings.Contains(st.err.Error(), want) {
			t.Errorf("parseStatement(%q) error = %v, want %q", in, st.err, want)
		}
	}
}

// FuzzParse checks that no input makes the lexer, splitter or parser panic
// and that splitting never loses a non-space token.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 'x'", "CREATE TABLE t FROM SOURCE s (REFERENCE a.b) WITH (TEXT COLUMNS (c))", "$a$ $", `"a""b"`, "/* /* */", "E'\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		for _, st := range splitStatements(s) {
			parseStatement(st)
			n += len(lex(st))
		}
		if n > len(lex(s)) {
			t.Errorf("split produced more tokens (%d) than the input has (%d)", n, len(lex(s)))
		}
	})
}
