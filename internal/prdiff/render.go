package prdiff

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/mzsync/mzsync/internal/textout"
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
	fmt.Fprintf(&b, "mzsync diff: base %s -> head %s\n\n", textout.ASCII(r.Base.label()), textout.ASCII(r.Head.label()))
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%-7s %-17s %s\n", f.Severity, f.Kind, textout.ASCII(f.Message))
		for _, d := range f.Details {
			fmt.Fprintf(&b, "%26s- %s\n", "", textout.ASCII(d))
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
		fmt.Fprintf(&b, "after the merge, schema %s: %s\n", textout.ASCII(s.Name), textout.ASCII(strings.Join(vs, ", ")))
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
	return textout.WriteJSON(w, out)
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
		rows = append(rows, fmt.Sprintf("| %d | %s | `%s` | %s |\n", i+1, sev, textout.MarkdownCode(f.Subject), textout.MarkdownText(f.Message)))
	}
	var blocks []string
	for i, f := range r.Findings {
		if len(f.Details) == 0 {
			continue
		}
		var s strings.Builder
		fmt.Fprintf(&s, "<details><summary>%d. %s: %s</summary>\n\n", i+1, textout.MarkdownText(f.Subject), f.Kind)
		for _, d := range f.Details {
			s.WriteString("- " + textout.MarkdownText(d) + "\n")
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
				fmt.Fprintf(&s, "| `%s` | `%s` | %s |\n", textout.MarkdownCode(sc.Name), textout.MarkdownCode(v.Name), v.Role)
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
	out := textout.Fit(maxBytes, len(rows), len(blocks), compose)
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
		b.WriteString("`" + textout.MarkdownCode(s.Ref) + "`")
	}
	if s.Revision != "" {
		b.WriteString(" (`" + textout.MarkdownCode(Abbrev(s.Revision)) + "`)")
	}
	if s.Empty {
		b.WriteString(" (no manifests)")
	}
	return b.String()
}
