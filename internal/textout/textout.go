package textout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// ASCII escapes every non-ASCII and control character as \uXXXX (names may
// hold any), so text output is plain ASCII and a name cannot break or start
// a line.
func ASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x7f || s[i] < 0x20 {
			var b strings.Builder
			for _, r := range s {
				if r < 0x20 || r >= 0x7f {
					fmt.Fprintf(&b, "\\u%04x", r)
					continue
				}
				b.WriteRune(r)
			}
			return b.String()
		}
	}
	return s
}

// ASCIILines is ASCII applied to each line of s, keeping the line breaks.
func ASCIILines(s string) string {
	ls := strings.Split(s, "\n")
	for i := range ls {
		ls[i] = ASCII(ls[i])
	}
	return strings.Join(ls, "\n")
}

var (
	mdCode = strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ")
	mdText = strings.NewReplacer("&", "&amp;", "|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "&#96;")
	html   = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
)

// MarkdownCode makes s safe inside a one-backtick code span in a table
// cell: no backtick, no cell break, one line.
func MarkdownCode(s string) string { return mdCode.Replace(s) }

// MarkdownText makes s safe as Markdown text in a table cell or a list
// item: no HTML, no code spans, no cell breaks, one line.
func MarkdownText(s string) string { return mdText.Replace(s) }

// HTML escapes s for HTML text (e.g. a <details> summary).
func HTML(s string) string { return html.Replace(s) }

// TruncateUTF8 cuts s to at most n bytes without splitting a character.
func TruncateUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// WriteJSON writes v as two-space indented JSON with a final newline,
// without HTML escaping (SQL holds < and >).
func WriteJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// Fit renders a document of rows and blocks (e.g. a Markdown table and
// collapsible details) within maxBytes. compose renders the document with
// the first r rows and b blocks, including any note about what it left
// out. Fit keeps everything when it fits; otherwise it leaves out blocks
// from the end first, then rows, keeping as many as fit, and as a last
// resort cuts the text at maxBytes. maxBytes <= 0 means no cap. compose is
// called O(log n) times, never once per row.
func Fit(maxBytes, rows, blocks int, compose func(r, b int) string) string {
	out := compose(rows, blocks)
	if maxBytes <= 0 || len(out) <= maxBytes {
		return out
	}
	fits := func(r, b int) bool { return len(compose(r, b)) <= maxBytes }
	r, b := rows, 0
	if fits(rows, 0) {
		// The most blocks that fit beside every row (fewer than all).
		lo, hi := 0, blocks-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if fits(rows, mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		b = lo
	} else {
		lo, hi := 0, rows-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if fits(mid, 0) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		r = lo
	}
	return TruncateUTF8(compose(r, b), maxBytes)
}
