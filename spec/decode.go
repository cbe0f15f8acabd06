package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// MaxFileSize is the largest manifest file Decode accepts. Manifests are
// small; the limit keeps memory bounded on hostile input.
const MaxFileSize = 1 << 20

// Decode strictly decodes every document of one manifest file. file names
// the file in errors. Unknown fields, wrong types, duplicate keys, YAML
// aliases and unknown kinds or apiVersions are errors; every problem found
// is returned, joined. Empty documents are skipped. Decode does not check
// field values or references: that is Validate's job.
func Decode(file string, data []byte) ([]*Manifest, error) {
	fileErr := func(line int, format string, args ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxFileSize {
		return nil, fileErr(0, "file is %d bytes, more than the %d a manifest may have", len(data), MaxFileSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, fileErr(invalidUTF8Line(data), "not valid UTF-8 text")
	}
	var (
		out  []*Manifest
		errs []error
	)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := splitYAMLError(err)
			if line > 0 && tabIndented(data, line) {
				msg += " (a tab is used for indentation; YAML indents with spaces)"
			}
			errs = append(errs, &Error{File: file, Document: doc, Line: line, Msg: "invalid YAML: " + msg})
			break // the parser cannot resynchronize after a syntax error
		}
		root := &n
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document, e.g. only comments
		}
		m := &Manifest{File: file, Document: doc, Line: root.Line, lines: map[string]int{}}
		d := &decoder{errs: errList{m: m}, lines: m.lines}
		d.document(root, m)
		if len(d.errs.errs) > 0 {
			errs = append(errs, d.errs.errs...)
			continue
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func splitYAMLError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// tabIndented reports whether line (1-based) or the one before it starts
// with a tab in its indentation.
func tabIndented(data []byte, line int) bool {
	lines := bytes.Split(data, []byte("\n"))
	for _, l := range []int{line - 1, line - 2} {
		if l < 0 || l >= len(lines) {
			continue
		}
		for _, c := range lines[l] {
			if c == '\t' {
				return true
			}
			if c != ' ' {
				break
			}
		}
	}
	return false
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

type decoder struct {
	errs  errList
	lines map[string]int
}

func (d *decoder) document(root *yaml.Node, m *Manifest) {
	if root.Kind != yaml.MappingNode {
		d.errs.addAt(root.Line, "", "a manifest document must be a mapping with apiVersion, kind, metadata and spec, found %s", describe(root))
		return
	}
	var env document
	var spec *yaml.Node
	pairs := d.pairs(root, "")
	var rest []*yaml.Node
	for _, p := range pairs {
		if p[0].Value == "spec" {
			spec = p[1]
			d.lines["spec"] = p[0].Line
			continue
		}
		rest = append(rest, p[0], p[1])
	}
	d.structFields(rest, reflect.ValueOf(&env).Elem(), "")
	m.APIVersion, m.Kind, m.Metadata = env.APIVersion, env.Kind, env.Metadata
	if _, ok := d.lines["apiVersion"]; !ok {
		d.errs.addAt(root.Line, "apiVersion", "required (%s)", APIVersion)
	} else if env.APIVersion != APIVersion {
		d.errs.add("apiVersion", "unknown apiVersion %q, want %s", env.APIVersion, APIVersion)
	}
	var target any
	switch env.Kind {
	case KindSource:
		m.Source = &SourceSpec{}
		target = m.Source
	case KindSchema:
		m.Schema = &SchemaSpec{}
		target = m.Schema
	case KindVersion:
		m.Version = &VersionSpec{}
		target = m.Version
	case "":
		d.errs.addAt(root.Line, "kind", "required (Source, Schema or Version)")
		return
	default:
		d.errs.add("kind", "unknown kind %q, want Source, Schema or Version", env.Kind)
		return
	}
	if spec == nil || isNull(spec) {
		d.errs.addAt(root.Line, "spec", "required")
		return
	}
	d.value(spec, reflect.ValueOf(target).Elem(), "spec")
}

// pairs returns the key/value pairs of a mapping, reporting non-string and
// duplicate keys.
func (d *decoder) pairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!merge") {
			d.errs.addAt(k.Line, path, "keys must be strings, found %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errs.addAt(k.Line, path, "merge keys (<<) are not allowed")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errs.addAt(k.Line, join(path, k.Value), "duplicate key (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", clip(n.Value))
	case "!!int", "!!float":
		return "the number " + clip(n.Value)
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%q tagged %s", clip(n.Value), n.Tag)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// value decodes n into v, which must be one of the shapes the spec types
// use: strings, bools, ints, pointers, slices and structs with json tags.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		d.errs.addAt(n.Line, path, "YAML aliases are not allowed")
		return
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if isNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.errs.addAt(n.Line, path, "expected a string, found %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errs.addAt(n.Line, path, "expected true or false, found %s", describe(n))
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			d.errs.addAt(n.Line, path, "expected true or false, found %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.errs.addAt(n.Line, path, "expected an integer, found %s", describe(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil {
			d.errs.addAt(n.Line, path, "expected an integer that fits 32 bits, found %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errs.addAt(n.Line, path, "expected a list, found %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.errs.addAt(n.Line, path, "expected a mapping, found %s", describe(n))
			return
		}
		var flat []*yaml.Node
		for _, p := range d.pairs(n, path) {
			flat = append(flat, p[0], p[1])
		}
		d.structFields(flat, v, path)
	default:
		panic("spec: unsupported field type " + v.Type().String())
	}
}

// structFields decodes alternating key/value nodes into the fields of the
// struct v, by json tag; unknown keys are errors.
func (d *decoder) structFields(kv []*yaml.Node, v reflect.Value, path string) {
	fields := fieldsOf(v.Type())
	for i := 0; i+1 < len(kv); i += 2 {
		k, val := kv[i], kv[i+1]
		idx, ok := fields[k.Value]
		fp := join(path, k.Value)
		if !ok {
			d.errs.addAt(k.Line, fp, "unknown field%s", suggest(k.Value, fields))
			continue
		}
		d.lines[fp] = k.Line
		d.value(val, v.Field(idx), fp)
	}
}

// fieldsOf maps json names to field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// suggest names a known field that differs from name only in case, the
// usual slip (textcolumns for textColumns).
func suggest(name string, fields map[string]int) string {
	for f := range fields {
		if strings.EqualFold(f, name) {
			return fmt.Sprintf(" (did you mean %q?)", f)
		}
	}
	return ""
}
