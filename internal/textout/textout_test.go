package textout

import (
	"bytes"
	"fmt"
	"strings"
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

func TestFit(t *testing.T) {
	row, block := "row-line\n", "block-block-block\n"
	compose := func(r, b int) string {
		s := "head\n" + strings.Repeat(row, r) + strings.Repeat(block, b)
		if r < 10 || b < 4 {
			s += fmt.Sprintf("(%d rows, %d blocks left out)\n", 10-r, 4-b)
		}
		return s
	}
	// The policy, by brute force: everything if it fits; else the most
	// blocks beside every row; else the most rows without blocks.
	oracle := func(max int) string {
		if max <= 0 || len(compose(10, 4)) <= max {
			return compose(10, 4)
		}
		for b := 3; b >= 0; b-- {
			if len(compose(10, b)) <= max {
				return compose(10, b)
			}
		}
		for r := 9; r >= 0; r-- {
			if len(compose(r, 0)) <= max {
				return compose(r, 0)
			}
		}
		return TruncateUTF8(compose(0, 0), max)
	}
	for max := 0; max <= len(compose(10, 4))+2; max++ {
		if got, want := Fit(max, 10, 4, compose), oracle(max); got != want {
			t.Fatalf("Fit(%d) = %q, want %q", max, got, want)
		}
	}
	if got := Fit(3, 10, 4, compose); len(got) > 3 {
		t.Fatalf("nothing fits: got %q, longer than the cap", got)
	}
}
