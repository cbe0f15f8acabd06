package prdiff

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mzsync/mzsync/internal/golden"
	"github.com/mzsync/mzsync/internal/model"
)

// renderReports are the reports the renderers are checked on: a merge with
// a finding of every severity and details, a first deployment into an
// empty base, and a merge without changes.
func renderReports() map[string]*Report {
	base := desiredState("0123456789abcdef0123456789abcdef01234567",
		[]model.Source{source("a"), source("pg")}, schema("v2", 1, v1(), v2()))
	changed := ver("v1", table("t"), matview("matview", "SELECT sum(a) + 1 AS total FROM t"))
	head := desiredState("sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		[]model.Source{source("pg")}, schema("v3", 1, changed, v2(), ver("v3", v2().Objects...)))
	full := Compare(base, head)
	full.Base.Ref = "origin/main"

	first := Compare(nil, one("89abcdef0123456789abcdef0123456789abcdef", schema("v1", 1, v1())))
	first.Base.Ref = "HEAD~1"
	first.Head.Ref = "HEAD"

	same := Compare(one("r1", schema("v1", 1, v1())), one("r2", schema("v1", 1, v1())))
	same.Base.Ref, same.Head.Ref = "main", "feature"
	return map[string]*Report{"full": full, "first": first, "same": same}
}

func TestRenderGolden(t *testing.T) {
	for name, r := range renderReports() {
		for _, f := range []struct {
			ext    string
			render func(*bytes.Buffer, *Report) error
		}{
			{"txt", func(b *bytes.Buffer, r *Report) error { return RenderText(b, r) }},
			{"json", func(b *bytes.Buffer, r *Report) error { return RenderJSON(b, r) }},
			{"md", func(b *bytes.Buffer, r *Report) error { return RenderMarkdown(b, r, DefaultMarkdownLimit) }},
		} {
			t.Run(name+"."+f.ext, func(t *testing.T) {
				var a, b bytes.Buffer
				if err := f.render(&a, r); err != nil {
					t.Fatal(err)
				}
				if err := f.render(&b, r); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Error("two renderings of one report differ")
				}
				golden.Check(t, name+"."+f.ext, a.Bytes())
			})
		}
	}
}

func TestRenderJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := RenderJSON(&b, renderReports()["same"]); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["format_version"] != float64(FormatVersion) {
		t.Errorf("format_version = %v, want %d", got["format_version"], FormatVersion)
	}
	if f, ok := got["findings"].([]any); !ok || len(f) != 0 {
		t.Errorf("findings = %#v, want an empty list (never null)", got["findings"])
	}
	if got["empty"] != true {
		t.Errorf("empty = %v, want true", got["empty"])
	}
}

func TestRenderTextIsASCII(t *testing.T) {
	r := &Report{Findings: []Finding{{Severity: Info, Kind: VersionAdded, Subject: "caf\u00e9/v1",
		Message: "caf\u00e9/v1 added\nerror forged line", Details: []string{"tab\there"}}}}
	var b bytes.Buffer
	if err := RenderText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, c := range b.String() {
		if c >= 0x80 || (c < 0x20 && c != '\n') {
			t.Fatalf("non-ASCII or control character %q in text output:\n%s", c, b.String())
		}
	}
	if strings.Contains(b.String(), "\nerror forged line") {
		t.Errorf("a newline in a message started a line of its own:\n%s", b.String())
	}
}

func TestRenderMarkdownEscapes(t *testing.T) {
	r := &Report{Findings: []Finding{{Severity: Warning, Kind: SourceChanged, Subject: "we`ird|src",
		Message: "a <script> | b", Details: []string{"<img src=x>"}}}}
	var b bytes.Buffer
	if err := RenderMarkdown(&b, r, 0); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", "<img", "we`ird", "a <"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown holds unescaped %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, `a &lt;script&gt; \| b`) {
		t.Errorf("message not escaped as a table cell:\n%s", out)
	}
}

func TestRenderMarkdownCap(t *testing.T) {
	var fs []Finding
	for i := range 400 {
		fs = append(fs, Finding{Severity: Info, Kind: VersionAdded, Subject: "app/v" + strings.Repeat("9", i%7+1),
			Message: strings.Repeat("long message ", 10), Details: []string{strings.Repeat("detail ", 20)}})
	}
	r := &Report{Findings: fs, Base: Side{Ref: "main"}}
	var full bytes.Buffer
	if err := RenderMarkdown(&full, r, 0); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{100, 2000, 20000, 60000} {
		var b bytes.Buffer
		if err := RenderMarkdown(&b, r, limit); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if len(out) > limit {
			t.Errorf("limit %d: %d bytes", limit, len(out))
		}
		if !utf8.ValidString(out) {
			t.Errorf("limit %d: invalid UTF-8", limit)
		}
		if !strings.HasPrefix(out, Marker+"\n") {
			t.Errorf("limit %d: the marker is not the first line", limit)
		}
		if limit >= 2000 && !strings.Contains(out, "Output capped at") {
			t.Errorf("limit %d: no note that output was capped", limit)
		}
		if limit >= 2000 && !strings.Contains(out, "400 changes") {
			t.Errorf("limit %d: the summary is gone", limit)
		}
	}
	if full.Len() <= 60000 {
		t.Fatalf("the uncapped report (%d bytes) is too small to test the cap", full.Len())
	}
	// Under the cap, nothing is left out.
	var b bytes.Buffer
	if err := RenderMarkdown(&b, r, full.Len()); err != nil {
		t.Fatal(err)
	}
	if b.String() != full.String() {
		t.Error("a cap as large as the report changed it")
	}
}

func TestAbbrev(t *testing.T) {
	for in, want := range map[string]string{
		"0123456789abcdef0123456789abcdef01234567": "0123456789ab",
		"sha256:fedcba9876543210fedcba98":          "sha256:fedcba987654",
		"short":                                    "short",
		"":                                         "",
	} {
		if got := Abbrev(in); got != want {
			t.Errorf("Abbrev(%q) = %q, want %q", in, got, want)
		}
	}
}
