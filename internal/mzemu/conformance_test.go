package mzemu_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// TestConformance runs the conformance suite: testdata/conformance/*.slt,
// each file against a fresh mzemu and upstream database. The format is
// described in testdata/conformance/README.md.
func TestConformance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "conformance", "*.slt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no conformance files")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".slt"), func(t *testing.T) {
			t.Parallel()
			runSLT(t, f)
		})
	}
}

// sltBlock is one block of a conformance file.
type sltBlock struct {
	line   int
	kind   string // statement, query, upstream, connection
	args   string // the rest of the header line
	sql    string
	params []sltParam
	want   []string // query: expected rows
}

type sltParam struct {
	binary bool
	typ    string
	value  *string // nil: NULL
}

func parseSLT(t *testing.T, path string) []sltBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out []sltBlock
	for i := 0; i < len(lines); {
		l := strings.TrimRight(lines[i], " \t\r")
		if l == "" || strings.HasPrefix(l, "#") {
			i++
			continue
		}
		blk := sltBlock{line: i + 1}
		blk.kind, blk.args, _ = strings.Cut(l, " ")
		i++
		switch blk.kind {
		case "connection", "options", "restart":
			out = append(out, blk)
			continue
		case "statement", "query", "upstream":
		default:
			t.Fatalf("%s:%d: unknown block %q", path, blk.line, blk.kind)
		}
		var sql []string
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != "" && strings.TrimSpace(lines[i]) != "----"; i++ {
			l := strings.TrimRight(lines[i], "\r")
			if p, ok := strings.CutPrefix(l, "params "); ok {
				blk.params = append(blk.params, parseParam(t, path, i+1, p))
				continue
			}
			sql = append(sql, l)
		}
		blk.sql = strings.Join(sql, "\n")
		if i < len(lines) && strings.TrimSpace(lines[i]) == "----" {
			i++
			for ; i < len(lines) && strings.TrimRight(lines[i], "\r") != ""; i++ {
				blk.want = append(blk.want, strings.TrimRight(lines[i], "\r"))
			}
		}
		out = append(out, blk)
	}
	return out
}

// parseParam parses "params binary|text TYPE VALUE|NULL".
func parseParam(t *testing.T, path string, line int, s string) sltParam {
	f := strings.SplitN(s, " ", 3)
	if len(f) != 3 || (f[0] != "binary" && f[0] != "text") {
		t.Fatalf("%s:%d: want params binary|text TYPE VALUE", path, line)
	}
	p := sltParam{binary: f[0] == "binary", typ: f[1]}
	if f[2] != "NULL" {
		v := f[2]
		p.value = &v
	}
	return p
}

var reSQLState = regexp.MustCompile(`^[0-9A-Z]{5}$`)

func runSLT(t *testing.T, path string) {
	blocks := parseSLT(t, path)
	var opts []func(*mzemu.Options)
	for _, b := range blocks {
		if b.kind != "options" {
			continue
		}
		for _, o := range strings.Fields(b.args) {
			switch o {
			case "lag_bucket=manual":
				opts = append(opts, func(o *mzemu.Options) { o.LagBucket = -1 })
			default:
				t.Fatalf("%s:%d: unknown option %q", path, b.line, o)
			}
		}
	}
	env := mzemutest.New(t, opts...)
	u, err := url.Parse(env.UpstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$UPSTREAM_HOST", u.Hostname(), "$UPSTREAM_PORT", u.Port(),
		"$UPSTREAM_USER", u.User.Username(), "$UPSTREAM_DB", strings.TrimPrefix(u.Path, "/"))
	conns := map[string]*pgx.Conn{}
	mzURL := env.MaterializeURL
	secondURL := "" // a second mzemu over the same backing database
	open := func(name, user string, second bool) *pgx.Conn {
		if c := conns[name]; c != nil {
			return c
		}
		u := mzURL
		if second {
			if secondURL == "" {
				o := mzemu.Options{BackingURL: env.BackingURL, RevalidateInterval: -1, LagBucket: -1}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				srv, err := mzemu.Start(ctx, o)
				cancel()
				if err != nil {
					t.Fatalf("start a second mzemu: %v", err)
				}
				t.Cleanup(func() { srv.Close() })
				secondURL = srv.URL()
			}
			u = secondURL
		}
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			cfg.User = user
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("connect %s as %q: %v", name, user, err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		conns[name] = c
		return c
	}
	cur := open("default", "", false)
	var up *pgx.Conn
	for _, b := range blocks {
		where := fmt.Sprintf("%s:%d", path, b.line)
		sql := vars.Replace(b.sql)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		switch b.kind {
		case "options":
		case "restart":
			// Stop mzemu, optionally fail a start with a transient error
			// at a startup step, then start it again over the same
			// backing database; sessions reconnect.
			for name, c := range conns {
				c.Close(ctx)
				delete(conns, name)
			}
			if err := env.Server.Close(); err != nil {
				t.Fatalf("%s: close mzemu: %v", where, err)
			}
			o := mzemu.Options{BackingURL: env.BackingURL, RevalidateInterval: -1, LagBucket: 200 * time.Millisecond}
			for _, f := range opts {
				f(&o)
			}
			if step, ok := strings.CutPrefix(strings.TrimSpace(b.args), "fail="); ok {
				transient := &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
				restore := mzemu.SetStartupFault(func(u, s string) error {
					if u == env.BackingURL && s == step {
						return transient
					}
					return nil
				})
				srv, err := mzemu.Start(ctx, o)
				restore()
				if err == nil {
					srv.Close()
					t.Fatalf("%s: start with a transient error at %s succeeded", where, step)
				}
				if !errors.Is(err, transient) {
					t.Fatalf("%s: start with a transient error at %s: %v", where, step, err)
				}
			} else if b.args != "" {
				t.Fatalf("%s: want restart [fail=STEP]", where)
			}
			srv, err := mzemu.Start(ctx, o)
			if err != nil {
				t.Fatalf("%s: restart mzemu: %v", where, err)
			}
			t.Cleanup(func() { srv.Close() })
			env.Server, mzURL = srv, srv.URL()
			cur = open("default", "", false)
		case "connection":
			f := strings.Fields(b.args)
			user, second := "", false
			for _, o := range f[1:] {
				switch {
				case strings.HasPrefix(o, "user="):
					user = strings.TrimPrefix(o, "user=")
				case o == "server=second":
					second = true
				default:
					t.Fatalf("%s: unknown connection option %q", where, o)
				}
			}
			cur = open(f[0], user, second)
		case "upstream":
			if up == nil {
				c, err := pgx.Connect(ctx, env.UpstreamURL)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close(context.Background()) })
				up = c
			}
			if _, err := up.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
				t.Errorf("%s: upstream: %v", where, err)
			}
		case "statement", "query":
			rows, err := runSLTSQL(ctx, cur, sql, b.params)
			header := strings.Fields(b.args)
			if len(header) > 0 && header[0] == "error" {
				checkSLTError(t, where, sql, err, strings.TrimSpace(strings.TrimPrefix(b.args, "error")))
				break
			}
			if err != nil {
				t.Errorf("%s: %s\nunexpected error: %v", where, sql, err)
				break
			}
			if b.kind == "statement" {
				if len(header) == 0 || header[0] != "ok" {
					t.Fatalf("%s: want statement ok or statement error", where)
				}
				break
			}
			if slices.Contains(header, "rowsort") {
				slices.Sort(rows)
			}
			want := b.want
			if want == nil {
				want = []string{}
			}
			if rows == nil {
				rows = []string{}
			}
			if !slices.Equal(want, rows) {
				t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", where, sql, strings.Join(rows, "\n"), strings.Join(want, "\n"))
			}
		}
		cancel()
	}
}

