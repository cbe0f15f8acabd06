package reconcile

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/golden"
	"github.com/mzsync/mzsync/internal/model"
)

// renderPlans are the plans the renderers are checked on: a forward plan
// with every executable op, a plan of findings only, and an empty plan.
func renderPlans(t *testing.T) map[string]*Plan {
	t.Helper()
	plans := map[string]*Plan{}

	c := newSimCatalog(t).deploy(fxDesired("v1", 0, fxV1()), Options{})
	p, err := Diff(c.obs, fxDesired("v2", 0, fxV2()), Options{AllowDrop: true})
	if err != nil {
		t.Fatal(err)
	}
	plans["forward"] = p

	c = newSimCatalog(t).deploy(fxDesired("v1", 0, fxV1()), Options{})
	c.dropObject("app", "matview_total_idx")
	mustExec(c, `CREATE VIEW "app"."hand|made<b>" AS SELECT 1`)
	c.fingerprint()
	p, err = Diff(c.obs, fxDesired("v1", 0, fxV1()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	plans["findings"] = p

	p, err = Diff(c.obs, &model.Desired{Revision: "r0", Sources: fxDesired("v1", 0).Sources}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plans["empty"] = p
	return plans
}

func TestRenderGolden(t *testing.T) {
	for name, p := range renderPlans(t) {
		for _, f := range []struct {
			ext    string
			render func(*bytes.Buffer, *Plan) error
		}{
			{"txt", func(b *bytes.Buffer, p *Plan) error { return RenderText(b, p) }},
			{"json", func(b *bytes.Buffer, p *Plan) error { return RenderJSON(b, p) }},
			{"md", func(b *bytes.Buffer, p *Plan) error { return RenderMarkdown(b, p, 65536) }},
		} {
			t.Run(name+"."+f.ext, func(t *testing.T) {
				var a, b bytes.Buffer
				if err := f.render(&a, p); err != nil {
					t.Fatal(err)
				}
				if err := f.render(&b, p); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Error("two renderings of one plan differ")
				}
				golden.Check(t, "render/"+name+"."+f.ext, a.Bytes())
			})
		}
	}
}

func TestRenderTextIsASCII(t *testing.T) {
	p := &Plan{Changes: []Change{{Op: OpIgnored, Kind: "view", Target: "app.caf\u00e9\nx", Reason: "not owned"}}}
	var b bytes.Buffer
	if err := RenderText(&b, p); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.String() {
		if r >= 0x80 {
			t.Fatalf("non-ASCII output: %q", b.String())
		}
	}
	if got := strings.Count(b.String(), "\n"); got != 3 {
		t.Errorf("a name with a newline broke the one-line-per-change rule: %q", b.String())
	}
	if !strings.HasSuffix(b.String(), "No changes. Findings: 1 ignored.\n") {
		t.Errorf("summary: %q", b.String())
	}
}

func TestRenderJSONShape(t *testing.T) {
	p := renderPlans(t)["forward"]
	var b bytes.Buffer
	if err := RenderJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	var got struct {
		FormatVersion int    `json:"format_version"`
		Revision      string `json:"revision"`
		Fingerprint   string `json:"fingerprint"`
		Changes       []struct {
			Op          string   `json:"op"`
			SQL         []string `json:"sql"`
			Destructive bool     `json:"destructive"`
		} `json:"changes"`
		Summary Summary `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.FormatVersion != 1 || got.Revision != p.Revision || got.Fingerprint != p.Fingerprint || len(got.Changes) != len(p.Changes) {
		t.Errorf("header: %+v", got)
	}
	last := got.Changes[len(got.Changes)-1]
	if last.Op != "drop" || !last.Destructive || len(last.SQL) != 1 {
		t.Errorf("last change: %+v", last)
	}
	if diff := cmp.Diff(Summary{Create: 5, Comment: 1, Record: 2, Wait: 1, Swap: 1, Drop: 1}, got.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestRenderMarkdownCap(t *testing.T) {
	p := renderPlans(t)["forward"]
	var full bytes.Buffer
	if err := RenderMarkdown(&full, p, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		max      int
		contains []string
		absent   []string
	}{
		{"no cap shows everything", 0, []string{"<details>", "DROP SCHEMA"}, []string{"Output capped"}},
		{"a cap above the size changes nothing", full.Len(), []string{"DROP SCHEMA"}, []string{"Output capped"}},
		{"SQL goes first", full.Len() - 10, []string{"| 11 | drop |", "Output capped at", "0 more change(s) and 2 SQL block(s)"}, []string{"DROP SCHEMA"}},
		{"then rows", 900, []string{"Output capped at 900 bytes", "Plan: 6 to create"}, []string{"<details>", "| 11 |"}},
		{"a tiny cap is still honoured", 40, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := RenderMarkdown(&b, p, tt.max); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if tt.max > 0 && len(out) > tt.max {
				t.Errorf("%d bytes, cap %d", len(out), tt.max)
			}
			if !utf8.ValidString(out) {
				t.Error("invalid UTF-8")
			}
			for _, s := range tt.contains {
				if !strings.Contains(out, s) {
					t.Errorf("missing %q in:\n%s", s, out)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(out, s) {
					t.Errorf("unexpected %q in:\n%s", s, out)
				}
			}
		})
	}
}
