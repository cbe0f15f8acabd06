package mzemu

import (
	"sort"
	"strings"
)

// option is one WITH (...) or connection option: NAME [=] value.
type option struct {
	name  string // upper case, words joined by one space
	kind  string // "string", "number", "ident", "secret", "list", "bool", "none", "for"
	str   string
	parts []string // ident / secret names
	list  []string
}

var knownOptions = []string{
	"HOST", "PORT", "DATABASE", "USER", "PASSWORD", "SSL MODE", "SSL CERTIFICATE AUTHORITY", "SSL CERTIFICATE", "SSL KEY",
	"SSH TUNNEL", "AWS PRIVATELINK", "BROKER", "BROKERS", "PUBLICATION", "TEXT COLUMNS", "EXCLUDE COLUMNS", "IGNORE COLUMNS",
	"DETAILS", "VALIDATE", "REFERENCE", "PARTITION BY", "RETAIN HISTORY", "TIMESTAMP INTERVAL", "SIZE", "REPLICATION FACTOR",
	"ASSERT NOT NULL", "REFRESH", "DISK", "INTROSPECTION INTERVAL", "INTROSPECTION DEBUGGING", "SCHEDULE", "MANAGED",
	"AVAILABILITY ZONES", "REPLICAS",
}

func init() {
	sort.Slice(knownOptions, func(i, j int) bool { return len(knownOptions[i]) > len(knownOptions[j]) })
}

// optionName reads an option name, preferring the longest known one.
func (p *parser) optionName() (string, error) {
	for _, k := range knownOptions {
		ws := strings.Fields(strings.ToLower(k))
		if p.words(ws...) {
			return k, nil
		}
	}
	t := p.peek()
	if t.kind == tokWord {
		p.pos++
		return strings.ToUpper(t.val), nil
	}
	return "", p.errExpected("option name")
}

// options parses ( opt [, ...] ); the opening parenthesis is next.
func (p *parser) options() ([]option, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []option
	if p.op(")") {
		return out, nil
	}
	for {
		name, err := p.optionName()
		if err != nil {
			return nil, err
		}
		p.op("=")
		o := option{name: name}
		t := p.peek()
		switch {
		case t.isOp(",") || t.isOp(")"):
			o.kind = "none"
		case t.isWord("secret"):
			p.next()
			o.kind = "secret"
			if o.parts, err = p.objName(); err != nil {
				return nil, err
			}
		case t.isWord("for") && name == "RETAIN HISTORY":
			p.next()
			o.kind = "for"
			o.str = p.next().val
		case t.kind == tokString:
			p.next()
			o.kind, o.str = "string", t.val
		case t.kind == tokNumber:
			p.next()
			o.kind, o.str = "number", t.val
		case t.isWord("true") || t.isWord("false"):
			p.next()
			o.kind, o.str = "bool", t.val
		case t.isOp("("):
			p.next()
			o.kind = "list"
			depth := 1
			var cur strings.Builder
			for depth > 0 && !p.atEnd() {
				t := p.next()
				switch {
				case t.isOp("("):
					depth++
				case t.isOp(")"):
					depth--
					if depth == 0 {
						continue
					}
				case t.isOp(",") && depth == 1:
					o.list = append(o.list, cur.String())
					cur.Reset()
					continue
				}
				if depth >= 1 {
					if t.kind == tokWord || t.kind == tokIdent {
						if cur.Len() > 0 && !strings.HasSuffix(cur.String(), ".") {
							cur.WriteString(" ")
						}
						cur.WriteString(t.val)
					} else {
						cur.WriteString(p.text[t.start:t.end])
					}
				}
			}
			if cur.Len() > 0 {
				o.list = append(o.list, cur.String())
			}
		case t.kind == tokWord || t.kind == tokIdent:
			o.kind = "ident"
			if o.parts, err = p.objName(); err != nil {
				return nil, err
			}
			o.str = strings.Join(o.parts, ".")
		default:
			return nil, p.errExpected("option value")
		}
		out = append(out, o)
		if p.op(")") {
			return out, nil
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
}