// checkSLTError checks err against "SQLSTATE substring" (either may be
// omitted).
func checkSLTError(t *testing.T, where, sql string, err error, spec string) {
	t.Helper()
	code, msg := "", spec
	if f := strings.SplitN(spec, " ", 2); reSQLState.MatchString(f[0]) {
		code, msg = f[0], ""
		if len(f) == 2 {
			msg = f[1]
		}
	}
	if err == nil {
		t.Errorf("%s: %s\nsucceeded, want error %s", where, sql, spec)
		return
	}
	if spec == "" {
		return
	}
	pe, ok := err.(*pgconn.PgError)
	if !ok {
		t.Errorf("%s: %s\nerror %v is not a server error, want %s", where, sql, err, spec)
		return
	}
	if (code != "" && pe.Code != code) || !strings.Contains(pe.Message, msg) {
		t.Errorf("%s: %s\nerror %s %q, want %s", where, sql, pe.Code, pe.Message, spec)
	}
}

// runSLTSQL runs sql (simple protocol; with params, one extended-protocol
// statement) and renders the rows of its last result.
func runSLTSQL(ctx context.Context, c *pgx.Conn, sql string, params []sltParam) ([]string, error) {
	var res []*pgconn.Result
	if len(params) == 0 {
		r, err := c.PgConn().Exec(ctx, sql).ReadAll()
		if err != nil {
			return nil, err
		}
		res = r
	} else {
		vals := make([][]byte, len(params))
		oids := make([]uint32, len(params))
		formats := make([]int16, len(params))
		m := c.TypeMap()
		for i, p := range params {
			typ, ok := m.TypeForName(p.typ)
			if !ok {
				return nil, fmt.Errorf("unknown parameter type %q", p.typ)
			}
			oids[i] = typ.OID
			if p.value == nil {
				continue
			}
			if !p.binary {
				vals[i] = []byte(*p.value)
				continue
			}
			// Decode the text form, then encode it in binary.
			var v any
			if err := m.Scan(typ.OID, pgtype.TextFormatCode, []byte(*p.value), &v); err != nil {
				return nil, fmt.Errorf("parameter %d: %w", i+1, err)
			}
			b, err := m.Encode(typ.OID, pgtype.BinaryFormatCode, v, nil)
			if err != nil {
				return nil, fmt.Errorf("parameter %d: %w", i+1, err)
			}
			vals[i], formats[i] = b, pgtype.BinaryFormatCode
		}
		r := c.PgConn().ExecParams(ctx, sql, vals, oids, formats, nil).Read()
		if r.Err != nil {
			return nil, r.Err
		}
		res = []*pgconn.Result{r}
	}
	var last *pgconn.Result
	for _, r := range res {
		if r.FieldDescriptions != nil {
			last = r
		}
	}
	if last == nil {
		return nil, nil
	}
	out := make([]string, 0, len(last.Rows))
	for _, row := range last.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			if v == nil {
				cells[i] = "NULL"
			} else {
				cells[i] = string(v)
			}
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out, nil
}
