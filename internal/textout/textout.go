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
