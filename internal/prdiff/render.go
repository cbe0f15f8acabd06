package prdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// FormatVersion is the version of RenderJSON's format. It changes only when
// a field changes meaning or goes away; new fields keep it.
const FormatVersion = 1

// Marker is the first line of every Markdown rendering, an HTML comment
// that GitHub and GitLab do not display. A CI step finds its earlier
// comment by it and updates that comment instead of adding another.
const Marker = "<!-- mzsync-diff -->"

// DefaultMarkdownLimit keeps a rendering inside one pull-request comment
// (GitHub caps comments at 65,536 characters, GitLab notes at 1,000,000).
const DefaultMarkdownLimit = 60000

// label names a side for display: the ref the user gave and its abbreviated
// revision, or the working tree.
func (s Side) label() string {
	var b strings.Builder
	if s.Ref == "" {
		b.WriteString("the working tree")
	} else {
		b.WriteString(s.Ref)
	}
	if s.Revision != "" {
		b.WriteString(" (" + Abbrev(s.Revision) + ")")
	}
	if s.Empty {
		b.WriteString(" (no manifests)")
	}
	return b.String()
}

// Abbrev shortens a commit hash to 12 hex digits and a content hash to
// sha256: and 12 hex digits; other revisions are returned as they are.
func Abbrev(rev string) string {
	hex, prefix := rev, ""
	if h, ok := strings.CutPrefix(rev, "sha256:"); ok {
		hex, prefix = h, "sha256:"
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return prefix + hex
}

// RenderText writes the report as ASCII text: the two revisions, one line
// per finding (severity, kind, message) with its details indented below,
// the head's versions after the merge, and the summary line.
func RenderText(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "mzsync diff: base %s -> head %s\n\n", ascii(r.Base.label()), ascii(r.Head.label()))
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%-7s %-17s %s\n", f.Severity, f.Kind, ascii(f.Message))
		for _, d := range f.Details {
			fmt.Fprintf(&b, "%26s- %s\n", "", ascii(d))
		}
	}
	if len(r.Findings) > 0 {
		b.WriteByte('\n')
	}
	for _, s := range r.Schemas {
		var vs []string
		for _, v := range s.Versions {
			vs = append(vs, v.Name+" "+string(v.Role))
		}
		fmt.Fprintf(&b, "after the merge, schema %s: %s\n", ascii(s.Name), ascii(strings.Join(vs, ", ")))
	}
	if len(r.Schemas) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(r.Summary().String())
	b.WriteByte('\n')
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// ascii escapes every non-ASCII and control character (names may hold
// any), so text output is plain ASCII and a name cannot start a line.
func ascii(s string) string {
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

type jsonSide struct {
	Ref      string `json:"ref"`
	Revision string `json:"revision"`
	Empty    bool   `json:"empty"`
}

type jsonFinding struct {
	Severity Severity `json:"severity"`
	Kind     Kind     `json:"kind"`
	Subject  string   `json:"subject"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Switch   Switch   `json:"switch"`
	Message  string   `json:"message"`
	Details  []string `json:"details"`
}

type jsonVersion struct {
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Digest string `json:"digest"`
}

type jsonSchema struct {
	Name     string        `json:"name"`
	Active   string        `json:"active"`
	Retain   int           `json:"retain"`
	Versions []jsonVersion `json:"versions"`
}

type jsonReport struct {
	FormatVersion int           `json:"format_version"`
	Base          jsonSide      `json:"base"`
	Head          jsonSide      `json:"head"`
	Empty         bool          `json:"empty"`
	Summary       Summary       `json:"summary"`
	Findings      []jsonFinding `json:"findings"`
	Schemas       []jsonSchema  `json:"schemas"`
}

// RenderJSON writes the report as indented JSON with format_version 1.
// Every field is always present (empty lists as []), and the output is
// deterministic.
func RenderJSON(w io.Writer, r *Report) error {
	out := jsonReport{
		FormatVersion: FormatVersion,
		Base:          jsonSide(r.Base),
		Head:          jsonSide(r.Head),
		Empty:         r.Empty(),
		Summary:       r.Summary(),
		Findings:      []jsonFinding{},
		Schemas:       []jsonSchema{},
	}
	for _, f := range r.Findings {
		out.Findings = append(out.Findings, jsonFinding{
			Severity: f.Severity, Kind: f.Kind, Subject: f.Subject, From: f.From, To: f.To,
			Switch: f.Switch, Message: f.Message, Details: append([]string{}, f.Details...),
		})
	}
	for _, s := range r.Schemas {
		js := jsonSchema{Name: s.Name, Active: s.Active, Retain: s.Retain, Versions: []jsonVersion{}}
		for _, v := range s.Versions {
			js.Versions = append(js.Versions, jsonVersion(v))
		}
		out.Schemas = append(out.Schemas, js)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode diff: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// RenderMarkdown writes the report for a pull-request comment: Marker on
// the first line, a heading with the summary, a table of findings, each
// finding's details and the versions after the merge in collapsible
// blocks. When the whole would exceed maxBytes, collapsible blocks and then
// table rows are left out from the end, and a note says how many; the
// marker, heading and summary always stay. maxBytes <= 0 means no cap.
func RenderMarkdown(w io.Writer, r *Report, maxBytes int) error {
	sum := r.Summary()
	var head strings.Builder
	head.WriteString(Marker + "\n")
	head.WriteString("### mzsync diff\n\n")
	fmt.Fprintf(&head, "Base %s, head %s. Offline: the manifests of both revisions are compared; no Materialize environment is contacted.\n\n",
		mdSide(r.Base), mdSide(r.Head))
	head.WriteString("**" + sum.String() + "**")
	if sum.Errors > 0 {
		head.WriteString(" Fix the errors before merging.")
	}
	head.WriteString("\n")

	var rows []string
	for i, f := range r.Findings {
		sev := string(f.Severity)
		if f.Severity == Error {
			sev = "**error**"
		}
		rows = append(rows, fmt.Sprintf("| %d | %s | `%s` | %s |\n", i+1, sev, mdCode(f.Subject), mdText(f.Message)))
	}
	var blocks []string
	for i, f := range r.Findings {
		if len(f.Details) == 0 {
			continue
		}
		var s strings.Builder
		fmt.Fprintf(&s, "<details><summary>%d. %s: %s</summary>\n\n", i+1, mdText(f.Subject), f.Kind)
		for _, d := range f.Details {
			s.WriteString("- " + mdText(d) + "\n")
		}
		s.WriteString("\n</details>\n")
		blocks = append(blocks, s.String())
	}
	if len(r.Schemas) > 0 {
		var s strings.Builder
		s.WriteString("<details><summary>Versions after the merge</summary>\n\n")
		s.WriteString("| schema | version | role |\n|---|---|---|\n")
		for _, sc := range r.Schemas {
			for _, v := range sc.Versions {
				fmt.Fprintf(&s, "| `%s` | `%s` | %s |\n", mdCode(sc.Name), mdCode(v.Name), v.Role)
			}
		}
		s.WriteString("\n</details>\n")
		blocks = append(blocks, s.String())
	}

	const tableHead = "| # | severity | subject | change |\n|---|---|---|---|\n"
	note := func(rowsLeft, blocksLeft int) string {
		if rowsLeft == 0 && blocksLeft == 0 {
			return ""
		}
		return fmt.Sprintf("\n> Output capped at %d bytes: %d more finding(s) and %d detail block(s) not shown. Run `mzsync diff` for the full report.\n", maxBytes, rowsLeft, blocksLeft)
	}
	compose := func(nRows, nBlocks int) string {
		var b strings.Builder
		b.WriteString(head.String())
		if nRows > 0 {
			b.WriteString("\n" + tableHead)
			for _, row := range rows[:nRows] {
				b.WriteString(row)
			}
		}
		if nBlocks > 0 {
			b.WriteByte('\n')
			for _, blk := range blocks[:nBlocks] {
				b.WriteString(blk)
			}
		}
		b.WriteString(note(len(rows)-nRows, len(blocks)-nBlocks))
		return b.String()
	}
	nRows, nBlocks := len(rows), len(blocks)
	if maxBytes > 0 {
		// Sizes without composing: the fixed part plus running sums.
		size := func(nr, nb int) int {
			n := head.Len() + len(note(len(rows)-nr, len(blocks)-nb))
			if nr > 0 {
				n += 1 + len(tableHead)
			}
			if nb > 0 {
				n++
			}
			for _, row := range rows[:nr] {
				n += len(row)
			}
			for _, blk := range blocks[:nb] {
				n += len(blk)
			}
			return n
		}
		for nBlocks > 0 && size(nRows, nBlocks) > maxBytes {
			nBlocks--
		}
		for nRows > 0 && size(nRows, nBlocks) > maxBytes {
			nRows--
		}
	}
	out := compose(nRows, nBlocks)
	if maxBytes > 0 && len(out) > maxBytes {
		out = truncateUTF8(out, maxBytes)
	}
	if _, err := io.WriteString(w, out); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

func mdSide(s Side) string {
	var b strings.Builder
	if s.Ref == "" {
		b.WriteString("the working tree")
	} else {
		b.WriteString("`" + mdCode(s.Ref) + "`")
	}
	if s.Revision != "" {
		b.WriteString(" (`" + mdCode(Abbrev(s.Revision)) + "`)")
	}
	if s.Empty {
		b.WriteString(" (no manifests)")
	}
	return b.String()
}

// mdCode makes s safe inside a one-backtick code span in a table cell.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

// mdText makes s safe as Markdown text in a table cell or a list item:
// no HTML, no code spans, no table breaks, one line.
func mdText(s string) string {
	return strings.NewReplacer("&", "&amp;", "|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "&#96;").Replace(s)
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
