package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCheckQuery(t *testing.T) {
	cases := []struct {
		name, sql string
		wantErr   string // substring; "" means valid
	}{
		{"select", "SELECT 1", ""},
		{"trailing semicolon", "SELECT 1;", ""},
		{"trailing semicolon and comment", "SELECT 1; -- done\n/* bye */", ""},
		{"with", "WITH x AS (SELECT 1) SELECT * FROM x", ""},
		{"values", "VALUES (1), (2)", ""},
		{"table", "TABLE t", ""},
		{"parenthesized", "(SELECT 1) UNION (SELECT 2)", ""},
		{"lower case", "select 1", ""},
		{"leading comment", "-- the total\nSELECT 1", ""},
		{"semicolon in literal", "SELECT ';' AS s", ""},
		{"semicolon in escaped literal", `SELECT E'\'; DROP' AS s`, ""},
		{"doubled quote in literal", "SELECT 'it''s; fine'", ""},
		{"semicolon in quoted identifier", `SELECT 1 AS "a;b"`, ""},
		{"semicolon in dollar quote", "SELECT $$; DROP TABLE t$$", ""},
		{"semicolon in tagged dollar quote", "SELECT $x$ $$; $x$", ""},
		{"semicolon in line comment", "SELECT 1 -- ; DROP t\n", ""},
		{"semicolon in block comment", "SELECT /* ; DROP t */ 1", ""},
		{"semicolon in nested block comment", "SELECT /* a /* ; */ ; */ 1", ""},
		{"second statement", "SELECT 1; DROP TABLE t", "more than one statement"},
		{"second statement after literal", "SELECT 'x'; SELECT 2", "more than one statement"},
		{"second statement after comment", "SELECT 1 /* c */; DROP t", "more than one statement"},
		{"two semicolons", "SELECT 1;;", "more than one statement"},
		{"empty", "  ", "empty query"},
		{"only comment", "-- nothing", "empty query"},
		{"only semicolon", ";", "empty statement"},
		{"DDL", "DROP TABLE t", "not a query"},
		{"DML", "INSERT INTO t VALUES (1)", "not a query"},
		{"unterminated literal", "SELECT 'abc", "unterminated string literal"},
		{"unterminated quoted identifier", `SELECT "abc`, "unterminated quoted identifier"},
		{"unterminated comment", "SELECT 1 /* x", "unterminated block comment"},
		{"unterminated dollar quote", "SELECT $a$ x", "unterminated dollar-quoted string"},
		{"backslash ends E literal only when escaped", `SELECT E'a\\'; DROP t`, "more than one statement"},
		{"plain literal backslash is literal", `SELECT 'a\'; DROP t`, "more than one statement"},
		{"parameter is not a dollar quote", "SELECT $1; DROP t", "more than one statement"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckQuery(tc.sql)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CheckQuery(%q) = %v, want nil", tc.sql, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("CheckQuery(%q) = %v, want %q", tc.sql, err, tc.wantErr)
			}
		})
	}
	if err := CheckQuery("SELECT 'x"); !errors.Is(err, ErrUnterminated) {
		t.Errorf("unterminated literal: %v is not ErrUnterminated", err)
	}
}

