package observed

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

func TestParseTextArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`{}`, []string{}},
		{`{a}`, []string{"a"}},
		{`{a,b_2,c}`, []string{"a", "b_2", "c"}},
		{`{"Mixed Case","a,b","q\"t","back\\slash",""}`, []string{"Mixed Case", "a,b", `q"t`, `back\slash`, ""}},
		{`{"NULL",x}`, []string{"NULL", "x"}},
	} {
		got, err := parseTextArray(tc.in)
		if err != nil {
			t.Errorf("parseTextArray(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseTextArray(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, bad := range []string{``, `a,b`, `{a,NULL}`, `{"open}`, `{{a},{b}}`, `{"a"b}`} {
		if got, err := parseTextArray(bad); err == nil {
			t.Errorf("parseTextArray(%q) = %q, want an error", bad, got)
		}
	}
}

// TestRefreshReferences: the fallback refreshes Materialize's list of
// the publication and reads it back, column names exact however they are
// spelled (they travel as text, never as a binary array); a role that
// does not own the source is refused, and the error says so.
func TestRefreshReferences(t *testing.T) {
	env := mzemutest.New(t)
	env.UpstreamExec(
		`CREATE TABLE public.t (a int, "Mixed Case" text, "a,b" text, "q""t" int)`,
		`ALTER TABLE public.t REPLICA IDENTITY FULL`,
		`CREATE PUBLICATION mz_source FOR TABLE public.t`,
	)
	env.MaterializeExec(env.ConnectionSQL("pg_conn"),
		`CREATE SOURCE "public"."pg" FROM POSTGRES CONNECTION "public"."pg_conn" (PUBLICATION 'mz_source')`,
		`CREATE ROLE reader`)
	conn := connectMZ(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs, err := Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Sources) != 1 {
		t.Fatalf("sources %+v", obs.Sources)
	}
	src := obs.Sources[0]
	ref := model.UpstreamRef{Schema: "public", Table: "t"}
	before, err := ReadReferences(ctx, MaterializeQuerier{Q: conn}, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]model.SourceReference{{Ref: ref, Columns: []string{"a", "Mixed Case", "a,b", `q"t`}}}, before,
		cmpIgnoreUpdatedAt); diff != "" {
		t.Fatalf("references at CREATE SOURCE (-want +got):\n%s", diff)
	}

	env.UpstreamExec(`ALTER TABLE public.t ADD COLUMN "new col" int`, `CREATE TABLE public.u (x int)`,
		`ALTER TABLE public.u REPLICA IDENTITY FULL`, `ALTER PUBLICATION mz_source ADD TABLE public.u`)
	got, err := RefreshReferences(ctx, MaterializeQuerier{Q: conn}, src)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.SourceReference{
		{Ref: ref, Columns: []string{"a", "Mixed Case", "a,b", `q"t`, "new col"}},
		{Ref: model.UpstreamRef{Schema: "public", Table: "u"}, Columns: []string{"x"}},
	}
	if diff := cmp.Diff(want, got, cmpIgnoreUpdatedAt); diff != "" {
		t.Fatalf("references after REFRESH REFERENCES (-want +got):\n%s", diff)
	}
	if !got[0].UpdatedAt.After(before[0].UpdatedAt) {
		t.Errorf("updated_at %s did not move past %s", got[0].UpdatedAt, before[0].UpdatedAt)
	}

	u, err := url.Parse(env.MaterializeURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("reader")
	rc, err := Connect(ctx, u.String(), "refresh references")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	_, err = RefreshReferences(ctx, MaterializeQuerier{Q: rc}, src)
	if err == nil || !strings.Contains(err.Error(), `refresh references of source "public"."pg"`) || !strings.Contains(err.Error(), "must be owner of SOURCE") {
		t.Fatalf("refresh as a non-owner: %v, want a must-be-owner error naming the source", err)
	}

	// Through the observer, as drift --refresh-references runs it: only
	// for a source whose upstream could not be read, and a failure is
	// added to why that source is unchecked.
	des := &model.Desired{Sources: []model.Source{{Name: "pg", Schema: "public", Publication: "mz_source", UpstreamURLEnv: "NOPE"}}}
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		name    string
		q       Querier
		wantRef bool
		wantWhy string
	}{
		{"owner", conn, true, "environment variable NOPE is not set"},
		{"non-owner", rc, false, "environment variable NOPE is not set; REFRESH REFERENCES fallback failed: refresh references of source \"public\".\"pg\": "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &Observer{Conn: func(context.Context) (Querier, error) { return tc.q, nil }, Desired: des, LookupEnv: noEnv, RefreshReferences: true}
			got, err := o.Observe(ctx)
			if got == nil {
				t.Fatal(err)
			}
			if _, ok := got.References["pg"]; ok != tc.wantRef {
				t.Errorf("references %+v, want present=%v", got.References, tc.wantRef)
			}
			if why := got.UpstreamErrors["pg"]; !strings.HasPrefix(why, tc.wantWhy) {
				t.Errorf("why = %q, want it to start with %q", why, tc.wantWhy)
			}
		})
	}
}

var cmpIgnoreUpdatedAt = cmp.Transformer("noUpdatedAt", func(r model.SourceReference) model.SourceReference {
	r.UpdatedAt = time.Time{}
	return r
})
