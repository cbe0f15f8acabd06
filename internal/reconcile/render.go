package reconcile

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/textout"
)

// PlanFormatVersion is the version of RenderJSON's format. It changes only
// when a field changes meaning or goes away; new fields keep it.
const PlanFormatVersion = 1

// RenderText writes the plan as ASCII text: one line per change with its
// op, kind, target and reason, then the summary line. The output is
// deterministic.
func RenderText(w io.Writer, p *Plan) error {
	var b bytes.Buffer
	for _, c := range p.Changes {
		line := fmt.Sprintf("%-8s %-18s %s: %s", c.Op, c.Kind, c.Target, c.Reason)
		if c.Destructive {
			line += " (destructive)"
		}
		b.WriteString(textout.ASCII(line))
		b.WriteByte('\n')
	}
	if len(p.Changes) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(textout.ASCII(p.Summary().String()))
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

type jsonPlan struct {
	FormatVersion int          `json:"format_version"`
	Revision      string       `json:"revision"`
	Fingerprint   string       `json:"fingerprint"`
	Empty         bool         `json:"empty"`
	Changes       []jsonChange `json:"changes"`
	Summary       Summary      `json:"summary"`
}

type jsonChange struct {
	Op          Op       `json:"op"`
	Kind        string   `json:"kind"`
	Target      string   `json:"target"`
	Version     string   `json:"version"`
	Objects     []string `json:"objects"`
	SQL         []string `json:"sql"`
	Transaction bool     `json:"transaction"`
	SearchPath  []string `json:"search_path"`
	Reason      string   `json:"reason"`
	Destructive bool     `json:"destructive"`
}

// RenderJSON writes the plan as indented JSON with format_version 1.
// Every field is always present (empty lists as []), so consumers need no
// special cases; the output is deterministic.
func RenderJSON(w io.Writer, p *Plan) error {
	out := jsonPlan{
		FormatVersion: PlanFormatVersion, Revision: p.Revision, Fingerprint: p.Fingerprint,
		Empty: p.Empty(), Changes: []jsonChange{}, Summary: p.Summary(),
	}
	for _, c := range p.Changes {
		jc := jsonChange{
			Op: c.Op, Kind: c.Kind, Target: c.Target, Objects: []string{}, SQL: []string{},
			Transaction: c.Transaction, SearchPath: []string{}, Reason: c.Reason, Destructive: c.Destructive,
		}
		if c.Version.Schema != "" {
			jc.Version = c.Version.String()
		}
		for _, o := range c.Objects {
			jc.Objects = append(jc.Objects, o.String())
		}
		jc.SQL = append(jc.SQL, c.SQL...)
		jc.SearchPath = append(jc.SearchPath, c.SearchPath...)
		out.Changes = append(out.Changes, jc)
	}
	return textout.WriteJSON(w, out)
}

// RenderMarkdown writes the plan for a pull-request comment: a heading, a
// table of changes, the summary, and each change's SQL in a collapsible
// block. When the whole would exceed maxBytes (GitHub caps comments at
// 65536), SQL blocks and then table rows are left out from the end and a
// note says how many; maxBytes <= 0 means no cap.
func RenderMarkdown(w io.Writer, p *Plan, maxBytes int) error {
	var head strings.Builder
	head.WriteString("### mzsync plan\n\n")
	fmt.Fprintf(&head, "Revision `%s`, computed from catalog fingerprint `%s`.\n\n", textout.MarkdownCode(p.Revision), textout.MarkdownCode(p.Fingerprint))
	summary := "**" + p.Summary().String() + "**\n"

	var rows []string
	for i, c := range p.Changes {
		reason := textout.MarkdownText(c.Reason)
		if c.Destructive {
			reason += " **(destructive)**"
		}
		rows = append(rows, fmt.Sprintf("| %d | %s | %s | `%s` | %s |\n", i+1, c.Op, c.Kind, textout.MarkdownCode(c.Target), reason))
	}
	var sqls []string
	for i, c := range p.Changes {
		if len(c.SQL) == 0 {
			continue
		}
		var s strings.Builder
		fmt.Fprintf(&s, "<details><summary>%d. %s %s</summary>\n\n", i+1, c.Op, textout.HTML(c.Target))
		fence := "```"
		for strings.Contains(strings.Join(c.SQL, "\n"), fence) {
			fence += "`"
		}
		s.WriteString(fence + "sql\n")
		if len(c.SearchPath) > 0 {
			fmt.Fprintf(&s, "SET search_path TO %s;\n", model.QuoteIdents(c.SearchPath))
		}
		if c.Transaction {
			s.WriteString("BEGIN;\n")
		}
		for _, stmt := range c.SQL {
			s.WriteString(stmt + ";\n")
		}
		if c.Transaction {
			s.WriteString("COMMIT;\n")
		}
		s.WriteString(fence + "\n\n</details>\n")
		sqls = append(sqls, s.String())
	}

	tableHead := "| # | op | kind | target | reason |\n|---|---|---|---|---|\n"
	note := func(rowsLeft, sqlLeft int) string {
		if rowsLeft == 0 && sqlLeft == 0 {
			return ""
		}
		return fmt.Sprintf("\n> Output capped at %d bytes: %d more change(s) and %d SQL block(s) not shown. Run `mzsync plan` for the full plan.\n", maxBytes, rowsLeft, sqlLeft)
	}
	compose := func(nRows, nSQL int) string {
		var b strings.Builder
		b.WriteString(head.String())
		if len(rows) > 0 {
			b.WriteString(tableHead)
			for _, r := range rows[:nRows] {
				b.WriteString(r)
			}
			b.WriteByte('\n')
		}
		b.WriteString(summary)
		if nSQL > 0 {
			b.WriteByte('\n')
			for _, s := range sqls[:nSQL] {
				b.WriteString(s)
			}
		}
		b.WriteString(note(len(rows)-nRows, len(sqls)-nSQL))
		return b.String()
	}
	out := textout.Fit(maxBytes, len(rows), len(sqls), compose)
	if _, err := io.WriteString(w, out); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}