func TestCanonicalSQL(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"collapses whitespace", "SELECT  a,\n\t b\r\nFROM   t", "SELECT a, b FROM t"},
		{"keeps adjacency", "SELECT sum(a)FROM t", "SELECT sum(a)FROM t"},
		{"trims and drops final semicolon", "\n  SELECT 1 ;\n", "SELECT 1"},
		{"keeps literal whitespace", "SELECT 'a   b'  ,  \"x  y\"", `SELECT 'a   b' , "x  y"`},
		{"keeps dollar quote whitespace", "SELECT $$a\n\n b$$", "SELECT $$a\n\n b$$"},
		{"keeps block comment", "SELECT /* a   b */ 1", "SELECT /* a   b */ 1"},
		{"line comment keeps its newline", "SELECT 1 -- one\n  + 2", "SELECT 1 -- one\n+ 2"},
		{"final line comment stays ended", "SELECT 1 -- end", "SELECT 1 -- end\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanonicalSQL(tc.in); got != tc.want {
				t.Errorf("CanonicalSQL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRelations(t *testing.T) {
	cases := []struct {
		name, sql string
		want      []string
	}{
		{"from", "SELECT sum(a) AS total FROM t WHERE b", []string{"t"}},
		{"join and comma list", "SELECT * FROM a x, b JOIN c ON true LEFT JOIN d USING (k)", []string{"a", "b", "c", "d"}},
		{"qualified names are not version objects", "SELECT * FROM other.t JOIN mz_catalog.mz_tables ON true", nil},
		{"cte names are not relations", "WITH w AS (SELECT * FROM t), v (x) AS (SELECT 1) SELECT * FROM w, v", []string{"t"}},
		{"materialized cte", "WITH w AS MATERIALIZED (SELECT 1) SELECT * FROM w", nil},
		{"subquery", "SELECT * FROM (SELECT * FROM inner_t) s WHERE x IN (SELECT y FROM u)", []string{"inner_t", "u"}},
		{"extract is not a from clause", "SELECT extract(year FROM ts), substring(s FROM 2) FROM t", []string{"t"}},
		{"table function", "SELECT * FROM generate_series(1, 3)", nil},
		{"lateral", "SELECT * FROM t, LATERAL (SELECT 1) l JOIN LATERAL f(t.a) ON true", []string{"t"}},
		{"quoted names keep case", `SELECT * FROM "T" JOIN "t" ON true`, []string{"T", "t"}},
		{"unquoted names fold", "SELECT * FROM MatView", []string{"matview"}},
		{"table statement", "TABLE t", []string{"t"}},
		{"names in literals and comments are not read", "SELECT 'FROM x' /* FROM y */ -- FROM z\n FROM t", []string{"t"}},
		{"union", "SELECT a FROM x UNION ALL SELECT a FROM y ORDER BY 1", []string{"x", "y"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Relations(tc.sql)
			if diff := cmp.Diff(tc.want, got, cmpEmpty); diff != "" {
				t.Errorf("Relations(%q) (-want +got):\n%s", tc.sql, diff)
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal([]string(a), []string(b))
})

// FuzzCheckQuery: the lexer never panics; canonicalization is idempotent,
// keeps the verdict of CheckQuery and every non-space byte of the tokens.
func FuzzCheckQuery(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "SELECT ';' ; DROP t", `SELECT E'\';' AS x`, "SELECT $a$;$a$", "SELECT /* /* */ */ 1",
		"SELECT 1 -- c", `SELECT "a""b"`, "WITH x AS (SELECT 1) SELECT * FROM x", "SELECT $1", "SELECT 1e10, .5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		verdict := CheckQuery(sql)
		_ = Relations(sql)
		c := CanonicalSQL(sql)
		if c2 := CanonicalSQL(c); c2 != c {
			t.Fatalf("CanonicalSQL not idempotent: %q -> %q -> %q", sql, c, c2)
		}
		toks, err := LexSQL(sql)
		if err != nil {
			return
		}
		if (verdict == nil) != (CheckQuery(c) == nil) {
			t.Fatalf("CheckQuery(%q) = %v but CheckQuery(canonical %q) = %v", sql, verdict, c, CheckQuery(c))
		}
		ctoks, err := LexSQL(c)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not lex: %v", c, sql, err)
		}
		var a, b []string
		for _, tk := range toks {
			a = append(a, tk.Text)
		}
		for _, tk := range ctoks {
			b = append(b, tk.Text)
		}
		// Only a final semicolon may go.
		if len(a) == len(b)+1 {
			for i := len(a) - 1; i >= 0; i-- {
				if a[i] == ";" {
					a = append(a[:i:i], a[i+1:]...)
					break
				}
			}
		}
		if diff := cmp.Diff(a, b, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("canonicalization changed tokens of %q -> %q:\n%s", sql, c, diff)
		}
	})
}
