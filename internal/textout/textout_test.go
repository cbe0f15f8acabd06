package textout

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestASCII(t *testing.T) {
	cases := map[string]string{
		"app_v2.t":   "app_v2.t",
		"caf\u00e9":  `caf\u00e9`,
		"a\nDROP":    `a\u000aDROP`,
		"tab\there":  `tab\u0009here`,
		"del\x7fete": `del\u007fete`,
	}
	for in, want := range cases {
		if got := ASCII(in); got != want {
			t.Errorf("ASCII(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ASCIILines("a\n\u00e9"); got != "a\n\\u00e9" {
		t.Errorf("ASCIILines kept %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	if got := MarkdownCode("a`b|c\nd"); got != `a'b\|c d` {
		t.Errorf("MarkdownCode = %q", got)
	}
	if got := MarkdownText("<script>|`x`&"); got != `&lt;script&gt;\|&#96;x&#96;&amp;` {
		t.Errorf("MarkdownText = %q", got)
	}
	if got := HTML("a<b>&"); got != "a&lt;b&gt;&amp;" {
		t.Errorf("HTML = %q", got)
	}
}

func TestTruncateUTF8(t *testing.T) {
	s := "ab\u00e9\u00e9"
	for n := 0; n <= len(s)+1; n++ {
		got := TruncateUTF8(s, n)
		if len(got) > n || !utf8.ValidString(got) {
			t.Fatalf("TruncateUTF8(%q, %d) = %q", s, n, got)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, map[string]string{"sql": "a < b"}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "{\n  \"sql\": \"a < b\"\n}\n"; got != want {
		t.Fatalf("WriteJSON = %q, want %q", got, want)
	}
}
